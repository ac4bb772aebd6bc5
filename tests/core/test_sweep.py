"""The sweep: grid parsing, selection rule, local execution, CLI, and a tiny Ray Tune run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mmgpvae_core import cli
from mmgpvae_core.simulate import simulate, write_simulation
from mmgpvae_core.sweep import (
    SweepSettings,
    make_grid,
    parse_range,
    read_csv,
    run_sweep,
    select_best,
    write_csv,
)


@pytest.fixture(scope="module")
def sim():
    return simulate(n_trials=16, n_time=30, n_neurons=12, n_keypoints=3, seed=4)


def test_parse_range_and_grid():
    assert parse_range("0-4") == [0, 1, 2, 3, 4]
    assert parse_range("3,1,1") == [1, 3]
    with pytest.raises(ValueError):
        parse_range("3-1")
    grid = make_grid(range(2), range(2), range(2), lrs=[0.01, 0.02])
    assert len(grid) == 14  # 8 splits − the empty one, × 2 learning rates
    assert all(g["shared"] + g["private_neural"] + g["private_behavior"] > 0 for g in grid)


def _row(s, a, b, scores):
    return {
        "shared": s,
        "private_neural": a,
        "private_behavior": b,
        "n_latents": s + a + b,
        "status": "ok",
        "score": float(np.mean(scores)),
        "score_per_trial": np.asarray(scores, dtype=float),
    }


def test_select_best_one_standard_error_rule():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 5, 40)
    rows = [
        _row(3, 1, 1, base + 0.05 + np.tile([1.0, -1.0], 20)),  # best by a hair, 5 latents
        _row(2, 1, 1, base),  # tied, 4 latents → chosen
        _row(1, 1, 1, base - 3.0),  # clearly worse
    ]
    i, why = select_best(rows)
    assert (rows[i]["shared"], rows[i]["n_latents"]) == (2, 4), why
    rows[1]["score_per_trial"] = base - 2.0  # now clearly worse: take the best
    rows[1]["score"] = float(np.mean(base - 2.0))
    i, _ = select_best(rows)
    assert rows[i]["shared"] == 3
    rows[0]["status"] = "failed: x"
    i, _ = select_best(rows)
    assert rows[i]["shared"] == 2
    with pytest.raises(ValueError):
        select_best([dict(rows[0])])


def test_local_sweep_in_process_reports_and_writes(sim, tmp_path):
    seen = []
    grid = make_grid([1, 2], [1], [1])
    result = run_sweep(
        sim.neural,
        sim.behavior,
        grid,
        SweepSettings(folds=2, epochs=3, seed=0, model_kwargs={"device": "cpu"}),
        n_jobs=1,
        on_result=lambda d, n, r: seen.append((d, n)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert result.best is not None and result.best_line().startswith("best: shared=")
    assert all(r["status"] == "ok" and np.isfinite(r["score"]) for r in result.rows)
    assert all(r["score_per_trial"].shape == (16,) for r in result.rows)
    rows = read_csv(write_csv(result, tmp_path / "r.csv"))
    assert len(rows) == 2 and sum(r["chosen"] == "1" for r in rows) == 1


def test_sweep_cancel(sim):
    calls = []
    result = run_sweep(
        sim.neural,
        sim.behavior,
        make_grid([1, 2], [0], [0]),
        SweepSettings(folds=2, epochs=50, model_kwargs={"device": "cpu"}),
        n_jobs=1,
        on_result=lambda d, n, r: calls.append(d),
        should_stop=lambda: len(calls) >= 1,
    )
    assert result.cancelled and len(result.rows) == 1


def test_cli_sweep_prints_best_last(sim, tmp_path, capsys):
    paths = write_simulation(tmp_path / "data", sim)
    code = cli.main(
        [
            "sweep",
            "--neural",
            str(paths["neural"]),
            "--behavior",
            str(paths["behavior"]),
            "--shared",
            "1-2",
            "--private-neural",
            "0",
            "--private-behavior",
            "0",
            "--folds",
            "2",
            "--epochs",
            "2",
            "--jobs",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "res.csv"),
            "--plot",
            str(tmp_path / "res.png"),
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out[-1].startswith("best: shared=") and "private_neural=0" in out[-1]
    assert (tmp_path / "res.png").stat().st_size > 0
    assert len(read_csv(tmp_path / "res.csv")) == 2
    assert (
        cli.main(
            [
                "sweep",
                "--neural",
                str(paths["neural"]),
                "--shared",
                "9-1",
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray[tune] not installed")
def test_tiny_sweep_on_local_ray(sim):
    """Two configurations as a Ray Tune grid on a local Ray instance; same rows as local."""
    grid = make_grid([1, 2], [0], [0])
    settings = SweepSettings(folds=2, epochs=2, seed=0)
    seen = []
    result = run_sweep(
        sim.neural,
        sim.behavior,
        grid,
        settings,
        ray_address="local",
        on_result=lambda d, n, r: seen.append(d),
    )
    assert sorted(seen) == [1, 2]
    assert [r["shared"] for r in result.rows] == [1, 2]
    assert all(r["status"] == "ok" for r in result.rows)
    assert result.best is not None
    local = run_sweep(sim.neural, sim.behavior, grid, settings, n_jobs=1)
    assert np.allclose([r["score"] for r in result.rows], [r["score"] for r in local.rows])
