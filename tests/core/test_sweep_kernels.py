"""The kernel as a sweep dimension: ``mmgpvae sweep --kernel rbf,matern12``."""

from __future__ import annotations

import pytest

from mmgpvae_core import cli
from mmgpvae_core.config import ConfigError
from mmgpvae_core.sweep import config_name, make_grid, parse_kernels
from mmgpvae_core.sweep.selection import SweepResult
from mmgpvae_core.synthetic.simulate import simulate, write_simulation


def test_kernel_values_of_a_sweep_are_names_or_per_subspace_settings():
    assert parse_kernels(None) == [None]
    assert parse_kernels(["rbf,matern12"]) == ["rbf", "matern12"]
    both = parse_kernels(["rbf", "shared=matern12,private_behavior=rbf", "rbf"])
    assert both == ["rbf", "shared=matern12,private_behavior=rbf"]
    with pytest.raises(ConfigError, match="periodic"):
        parse_kernels(["rbf,periodic"])


def test_each_kernel_is_its_own_configuration_and_the_best_line_names_it():
    grid = make_grid([1, 2], [0], [0], kernels=["rbf", "shared=matern12"])
    assert [(c["shared"], c["kernel"]) for c in grid] == [
        (1, "rbf"), (1, "shared=matern12"), (2, "rbf"), (2, "shared=matern12")
    ]
    assert len({config_name(c) for c in grid}) == 4  # --grow and saved fits tell them apart
    assert "=" not in config_name(grid[1]) and "," not in config_name(grid[1])
    row = {**grid[1], "score": 1.0}
    assert SweepResult([row], 0, "").best_line() == (
        "best: shared=1 private_neural=0 private_behavior=0 kernel=shared=matern12"
    )
    plain = {**make_grid([1], [0], [0])[0], "score": 1.0}
    assert SweepResult([plain], 0, "").best_line().endswith("private_behavior=0")


def test_cli_sweep_tries_each_kernel_and_prints_it_in_the_best_line(tmp_path, capsys):
    sim = simulate(n_trials=12, n_time=24, n_neurons=10, n_keypoints=2, seed=1, kernel="matern12")
    paths = write_simulation(tmp_path / "data", sim)
    argv = ["sweep", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"])]
    argv += ["--shared", "1", "--private-neural", "0", "--private-behavior", "0"]
    argv += ["--kernel", "rbf,matern12", "--folds", "2", "--epochs", "2", "--jobs", "1"]
    argv += ["--neural-decoder", "linear"]
    argv += ["--quiet", "--out", str(tmp_path / "sweep.csv")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] in (
        "best: shared=1 private_neural=0 private_behavior=0 kernel=rbf neural_decoder=linear",
        "best: shared=1 private_neural=0 private_behavior=0 kernel=matern12 neural_decoder=linear",
    )
    csv = (tmp_path / "sweep.csv").read_text().splitlines()
    assert "kernel" in csv[0].split(",")
    assert len(csv) == 3 and any(",rbf," in line for line in csv) and any(",matern12," in line for line in csv)
    assert cli.main([*argv[:-2], "--kernel", "gaussian", "--out", str(tmp_path / "x.csv")]) == 2
