"""The .mmgp project file and the `mmgpvae` command line, end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.project.file import read_project


@pytest.fixture(scope="module")
def fitted(tiny_sim, tmp_path_factory):
    m = MMGPVAE(2, 1, 1, epochs=8, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    path = tmp_path_factory.mktemp("proj") / "run.mmgp"
    m.save(path)
    return m, path


def test_save_load_round_trip_gives_identical_posteriors(fitted):
    m, path = fitted
    back = MMGPVAE.load(path)
    a, b = m.latent_posterior(), back.latent_posterior()
    for name in ("shared", "private_neural", "private_behavior"):
        np.testing.assert_array_equal(a[name]["mean"], b[name]["mean"])
        np.testing.assert_array_equal(a[name]["var"], b[name]["var"])
    assert back.history.elbo == m.history.elbo
    assert back.model_config == m.model_config and back.train_config == m.train_config
    np.testing.assert_array_equal(back.neural.data, m.neural.data)
    # The stored posterior and reconstructions are those of the model.
    p = read_project(path)
    np.testing.assert_allclose(p["posterior"]["shared"]["mean"], a["shared"]["mean"], rtol=1e-5, atol=1e-6)
    assert p["reconstruction"]["neural"].shape == m.neural.data.shape


def test_resume_continues_from_saved_optimizer_state(fitted, tmp_path):
    m, path = fitted
    back = MMGPVAE.load(path)
    assert back.optimizer.state_dict()["state"]  # Adam moments came back
    back.partial_fit(back.neural, back.behavior, epochs=2)
    assert len(back.history) == len(m.history) + 2
    assert back.history.epoch[-1] == m.history.epoch[-1] + 2


def test_a_project_saved_by_a_fit_on_a_gpu_reopens_and_goes_on_without_one(
    fitted, tmp_path, monkeypatch
):
    """The optimizer state is torch.save bytes whose tensors name the device they were on; a
    fit on a cluster's GPU must reopen on a laptop without one (weights are numpy anyway)."""
    import h5py
    import torch.serialization

    m, _ = fitted
    path = tmp_path / "gpu.mmgp"
    with monkeypatch.context() as patch:  # what torch.save writes for tensors on cuda:0
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        m.save(path)
    with h5py.File(path, "r") as f:
        assert b"cuda:0" in f["optimizer"][()].tobytes()
    back = MMGPVAE.load(path)
    steps = [s["step"] for s in back.optimizer.state.values()]
    assert steps and all(s.device.type == "cpu" and float(s) == len(m.history) for s in steps)
    back.partial_fit(back.neural, back.behavior, epochs=1)
    assert len(back.history) == len(m.history) + 1


def test_atomic_write_leaves_no_partial_file(fitted, tmp_path, monkeypatch):
    m, _ = fitted
    target = tmp_path / "crash.mmgp"
    import mmgpvae_core.project.file as project

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(project, "torch_bytes", boom)
    monkeypatch.setattr("mmgpvae_core.project.saved.torch_bytes", boom)
    with pytest.raises(RuntimeError):
        m.save(target)
    assert list(tmp_path.iterdir()) == []


def test_cli_simulate_fit_export_score_inspect(tmp_path, capsys):
    d = tmp_path / "demo"
    assert main(["simulate", str(d), "--seed", "2", "--trials", "20", "--bins", "40", "--neurons", "20"]) == 0
    run = d / "run.mmgp"
    code = main([
        "fit", "--neural", str(d / "neural.h5"), "--neural-likelihood", "poisson",
        "--behavior", str(d / "behavior.h5"), "--behavior-likelihood", "gaussian",
        "--shared", "2", "--private-neural", "1", "--private-behavior", "1",
        "--out", str(run), "--epochs", "4", "--seed", "1", "--device", "cpu", "--quiet",
    ])
    assert code == 0 and run.exists()
    assert main(["fit", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert len(read_project(run)["history"]["elbo"]) == 6
    lat = d / "latents.npz"
    assert main(["export-latents", str(run), "--out", str(lat)]) == 0
    with np.load(lat) as z:
        assert z["shared"].shape == (20, 40, 2)
        assert z["private_neural"].shape == (20, 40, 1)
        assert z["private_behavior"].shape == (20, 40, 1)
        assert z["conditions"].shape == (20,)
    capsys.readouterr()
    assert main(["score", str(lat), str(d / "truth.npz"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "r2_shared" in out and "leakage" in out
    assert main(["inspect", str(run)]) == 0
    assert '"epochs": 6' in capsys.readouterr().out
    assert main(["inspect", str(d / "neural.h5")]) == 0
    assert '"trials": 20' in capsys.readouterr().out


def test_cli_bad_input_exit_code_2_and_message(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(
        [sys.executable, "-m", "mmgpvae_core", "fit", "--neural", str(bad), "--out", str(tmp_path / "x.mmgp")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 2
    assert "bad.h5" in r.stderr and "Traceback" not in r.stderr
    # Counts that are not counts, under a Poisson likelihood the user asked for.
    import h5py

    with h5py.File(tmp_path / "calcium.h5", "w") as f:
        f["data"] = np.full((3, 5, 2), 0.25)
    assert main([
        "fit", "--neural", str(tmp_path / "calcium.h5"), "--neural-likelihood", "poisson",
        "--out", str(tmp_path / "y.mmgp"),
    ]) == 2


def test_cli_fit_without_likelihood_flags_chooses_gaussian_for_float_data(tmp_path, capsys):
    """The default is auto: calcium-like (non-integer) data is fitted with a Gaussian."""
    import h5py

    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "calcium.h5", "w") as f:
        f["data"] = rng.gamma(2.0, 0.5, (6, 20, 4))  # ΔF/F-like: non-negative, non-integer
    run = tmp_path / "run.mmgp"
    code = main([
        "fit", "--neural", str(tmp_path / "calcium.h5"), "--shared", "1", "--private-neural", "0",
        "--out", str(run), "--epochs", "2", "--device", "cpu", "--quiet",
    ])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "neural likelihood: gaussian (auto: non-integer values)" in err
    assert read_project(run)["config"]["model"]["neural_likelihood"] == "gaussian"
    assert main(["fit", "--resume", str(run), "--epochs", "1", "--quiet"]) == 0
    assert "neural likelihood: gaussian (from the project)" in capsys.readouterr().err
