"""The sweep: grid parsing, selection rule, local execution, CLI, and a tiny Ray Tune run."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from real_s1 import needs_s1, s1_files, s1_session

from mmgpvae_core import cli
from mmgpvae_core.continuous import is_continuous
from mmgpvae_core.sweep import (
    SweepSettings,
    make_grid,
    parse_range,
    read_csv,
    run_sweep,
    select_best,
    write_csv,
)
from mmgpvae_core.synthetic.simulate import simulate, write_simulation


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
            "--neural-decoder",
            "linear",
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


# ---------------------------------------------------------------------------- sessions
def _as_session(ds):
    """``ds`` marked as a continuous session cut into consecutive windows (no trials table)."""
    import dataclasses

    return dataclasses.replace(ds, conditions=None, preprocessing={"trials": {"source": "windows"}})


def _assert_blocked(roles: np.ndarray) -> None:
    """Every window validated once, in one contiguous block per fold, and no validation window
    next to a training window."""
    roles = np.asarray(roles)
    assert ((roles == 2).sum(0) == 1).all()
    for fold in roles:
        val = np.flatnonzero(fold == 2)
        assert (np.diff(val) == 1).all()
        for neighbour in (val.min() - 1, val.max() + 1):
            if 0 <= neighbour < len(fold):
                assert fold[neighbour] == 0


def test_sweep_holds_out_blocks_of_a_session_and_stratifies_trials(sim, tmp_path):
    settings = SweepSettings(folds=3, epochs=1, seed=0, model_kwargs={"device": "cpu"})
    grid = make_grid([1], [0], [0])
    session = run_sweep(_as_session(sim.neural), _as_session(sim.behavior), grid, settings, n_jobs=1)
    (row,) = session.rows
    assert row["folds"] == "blocked" and row["fold_roles"].shape == (3, 16)
    _assert_blocked(row["fold_roles"])
    trials = run_sweep(sim.neural, sim.behavior, grid, settings, n_jobs=1)
    assert trials.rows[0]["folds"] == "stratified"
    assert not (trials.rows[0]["fold_roles"] == 0).any()  # trials leave nothing unused
    assert read_csv(write_csv(session, tmp_path / "s.csv"))[0]["folds"] == "blocked"


def _fake_sweep(peak: dict):
    """A stand-in for ``run_sweep``: each configuration scores by its distance from ``peak``
    (16 per-trial scores), so the choice is known."""
    from mmgpvae_core.sweep import choose

    calls = []

    def run(neural, behavior, configs, settings, **execution):
        calls.append(list(configs))
        rows = []
        for c in configs:
            miss = sum(abs(c[k] - peak[k]) for k in peak)
            rows.append({**_row(c["shared"], c["private_neural"], c["private_behavior"],
                                np.linspace(-1, 1, 16) - 5.0 * miss), **{k: c[k] for k in c}})
        return choose(rows)

    return run, calls


def test_grow_extends_an_edge_dimension_until_the_choice_is_inside(monkeypatch):
    from mmgpvae_core.sweep import edge_dimensions, edge_line, grow, grow_sweep

    run, calls = _fake_sweep({"shared": 7, "private_neural": 1, "private_behavior": 0})
    monkeypatch.setattr(grow, "run_sweep", run)
    axes = {"shared": [2, 4], "private_neural": [0, 1, 2], "private_behavior": [0]}
    first = run(None, None, make_grid(**axes), None)
    assert edge_dimensions(first, axes) == ["shared"]
    assert edge_line(first, axes).startswith("edge: the chosen shared=4 is the largest value")
    seen = []
    result, grown = grow_sweep(
        None, None, axes, first, None, rounds=5, on_extend=lambda *x: seen.append(x)
    )
    # shared steps by 2 (the grid's step): 6, then 8; 8 is past the peak, so 6 < 7 < 8 stops
    assert grown["shared"] == [2, 4, 6, 8] and [s[1] for s in seen] == [{"shared": 6}, {"shared": 8}]
    assert [len(c) for c in calls[1:]] == [3, 3]  # only the new configurations are fitted
    # 6 and 8 tie (one from the peak each): the fewest latents, 6, now inside the grid
    assert len(result.rows) == 12 and result.best["shared"] == 6
    assert edge_dimensions(result, grown) == [] and edge_line(result, grown) == ""
    assert [r["shared"] for r in result.rows] == sorted(r["shared"] for r in result.rows)
    capped, _ = grow_sweep(None, None, axes, first, None, rounds=1)
    assert capped.best["shared"] == 6 and edge_dimensions(capped, {**axes, "shared": [2, 4, 6]})


@needs_s1
def test_no_validation_window_of_the_real_s1_session_touches_a_training_window(tmp_path):
    neural, behavior = s1_session(tmp_path, minutes=1.0, window_s=2.0)
    assert is_continuous(neural) and neural.n_trials == 30
    settings = SweepSettings(folds=3, epochs=1, seed=0, model_kwargs={"device": "cpu"})
    result = run_sweep(neural, behavior, make_grid([1], [0], [0]), settings, n_jobs=1)
    (row,) = result.rows
    assert row["status"] == "ok" and row["folds"] == "blocked"
    _assert_blocked(row["fold_roles"])
    info = neural.preprocessing["trials"]
    start, stop = np.asarray(info["start_s"]), np.asarray(info["stop_s"])
    window = info["window_s"]
    for fold in row["fold_roles"]:  # in session seconds: a whole window between them
        train, val = fold == 1, fold == 2
        lo, hi = start[val].min(), stop[val].max()
        gaps = np.minimum(np.abs(start[train] - hi), np.abs(lo - stop[train]))
        assert gaps.min() >= window - 1e-9


@needs_s1
def test_cli_sweep_takes_fits_data_options_and_says_how_it_held_out(tmp_path, capsys):
    neural, behavior = s1_files(tmp_path, minutes=1.0)
    argv = ["sweep", "--neural", str(neural), "--behavior", str(behavior), "--window", "3"]
    argv += ["--bin-size", "0.1", "--zscore", "behavior", "--shared", "1", "--private-neural"]
    argv += ["0", "--private-behavior", "0", "--folds", "3", "--epochs", "1", "--jobs", "1"]
    argv += ["--neural-decoder", "linear"]
    argv += ["--quiet", "--out", str(tmp_path / "sweep.csv")]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "3 blocked folds (contiguous windows of the session" in captured.err
    out = captured.out.strip().splitlines()
    assert out[-1] == "best: shared=1 private_neural=0 private_behavior=0 neural_decoder=linear"
    assert any(line.startswith("folds: 3 blocked folds") for line in out)
    assert not any(line.startswith("edge:") for line in out)  # one value tried: no edge
    (row,) = read_csv(tmp_path / "sweep.csv")
    assert row["folds"] == "blocked"
    argv[argv.index("--window") + 1] = "30"  # two windows cannot make three blocked folds
    assert cli.main(argv) == 2
    assert "--folds 3" in capsys.readouterr().err
