"""Kernels in the project file and on the command line: saved, reopened, old files as RBF."""

from __future__ import annotations

import json

import h5py
import numpy as np

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.config import ModelConfig
from mmgpvae_core.project.file import read_project
from mmgpvae_core.synthetic.simulate import simulate, write_simulation


def test_cli_fit_with_a_kernel_per_subspace_saves_and_reopens_it(tmp_path, capsys):
    paths = write_simulation(tmp_path, simulate(n_trials=12, n_time=30, n_neurons=10, seed=2))
    run = tmp_path / "run.mmgp"
    code = main([
        "fit", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"]),
        "--kernel", "shared=matern12,private_behavior=matern32",
        "--out", str(run), "--epochs", "2", "--device", "cpu", "--quiet",
    ])
    assert code == 0, capsys.readouterr().err
    saved = read_project(run, posterior=False)["config"]["model"]
    assert saved["kernel"] == "shared=matern12,private_behavior=matern32"
    back = MMGPVAE.load(run)
    assert back.module.prior.kernel_names == ("matern12", "matern12", "rbf", "matern32")
    # Matérn ½ sets the circle: 4.5 length-scales of padding instead of 3
    shape = back.shape_
    assert shape.t_circ - shape.n_time >= 4.5 * shape.length_scale_init
    # resuming keeps the project's kernels
    assert main(["fit", "--resume", str(run), "--epochs", "1", "--quiet"]) == 0
    assert read_project(run, posterior=False)["config"]["model"]["kernel"] == saved["kernel"]


def test_cli_refuses_an_unknown_kernel_with_exit_code_2(tmp_path, capsys):
    paths = write_simulation(tmp_path, simulate(n_trials=6, n_time=20, n_neurons=5, seed=2))
    code = main([
        "fit", "--neural", str(paths["neural"]), "--kernel", "shared=periodic",
        "--out", str(tmp_path / "x.mmgp"), "--epochs", "1", "--device", "cpu", "--quiet",
    ])
    assert code == 2
    assert "periodic" in capsys.readouterr().err


def test_a_project_saved_before_kernels_existed_reopens_as_rbf(tiny_sim, tmp_path):
    """Files written before ``kernel`` existed lack the key; they were fitted with the RBF
    prior, so that is what they reopen, refit and re-save with (``MODEL_BEFORE_OPTION``)."""
    m = MMGPVAE(2, 1, 1, epochs=2, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    path = tmp_path / "old.mmgp"
    m.save(path)
    with h5py.File(path, "r+") as f:  # the layout of that time: no "kernel" key
        d = json.loads(f["config"].attrs["model"])
        d.pop("kernel")
        f["config"].attrs["model"] = json.dumps(d)
        assert "kernel" not in json.loads(f["config"].attrs["model"])

    assert read_project(path, posterior=False)["config"]["model"]["kernel"] == "rbf"
    old = MMGPVAE.load(path)
    assert old.model_config_.kernel == "rbf"
    assert old.module.prior.kernel_names == ("rbf",) * 4
    np.testing.assert_allclose(old.length_scales, m.length_scales, rtol=1e-6)
    old.save(tmp_path / "again.mmgp")
    assert read_project(tmp_path / "again.mmgp", posterior=False)["config"]["model"]["kernel"] == "rbf"
    assert ModelConfig.saved_dict({})["kernel"] == "rbf"
