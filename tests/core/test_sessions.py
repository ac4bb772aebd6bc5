"""Several sessions in one latent space: the module, the fit, adding a session to a fitted
model, projects, the manifest and the command line."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.data import DataError
from mmgpvae_core.evaluation.recovery import cv_r2
from mmgpvae_core.loaders.manifest import read_manifest
from mmgpvae_core.model.module import is_session_own
from mmgpvae_core.model.sessions import PRECISION_SCALES, MultiSessionModule
from mmgpvae_core.synthetic.simulate import simulate_sessions, write_simulation


@pytest.fixture(scope="module")
def small():
    return simulate_sessions(n_neurons=(10, 18, 14), n_trials=10, n_time=30, seed=3)


@pytest.fixture(scope="module")
def recovery_sims():
    """Five sessions of one task; the model is fitted on four, the fifth joins it later."""
    return simulate_sessions(n_neurons=(30, 45, 60, 40, 25), n_trials=40, n_time=50, seed=1)


def _lists(sims):
    return [s.neural for s in sims], [s.behavior for s in sims]


def _pooled_r2(latents, truths):
    return cv_r2(np.concatenate(latents), np.concatenate(truths))


def _map(x, y):
    """Least-squares affine map (bins, d) → (bins, k)."""
    X = np.hstack([x.reshape(-1, x.shape[-1]), np.ones((x[..., 0].size, 1))])
    coef, *_ = np.linalg.lstsq(X, y.reshape(-1, y.shape[-1]), rcond=None)
    return coef


def _r2_through(coef, x, y):
    X = np.hstack([x.reshape(-1, x.shape[-1]), np.ones((x[..., 0].size, 1))])
    y = y.reshape(-1, y.shape[-1])
    return 1 - ((X @ coef - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()


# ---------------------------------------------------------------------------- the module
def test_sessions_share_every_tensor_but_their_own_read_in_and_read_out(small):
    neural, behavior = _lists(small)
    m = MMGPVAE(2, 1, 1, epochs=1).fit(neural, behavior, names=["a", "b", "c"])
    v0, v1 = m.multi_.sessions[0], m.multi_.sessions[1]
    assert v1.prior is v0.prior and v1.dec_behavior is v0.dec_behavior
    assert v1.enc_behavior is v0.enc_behavior
    assert v1.enc_neural.net[2] is v0.enc_neural.net[2]  # the trunk past the read-in
    assert v1.enc_neural.net[0] is not v0.enc_neural.net[0]
    assert v1.dec_neural.head.weight.shape == (18, 3)
    own1 = {id(p) for p in v1.own_parameters()}
    assert own1.isdisjoint(id(p) for p in v0.parameters())
    # each shared tensor once in the optimizer
    n_params = len(list(v0.parameters())) + sum(len(v.own_parameters()) for v in m.multi_.sessions[1:])
    assert len(list(m.multi_.parameters())) == n_params
    assert sum(len(g["params"]) for g in m.optimizer_.param_groups) == n_params


def test_one_session_fits_exactly_as_the_single_session_model(small):
    s = small[0]
    single = MMGPVAE(2, 1, 1, epochs=4, seed=2).fit(s.neural, s.behavior)
    multi = MMGPVAE(2, 1, 1, epochs=4, seed=2).fit([s.neural], [s.behavior], names=["only"])
    assert multi.is_multi_session and not single.is_multi_session
    np.testing.assert_allclose(multi.history.elbo, single.history.elbo, rtol=1e-5)
    np.testing.assert_allclose(
        multi.transform(session="only")["shared"], single.transform()["shared"], atol=1e-4
    )


def test_behavior_channels_must_match_across_sessions(small):
    neural, behavior = _lists(small)
    other = dataclasses.replace(
        behavior[1], data=behavior[1].data[..., :-2], channel_names=behavior[1].channel_names[:-2]
    )
    with pytest.raises(ValueError, match="session 'b'.*same behavior variables"):
        MMGPVAE(2, 1, 1, epochs=1).fit(neural[:2], [behavior[0], other], names=["a", "b"])
    with pytest.raises(ValueError, match="session name"):
        MMGPVAE(2, 1, 1, epochs=1).fit(neural[:2], behavior[:2], names=["a", "b/c"])


# ---------------------------------------------------------------------------- one latent space
@pytest.fixture(scope="module")
def joint(recovery_sims):
    neural, behavior = _lists(recovery_sims[:4])
    return MMGPVAE(2, 1, 1, epochs=120, seed=0).fit(neural, behavior, names=list("abcd"))


def test_sessions_recorded_from_different_neurons_share_one_latent_space(joint, recovery_sims):
    """One linear map, fitted over all sessions together, recovers every session's shared
    latents (separate fits: R² ≈ 0.2 through one map, their spaces unrelated)."""
    latents = [joint.transform(session=k)["shared"] for k in range(4)]
    truths = [s.truth["shared"] for s in recovery_sims[:4]]
    assert _pooled_r2(latents, truths) > 0.9
    for x, s in zip(latents, recovery_sims[:4]):
        assert cv_r2(x, s.truth["shared"]) > 0.9


def test_a_new_session_with_few_trials_joins_the_fitted_space(joint, recovery_sims):
    new_sim = recovery_sims[4]
    few = slice(0, 12)
    nd = dataclasses.replace(new_sim.neural, data=new_sim.neural.data[few],
                             conditions=new_sim.neural.conditions[few])
    bd = dataclasses.replace(new_sim.behavior, data=new_sim.behavior.data[few],
                             conditions=new_sim.behavior.conditions[few])
    before = {k: v.clone() for k, v in joint.module_.state_dict().items()}
    new = joint.add_sessions([nd], [bd], ["e"], epochs=80)
    # the fitted model is untouched, and the new one kept every shared tensor fixed
    for k, v in joint.module_.state_dict().items():
        assert torch.equal(v, before[k]), k
    shared_now = {k: v for k, v in new.module_.state_dict().items() if not is_session_own(k)}
    for k, v in shared_now.items():
        assert torch.equal(v.cpu(), before[k].cpu()), k
    # the map fitted on the model's sessions carries over to the new session's latents
    coef = _map(
        np.concatenate([joint.transform(session=k)["shared"] for k in range(4)]),
        np.concatenate([s.truth["shared"] for s in recovery_sims[:4]]),
    )
    r2 = _r2_through(coef, new.transform(session="e")["shared"], new_sim.truth["shared"][few])
    assert r2 > 0.8


# ---------------------------------------------------------------------------- projects
def test_a_multi_session_project_reopens_and_goes_on(small, tmp_path):
    neural, behavior = _lists(small)
    m = MMGPVAE(2, 1, 1, epochs=3).fit(neural, behavior, names=["a", "b", "c"])
    m.save(tmp_path / "run.mmgp")
    r = MMGPVAE.load(tmp_path / "run.mmgp")
    assert r.session_names == ["a", "b", "c"]
    for k in "abc":
        np.testing.assert_allclose(r.transform(session=k)["shared"], m.transform(session=k)["shared"],
                                   atol=1e-5)
    assert r.for_session("b").neural.n_channels == 18
    view = m.for_session("b")  # one session saved alone keeps the model's display coordinates
    view.save(tmp_path / "b.mmgp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no optimizer state of other parameters to refuse
        alone = MMGPVAE.load(tmp_path / "b.mmgp")
    assert not alone.is_multi_session
    for name, t in view.transform().items():
        np.testing.assert_allclose(alone.transform()[name], t, atol=1e-5)
    r.partial_fit(neural, behavior, names=["a", "b", "c"], epochs=2)
    assert len(r.history) == 5
    with pytest.raises(ValueError, match="sessions"):
        r.partial_fit(neural[0], behavior[0])


def test_an_adapted_project_keeps_its_shared_parts_frozen_when_reopened(small, tmp_path):
    neural, behavior = _lists(small)
    run = MMGPVAE(2, 1, 1, epochs=2).fit(neural[:2], behavior[:2], names=["a", "b"])
    new = run.add_sessions([neural[2]], [behavior[2]], ["c"], epochs=2, source="run.mmgp")
    new.save(tmp_path / "new.mmgp")
    r = MMGPVAE.load(tmp_path / "new.mmgp")
    assert r.adapted_from_ == "run.mmgp"
    before = {k: v.clone() for k, v in r.module_.state_dict().items()}
    r.partial_fit([neural[2]], [behavior[2]], names=["c"], epochs=2)
    after = r.module_.state_dict()
    assert torch.equal(after["prior.raw_length_scale"], before["prior.raw_length_scale"])
    assert torch.equal(after["dec_behavior.mixing.weight"], before["dec_behavior.mixing.weight"])
    assert not torch.equal(after["dec_neural.head.weight"], before["dec_neural.head.weight"])
    assert not torch.equal(after["enc_neural.net.0.weight"], before["enc_neural.net.0.weight"])
    np.testing.assert_allclose(  # the display coordinates of the model it came from
        r.orthonormal_transforms()["shared"], run.orthonormal_transforms()["shared"], atol=1e-6
    )


def test_an_adapted_project_whose_optimizer_state_is_for_other_parameters_still_opens(
    small, tmp_path
):
    """Sessions added from 6367cd4 up to 14829e1 kept their carried read-in weights fixed:
    their saved optimizer state has one parameter fewer per session than the optimizer of
    today's adapted model. The project opens (weights as saved), warns, and goes on with a
    fresh optimizer."""
    import h5py

    from mmgpvae_core.project.file import torch_bytes

    neural, behavior = _lists(small)
    run = MMGPVAE(2, 1, 1, epochs=2).fit(neural[:2], behavior[:2], names=["a", "b"])
    new = run.add_sessions([neural[2]], [behavior[2]], ["c"], epochs=2, source="run.mmgp")
    new.save(tmp_path / "new.mmgp")
    kept = [p for n, p in new.module_.named_parameters()  # its own, but the read-in weights
            if is_session_own(n) and n != "enc_neural.net.0.weight"]
    older = torch.optim.Adam(kept)
    with h5py.File(tmp_path / "new.mmgp", "a") as f:
        del f["optimizer"]
        f.create_dataset("optimizer", data=np.frombuffer(torch_bytes(older.state_dict()), np.uint8))
    with pytest.warns(UserWarning, match="fresh optimizer"):
        r = MMGPVAE.load(tmp_path / "new.mmgp")
    np.testing.assert_allclose(r.transform(session="c")["shared"],
                               new.transform(session="c")["shared"], atol=1e-6)
    r.partial_fit([neural[2]], [behavior[2]], names=["c"], epochs=1)
    assert len(r.history) == len(new.history) + 1


def test_multi_session_module_needs_a_session():
    with pytest.raises(ValueError):
        MultiSessionModule([])


# ---------------------------------------------------------------------------- manifest and CLI
def _manifest(tmp_path, sims, names, rows=None):
    lines = ["name,neural,behavior"]
    for name, s in zip(names, sims):
        p = write_simulation(tmp_path / name, s)
        lines.append(f"{name},{name}/{p['neural'].name},{name}/{p['behavior'].name}")
    path = tmp_path / "sessions.csv"
    path.write_text("\n".join(rows or lines) + "\n")
    return path


def test_manifest_errors_name_the_file_the_line_and_the_column(tmp_path, small):
    path = _manifest(tmp_path, small[:2], ["a", "b"])
    entries = read_manifest(path)
    assert [e.name for e in entries] == ["a", "b"] and entries[1].neural.is_file()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,neural\na,a/neural.h5\n")
    with pytest.raises(DataError, match="behavior.*missing column"):
        read_manifest(bad)
    bad.write_text("name,neural,behavior\na,a/neural.h5,a/behavior.h5\na,b/neural.h5,b/behavior.h5\n")
    with pytest.raises(DataError, match=r"line 3.*listed twice"):
        read_manifest(bad)
    bad.write_text("name,neural,behavior\na,nowhere.h5,a/behavior.h5\n")
    with pytest.raises(DataError, match=r"neural \(line 2\).*not found"):
        read_manifest(bad)


def test_fit_sessions_then_from_then_export_per_session(tmp_path, small, capsys):
    path = _manifest(tmp_path, small[:2], ["a", "b"])
    run, new = tmp_path / "run.mmgp", tmp_path / "new.mmgp"
    assert main(["fit", "--sessions", str(path), "--out", str(run), "--epochs", "2", "--quiet"]) == 0
    p = write_simulation(tmp_path / "c", small[2])
    new_csv = tmp_path / "new.csv"
    new_csv.write_text(f"name,neural,behavior\nc,{p['neural']},{p['behavior']}\n")
    assert main(["fit", "--sessions", str(new_csv), "--from", str(run), "--out", str(new),
                 "--epochs", "2", "--quiet"]) == 0
    assert main(["export-latents", str(run), "--out", str(tmp_path / "lat.npz")]) == 0
    single = tmp_path / "single.mmgp"
    assert main(["fit", "--neural", str(p["neural"]), "--behavior", str(p["behavior"]),
                 "--out", str(single), "--epochs", "1", "--quiet"]) == 0
    assert main(["export-latents", str(single), "--out", str(tmp_path / "one.npz")]) == 0
    keys = set(np.load(tmp_path / "one.npz").files)
    for name in ("a", "b"):
        z = np.load(tmp_path / f"lat_{name}.npz")
        assert set(z.files) == keys and z["shared"].shape == (10, 30, 2)
    capsys.readouterr()
    assert main(["inspect", str(run)]) == 0
    assert '"sessions"' in capsys.readouterr().out
    assert MMGPVAE.load(new).session_names == ["c"]
    figs = tmp_path / "figs"
    assert main(["figures", str(run), "--out", str(figs), "--format", "png", "--dpi", "50"]) == 0
    assert (figs / "sessions_shared_by_session_2d.png").stat().st_size > 0
    assert (figs / "sessions_shared_by_condition_2d.png").is_file()
    assert main(["fit", "--neural", str(p["neural"]), "--from", str(run), "--out",
                 str(tmp_path / "x.mmgp")]) == 2


def test_consistency_refits_every_session_together(small):
    from mmgpvae_core.controls import fitted_latents, run_consistency
    from mmgpvae_core.sweep import SweepSettings

    neural, behavior = _lists(small)
    m = MMGPVAE(2, 1, 1, epochs=2).fit(neural, behavior, names=["a", "b", "c"])
    ref = fitted_latents(m)
    assert ref["shared"].shape == (30, 30, 2)  # every session's trials in turn
    assert list(np.bincount(ref["session"])) == [10, 10, 10]
    result = run_consistency(
        neural, behavior, (2, 1, 1), [1], SweepSettings(epochs=2),
        reference=ref, reference_seed=0, session_names=["a", "b", "c"], n_jobs=1,
    )
    assert result.status == ["ok"]
    for sub, d in (("shared", 2), ("private_neural", 1), ("private_behavior", 1)):
        cc = result.correlations[sub]
        assert cc.shape == (1, d) and np.isfinite(cc).all() and (cc <= 1 + 1e-9).all()


def test_sweep_and_null_test_hold_out_folds_within_each_session(small):
    from mmgpvae_core.controls import run_null_test
    from mmgpvae_core.sweep import SweepSettings, make_grid, run_sweep

    neural, behavior = _lists(small)
    settings = SweepSettings(folds=2, epochs=2)
    result = run_sweep(
        neural, behavior, make_grid([1, 2], [1], [1]), settings, n_jobs=1,
        session_names=["a", "b", "c"],
    )
    assert [r["status"] for r in result.rows] == ["ok", "ok"] and result.best is not None
    row = result.rows[0]
    assert row["score_per_trial"].shape == (30,) and np.isfinite(row["score_per_trial"]).all()
    roles = row["fold_roles"]
    assert roles.shape == (2, 30)
    for k in range(3):  # every trial of every session validated exactly once
        assert ((roles[:, 10 * k : 10 * k + 10] == 2).sum(0) == 1).all()
    null = run_null_test(
        neural, behavior, (2, 1, 1), 2, settings, session_names=["a", "b", "c"], n_jobs=1
    )
    assert [int(r["shuffle"]) for r in null.rows] == [0, 1, 2]
    assert all(r["status"] == "ok" for r in null.rows) and np.isfinite(null.p)


def test_sweep_and_null_test_commands_take_sessions(tmp_path, small, capsys):
    path = _manifest(tmp_path, small[:2], ["a", "b"])
    common = ["--folds", "2", "--epochs", "2", "--jobs", "1", "--private-behavior", "1"]
    assert main(["sweep", "--sessions", str(path), "--shared", "1,2", "--private-neural", "1",
                 "--neural-decoder", "linear", "--out", str(tmp_path / "s.csv"), *common]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("best: shared=")
    assert main(["null-test", "--sessions", str(path), "--shuffles", "1", "--shared", "1",
                 "--private-neural", "1", "--out", str(tmp_path / "n.csv"), *common]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("p=")
    assert main(["null-test", "--out", str(tmp_path / "x.csv")]) == 2


def test_consistency_takes_the_projects_sessions_from_a_manifest(tmp_path, small, capsys):
    path = _manifest(tmp_path, small[:2], ["a", "b"])
    run = tmp_path / "run.mmgp"
    assert main(["fit", "--sessions", str(path), "--out", str(run), "--epochs", "2", "--quiet"]) == 0
    # rows in another order than the project's: matched by name
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n")
    capsys.readouterr()
    argv = ["consistency", str(run), "--seeds", "2", "--epochs", "2", "--jobs", "1", "--quiet"]
    assert main([*argv, "--sessions", str(path), "--out", str(tmp_path / "k.csv")]) == 0
    out, err = capsys.readouterr()
    assert [line.split(" ")[0] for line in out.strip().splitlines()] == [
        "shared", "private_neural", "private_behavior"]
    assert f"2 sessions (a, b) from {path}" in err
    # sessions that are not the project's: exit 2 naming them
    p = write_simulation(tmp_path / "c", small[2])
    other = tmp_path / "other.csv"
    other.write_text(f"{lines[0]}\n{lines[1]}\nc,{p['neural']},{p['behavior']}\n")
    assert main([*argv, "--sessions", str(other)]) == 2
    err = capsys.readouterr().err
    assert "missing b" in err and "not in the project: c" in err
    # session b recorded from other neurons than the project's b: exit 2 naming it and its file
    other.write_text(f"{lines[0]}\n{lines[1]}\nb,{p['neural']},{p['behavior']}\n")
    assert main([*argv, "--sessions", str(other)]) == 2
    err = capsys.readouterr().err
    assert "session 'b'" in err and "14 neural channels" in err and "fitted on 18" in err
    assert str(p["neural"]) in err
    single = tmp_path / "single.mmgp"
    assert main(["fit", "--neural", str(p["neural"]), "--behavior", str(p["behavior"]),
                 "--out", str(single), "--epochs", "1", "--quiet"]) == 0
    assert main(["consistency", str(single), "--sessions", str(path)]) == 2
    assert "holds one session" in capsys.readouterr().err


def test_a_manifest_with_a_missing_file_or_other_behavior_channels_exits_2(tmp_path, small, capsys):
    path = _manifest(tmp_path, small[:2], ["a", "b"])
    b = tmp_path / "b" / "behavior.h5"
    fewer = dataclasses.replace(
        small[1].behavior, data=small[1].behavior.data[..., :-2],
        channel_names=small[1].behavior.channel_names[:-2],
    )
    from mmgpvae_core.synthetic.simulate import Simulation

    write_simulation(tmp_path / "b", Simulation(small[1].neural, fewer, small[1].truth))
    assert main(["fit", "--sessions", str(path), "--out", str(tmp_path / "x.mmgp")]) == 2
    err = capsys.readouterr().err
    assert "session 'b'" in err and str(b) in err and "same behavior variables" in err
    path.write_text("name,neural,behavior\na,a/neural.h5,a/nowhere.h5\n")
    assert main(["fit", "--sessions", str(path), "--out", str(tmp_path / "x.mmgp")]) == 2
    assert "nowhere.h5: file not found" in capsys.readouterr().err


def test_a_new_session_of_five_trials_learns_only_its_own_parameters(small):
    neural, behavior = _lists(small)
    run = MMGPVAE(2, 1, 1, epochs=2).fit(neural[:2], behavior[:2], names=["a", "b"])
    five = [dataclasses.replace(d, data=d.data[:5], conditions=d.conditions[:5])
            for d in (neural[2], behavior[2])]
    before = {k: v.clone() for k, v in run.module_.state_dict().items()}
    new = run.new_sessions([five[0]], [five[1]], ["c"])
    own_before = {k: v.clone() for k, v in new.module_.own_state().items()}
    new.partial_fit([five[0]], [five[1]], names=["c"], epochs=3)
    own = new.module_.own_state()
    for k, v in new.module_.state_dict().items():
        if k not in own:
            assert torch.equal(v, before[k]), k  # shared: bit-identical
    assert not torch.equal(own["dec_neural.head.weight"], own_before["dec_neural.head.weight"])
    assert not torch.equal(own["enc_neural.net.0.bias"], own_before["enc_neural.net.0.bias"])
    # the read-in is learned on from where it was carried over from the fitted sessions
    assert not torch.equal(own["enc_neural.net.0.weight"], own_before["enc_neural.net.0.weight"])
    assert len(new.history) == 3 and new.for_session("c").neural.n_trials == 5


def test_new_sessions_are_the_same_whatever_ran_before(small):
    neural, behavior = _lists(small)
    run = MMGPVAE(2, 1, 1, epochs=2).fit(neural[:2], behavior[:2], names=["a", "b"])
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        new = run.new_sessions([neural[2]], [behavior[2]], ["c"])
        states.append(new.module_.own_state())
    for k, v in states[0].items():
        assert torch.equal(v, states[1][k]), k


def test_a_new_sessions_neurons_read_the_fitted_space_before_any_training(joint, recovery_sims):
    """The carried read-in: right after ``new_sessions``, the shared latents inferred from the
    new session's neurons alone go through the map fitted on the model's sessions."""
    new_sim = recovery_sims[4]
    few = slice(0, 10)
    nd, bd = (dataclasses.replace(d, data=d.data[few], conditions=d.conditions[few])
              for d in (new_sim.neural, new_sim.behavior))
    new = joint.new_sessions([nd], [bd], ["e"])
    coef = _map(
        np.concatenate([joint.transform(session=k)["shared"] for k in range(4)]),
        np.concatenate([s.truth["shared"] for s in recovery_sims[:4]]),
    )
    rest = slice(10, 40)  # trials the new session was not given
    held = dataclasses.replace(new_sim.neural, data=new_sim.neural.data[rest],
                               conditions=new_sim.neural.conditions[rest])
    z = new.transform(held, None, session="e")["shared"]
    r2 = _r2_through(coef, z, new_sim.truth["shared"][rest])
    assert r2 > 0.5, r2


def test_an_added_sessions_neural_precision_is_calibrated_on_trials_it_leaves_out(
    joint, recovery_sims
):
    """The fitted sessions' neural precisions are their encoder's (scale 1); a session added
    with few trials gets a scale chosen by leaving its trials out in turn, and behavior
    predicted from the neurons of trials it was not given is then more probable than with its
    precisions unscaled (whose neurons-only posterior was too narrow there)."""
    from mmgpvae_core.evaluation.heldout import predict

    for view in joint.multi_.sessions:
        assert float(view.neural_precision) == 1.0
    new_sim = recovery_sims[4]
    few, rest = slice(0, 10), slice(10, 40)
    nd, bd = (dataclasses.replace(d, data=d.data[few], conditions=d.conditions[few])
              for d in (new_sim.neural, new_sim.behavior))
    new = joint.new_sessions([nd], [bd], ["e"])
    scale = new.multi_.sessions[0].neural_precision
    assert float(scale) in PRECISION_SCALES and float(scale) < 1.0

    def held_out_log_prob():
        out = predict(new.for_session("e"), new_sim.neural.data[rest], None,
                      targets={"behavior": new_sim.behavior.data[rest]})
        return out["behavior"]["log_prob"].sum()

    calibrated = held_out_log_prob()
    scale.fill_(1.0)
    assert calibrated > held_out_log_prob()


def test_a_project_saved_before_the_neural_precision_scale_opens_with_scale_one(small, tmp_path):
    """Projects written before ``neural_precision`` existed lack it, at the top level and in
    each session's group: they open, with the scale 1 they were fitted with, and infer as
    before."""
    import h5py

    neural, behavior = _lists(small)
    run = MMGPVAE(2, 1, 1, epochs=2).fit(neural[:2], behavior[:2], names=["a", "b"])
    new = run.add_sessions([neural[2]], [behavior[2]], ["c"], epochs=1)
    new.multi_.sessions[0].neural_precision.fill_(1.0)  # as every session was fitted then
    for m, name in ((run, "run"), (new, "new")):
        m.save(tmp_path / f"{name}.mmgp")
        with h5py.File(tmp_path / f"{name}.mmgp", "a") as f:
            removed = [g for g in ("model", *(f"sessions/{s}/model" for s in m.session_names))
                       if g in f and "neural_precision" in f[g]]
            assert removed
            for g in removed:
                del f[g]["neural_precision"]
        r = MMGPVAE.load(tmp_path / f"{name}.mmgp")
        for k, s in enumerate(m.session_names):
            assert float(r.multi_.sessions[k].neural_precision) == 1.0
            np.testing.assert_allclose(r.transform(session=s)["shared"],
                                       m.transform(session=s)["shared"], atol=1e-6)
