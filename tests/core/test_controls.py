"""The controls: re-pairing, the permutation p-value, canonical correlations, the null test on
paired and on independent data, seed consistency, and their commands and figures."""

from __future__ import annotations

import dataclasses
import importlib.util
import re

import numpy as np
import pytest
from real_s1 import needs_s1, s1_files, s1_session

from mmgpvae_core import cli
from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.controls import (
    canonical_correlations,
    circular_shifts,
    null_kind,
    p_value,
    pairing_permutations,
    read_consistency_csv,
    read_null_csv,
    repaired,
    run_null_test,
    shifted,
)
from mmgpvae_core.sweep import SweepSettings
from mmgpvae_core.synthetic.simulate import simulate, write_simulation

SHUFFLES = 4
SETTINGS = SweepSettings(folds=2, epochs=15, seed=0, model_kwargs={"device": "cpu"})


@pytest.fixture(scope="module")
def sim():
    """24 trials × 30 bins: neural and behavior driven by the same shared latents."""
    return simulate(n_trials=24, n_time=30, n_neurons=20, n_keypoints=4, seed=3)


@pytest.fixture(scope="module")
def independent_behavior(sim):
    """Behavior of another simulation (other latents, other condition sequence), labelled with
    this one's conditions: no relation to the neural data at all."""
    other = simulate(n_trials=24, n_time=30, n_neurons=20, n_keypoints=4, seed=103)
    return dataclasses.replace(other.behavior, conditions=sim.neural.conditions)


def _null_test(neural, behavior, split, shuffles=SHUFFLES, settings=SETTINGS, **kwargs):
    """``run_null_test`` in this process (one fit at a time)."""
    return run_null_test(neural, behavior, split, shuffles, settings, n_jobs=1, **kwargs)


def test_permutations_exchange_trials_of_one_condition_and_length():
    cond = np.array(list("aabbbcc") * 2)
    lengths = np.array([30] * 12 + [20, 20])
    perms = pairing_permutations(14, 5, conditions=cond, lengths=lengths, within_condition=True)
    assert len(perms) == 5
    for p in perms:
        assert sorted(p) == list(range(14))
        assert (cond[p] == cond).all() and (lengths[p] == lengths).all()
    again = pairing_permutations(14, 5, conditions=cond, lengths=lengths, within_condition=True)
    assert all((a == b).all() for a, b in zip(perms, again))  # seeded
    across = pairing_permutations(14, 20, conditions=cond, lengths=lengths)
    assert any((cond[p] != cond).any() for p in across)
    with pytest.raises(ValueError, match="conditions"):
        pairing_permutations(14, 2, within_condition=True)


def test_repaired_moves_behavior_trials_only(sim):
    perm = np.roll(np.arange(sim.behavior.n_trials), 1)
    b = repaired(sim.behavior, perm)
    assert np.array_equal(b.data[1], sim.behavior.data[0])
    assert np.array_equal(b.conditions, sim.behavior.conditions)


def test_p_value_counts_nulls_at_or_above_the_real_score():
    assert p_value(10.0, [1, 2, 3, 4]) == pytest.approx(1 / 5)
    assert p_value(2.0, [1, 2, 3, 4]) == pytest.approx(4 / 5)
    assert p_value(2.0, [1, np.nan, 3]) == pytest.approx(2 / 3)  # failed fits do not count
    assert np.isnan(p_value(np.nan, [1.0]))


def test_canonical_correlations_ignore_linear_maps():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2))
    mixed = z @ np.array([[2.0, 1.0], [-0.5, 3.0]]) + 5.0
    assert canonical_correlations(z, mixed) == pytest.approx([1.0, 1.0])
    half = np.c_[z[:, 0], rng.normal(size=400)]
    cc = canonical_correlations(z, half)
    assert cc[0] == pytest.approx(1.0) and cc[1] < 0.2
    z3 = z.reshape(40, 10, 2).copy()
    z3[:, 8:] = np.nan  # padding past a trial's end is left out
    assert canonical_correlations(z3, z3 * 2) == pytest.approx([1.0, 1.0])


def test_paired_data_beats_every_shuffle(sim):
    seen = []
    result = _null_test(
        sim.neural, sim.behavior, (2, 1, 1), on_result=lambda d, n, r: seen.append(r["shuffle"])
    )
    assert sorted(seen) == list(range(SHUFFLES + 1))
    assert [r["shuffle"] for r in result.rows] == list(range(SHUFFLES + 1))
    null = result.null_scores
    assert len(null) == SHUFFLES
    assert result.p == pytest.approx(1 / (1 + SHUFFLES))  # the smallest p 4 shuffles allow
    assert result.real_score > null.max() + 2 * null.std(ddof=1), result.summary_line()
    r2_null = [r["r2_behavior_from_neural"] for r in result.null_rows]
    assert result.real["r2_behavior_from_neural"] > max(r2_null) + 0.2
    assert re.fullmatch(
        r"p=0\.2 real=-?\d+\.\d\d null=-?\d+\.\d\d±\d+\.\d\d", result.summary_line()
    )


def test_independent_behavior_is_not_significant(sim, independent_behavior):
    """The margins by which paired data beat their shuffles (the test above) are not reached.

    Not asserted: p > 1/(K+1). On independent data the real pairing is exchangeable with its
    shuffles, so a calibrated test gives the smallest p on one data set in K+1 (here 1 in 5),
    and a seeded assertion of it is a coin flip on the seed. Calibration itself is measured over
    20 data sets × 19 shuffles in ``benchmarks/null_calibration.py`` (RESULTS.md)."""
    result = _null_test(sim.neural, independent_behavior, (2, 1, 1))
    null = result.null_scores
    assert len(null) == SHUFFLES and np.isfinite(result.p)
    assert result.real_score < null.max() + 2 * null.std(ddof=1), result.summary_line()
    r2_null = [r["r2_behavior_from_neural"] for r in result.null_rows]
    assert result.real["r2_behavior_from_neural"] < max(r2_null) + 0.2, result.summary_line()


def test_null_test_cancel(sim):
    done = []
    result = _null_test(
        sim.neural,
        sim.behavior,
        (1, 0, 0),
        3,
        dataclasses.replace(SETTINGS, epochs=2),
        on_result=lambda d, n, r: done.append(d),
        should_stop=lambda: len(done) >= 1,
    )
    assert result.cancelled and len(result.rows) == 1 and np.isnan(result.p)


@pytest.fixture(scope="module")
def files(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("controls")
    paths = write_simulation(out / "data", sim)
    run = out / "run.mmgp"
    MMGPVAE(1, 1, 0, epochs=5, device="cpu").fit(sim.neural, sim.behavior).save(run)
    return {**paths, "run": run, "out": out}


def test_cli_null_test_prints_p_last_and_writes_csv_and_plot(files, capsys):
    out = files["out"]
    argv = ["null-test", "--neural", str(files["neural"]), "--behavior", str(files["behavior"])]
    argv += ["--shared", "1", "--private-neural", "0", "--private-behavior", "0"]
    argv += ["--shuffles", "2", "--within-condition", "--folds", "2", "--epochs", "2"]
    argv += ["--jobs", "1", "--out", str(out / "null.csv"), "--plot", str(out / "null.png")]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert re.fullmatch(r"p=[\d.]+ real=-?[\d.]+ null=-?[\d.]+±[\d.]+", lines[-1])
    assert sum(line.startswith("p=") for line in lines) == 1
    assert captured.err.count("] real pairing") == 1 and captured.err.count("] shuffle ") == 2
    result = read_null_csv(out / "null.csv")
    assert result.within_condition and len(result.rows) == 3
    assert lines[-1].startswith(f"p={result.p:.3g} ")
    assert (out / "null.png").stat().st_size > 0
    bad = cli.main([*argv[:5], "--shuffles", "0", "--out", str(out / "x.csv")])
    assert bad == 2


def test_cli_consistency_one_line_per_subspace_and_figures(files, capsys):
    out = files["out"]
    argv = ["consistency", str(files["run"]), "--seeds", "3", "--epochs", "5", "--jobs", "1"]
    argv += ["--out", str(out / "consistency.csv"), "--plot", str(out / "consistency.svg")]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" ")[0] for line in lines] == [
        "shared",
        "private_neural",
        "private_behavior",
    ]
    assert "canonical correlations with seed 0 over 2 other seeds: CC1 " in lines[0]
    assert lines[2].endswith("nothing to compare")  # the run has no private behavior latent
    result = read_consistency_csv(out / "consistency.csv")
    assert result.seeds == [1, 2] and result.dims["shared"] == 1
    cc = result.correlations["shared"]
    assert cc.shape == (2, 1) and ((0 <= cc) & (cc <= 1)).all()
    assert "<svg" in (out / "consistency.svg").read_text()[:500]

    figs = out / "figs"
    argv = ["figures", "--out", str(figs), "--format", "png", "--dpi", "80"]
    argv += ["--null-test", str(out / "null.csv"), "--consistency", str(out / "consistency.csv")]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in figs.iterdir()) == ["consistency.png", "null_test.png"]
    assert cli.main(["figures", "--out", str(figs)]) == 2


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray[tune] not installed")
def test_null_test_on_local_ray_matches_local(sim):
    settings = dataclasses.replace(SETTINGS, epochs=2)
    ray = run_null_test(sim.neural, sim.behavior, (1, 0, 0), 1, settings, ray_address="local")
    local = _null_test(sim.neural, sim.behavior, (1, 0, 0), 1, settings)
    assert [r["shuffle"] for r in ray.rows] == [0, 1]
    assert np.allclose([r["score"] for r in ray.rows], [r["score"] for r in local.rows])


def test_trials_of_unequal_length_are_re_paired_and_masked_past_the_neural_end():
    from mmgpvae_core.controls import pairing_permutations, repaired
    from mmgpvae_core.data import Dataset

    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 30, size=40)  # all different-ish lengths
    data = rng.normal(size=(40, 30, 2))
    data[np.arange(30)[None, :] >= lengths[:, None]] = np.nan
    behavior = Dataset(data, source="<b>")
    perm = pairing_permutations(40, 1, seed=3)[0]
    assert (perm != np.arange(40)).mean() > 0.8  # nearly every trial gets a new partner
    b = repaired(behavior, perm, lengths)
    for i in range(40):
        n = min(lengths[i], lengths[perm[i]])
        np.testing.assert_array_equal(b.data[i, :n], data[perm[i], :n])
        assert np.isnan(b.data[i, lengths[i]:]).all()  # nothing past the neural trial's end


# ---------------------------------------------------------------------------- sessions
def _as_session(ds):
    """``ds`` marked as a continuous session cut into consecutive windows (no trials table)."""
    return dataclasses.replace(ds, conditions=None, preprocessing={"trials": {"source": "windows"}})


def test_circular_shifts_stay_a_window_and_a_tenth_of_the_session_from_zero():
    shifts = circular_shifts(1000, 40, 9, seed=3)
    assert len(shifts) == 9 and shifts == sorted(set(shifts))
    assert min(shifts) >= 100 and max(shifts) <= 900  # 10 % of 1000 bins, either direction
    assert shifts == circular_shifts(1000, 40, 9, seed=3) != circular_shifts(1000, 40, 9, seed=4)
    assert np.diff(shifts).min() >= 801 // 9 - 1  # spread over the range, not clustered
    assert min(circular_shifts(1000, 300, 1, seed=0)) >= 300  # at least one window
    with pytest.raises(ValueError, match="allows"):
        circular_shifts(100, 40, 30)


def test_shifted_rolls_the_joined_session_and_cuts_the_same_windows(sim):
    behavior = _as_session(sim.behavior)
    out = shifted(behavior, 7)
    joined = behavior.data.reshape(-1, behavior.n_channels)
    assert out.data.shape == behavior.data.shape
    np.testing.assert_array_equal(out.data.reshape(-1, behavior.n_channels), np.roll(joined, 7, 0))
    np.testing.assert_array_equal(shifted(behavior, behavior.data.size // behavior.n_channels).data,
                                  behavior.data)
    lengths = np.full(behavior.n_trials, behavior.n_time)
    lengths[0] = 10
    assert np.isnan(shifted(behavior, 7, lengths).data[0, 10:]).all()  # past the neural end


def test_a_session_is_shifted_in_time_and_trials_are_re_paired(sim):
    assert null_kind(_as_session(sim.neural)) == "shift"
    assert null_kind(sim.neural) == "re-pair"
    with pytest.raises(ValueError, match="continuous session"):
        null_kind(sim.neural, "shift")
    settings = dataclasses.replace(SETTINGS, epochs=1)
    result = run_null_test(
        _as_session(sim.neural), _as_session(sim.behavior), (1, 0, 0), 2, settings, n_jobs=1
    )
    assert result.null == "shift" and "circular" in result.pairing
    assert [r["shift"] for r in result.rows][0] is None
    assert all(r["shift"] >= 72 and r["folds"] == "blocked" for r in result.rows[1:])
    assert result.folds.startswith("2 blocked folds")


@needs_s1
def test_on_the_real_s1_session_shifts_find_the_pairing_and_not_the_reversed_behavior(tmp_path):
    """Five minutes of S1 (52 units, hand velocity), 2 s windows, split 1 + 0 + 0, 4 shifts
    (the smallest p is 0.2), 12 epochs. Measured over seeds 0, 1, 2: the real pairing p = 0.2
    each time (real ≈ −1727, shifts ≈ −1769 ± 5 nats per window); the behavior reversed in time
    p = 0.8, 1, 0.8 (its score inside the shifts' range)."""
    settings = SweepSettings(folds=2, epochs=12, seed=0, model_kwargs={"device": "cpu"})
    p = {}
    for reverse in (False, True):
        neural, behavior = s1_session(tmp_path / str(reverse), 5.0, 2.0, reverse=reverse)
        result = run_null_test(neural, behavior, (1, 0, 0), 4, settings, n_jobs=2)
        assert result.null == "shift" and all(r["status"] == "ok" for r in result.rows)
        p[reverse] = result.p
    assert p[False] == pytest.approx(0.2)  # at its minimum: the real pairing beats every shift
    assert p[True] >= 0.6


@needs_s1
def test_cli_null_test_of_a_session_says_it_shifts_and_keeps_its_last_line(tmp_path, capsys):
    neural, behavior = s1_files(tmp_path, minutes=1.0)
    argv = ["null-test", "--neural", str(neural), "--behavior", str(behavior), "--window", "2"]
    argv += ["--shared", "1", "--private-neural", "0", "--private-behavior", "0"]
    argv += ["--shuffles", "2", "--folds", "2", "--epochs", "1", "--jobs", "1"]
    argv += ["--out", str(tmp_path / "null.csv"), "--plot", str(tmp_path / "null.png")]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "2 circular time shifts of the behavior" in captured.err
    assert "2 blocked folds" in captured.err and captured.err.count("] shift ") == 2
    lines = captured.out.strip().splitlines()
    assert re.fullmatch(r"p=[\d.]+ real=-?[\d.]+ null=-?[\d.]+±[\d.]+", lines[-1])
    result = read_null_csv(tmp_path / "null.csv")
    assert result.null == "shift" and "circular" in result.pairing
    assert [r["folds"] for r in result.rows] == ["blocked"] * 3
    assert all(6.0 <= float(r["shift"]) * 0.05 <= 54.0 for r in result.rows[1:])  # 10 % of 60 s
