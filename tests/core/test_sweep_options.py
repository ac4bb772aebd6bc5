"""Any model or training option as a sweep dimension: ``mmgpvae sweep --neural-decoder
linear,mlp --prune-threshold 1e-3,1e-4 --marginal-variance 0.5,1,2 --channel-masking 0,0.25``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mmgpvae_core import cli
from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import ConfigError
from mmgpvae_core.sweep import (
    CLI_SWEEP_OPTIONS,
    SWEEP_OPTIONS,
    SweepSettings,
    config_name,
    make_grid,
    parse_option,
    read_csv,
    run_sweep,
    swept,
)
from mmgpvae_core.sweep.grow import extended
from mmgpvae_core.sweep.selection import SweepResult
from mmgpvae_core.synthetic.simulate import simulate, write_simulation

#: what the fits of ``_recording_scorer`` were given, one dict of their parameters per fit
SEEN: list[dict] = []


def _recording_scorer(model, neural, behavior, n_groups=4, seed=0):
    """A stand-in score (module level, as the sweep asks) that notes the fitted model's
    parameters: what the sweep really fitted."""
    SEEN.append(model.get_params())
    return {"score_per_trial": np.zeros(neural.n_trials)}


@pytest.fixture(scope="module")
def tiny():
    return simulate(n_trials=12, n_time=20, n_neurons=8, n_keypoints=2, seed=2)


def test_every_option_fit_takes_can_be_swept_from_the_command_line():
    # the four (step size, marginal variance, initial length-scale, pruning
    # threshold), the decoders and the two training fractions
    for name in (
        "lr", "marginal_variance", "length_scale_init", "prune_threshold", "neural_decoder",
        "behavior_decoder", "channel_masking", "cross_modal", "kernel", "batch_size",
    ):
        assert name in CLI_SWEEP_OPTIONS
    assert set(CLI_SWEEP_OPTIONS) <= set(SWEEP_OPTIONS)
    # one value for every fold and fit: the split is the grid, the likelihood is resolved once
    for name in ("shared", "neural_likelihood", "epochs", "seed", "device"):
        assert name not in SWEEP_OPTIONS


def test_option_values_are_typed_and_checked_by_the_config_naming_the_flag():
    assert parse_option("neural_decoder", "linear,mlp") == ["linear", "mlp"]
    assert parse_option("prune_threshold", ["1e-3,1e-4", "1e-3"]) == [1e-3, 1e-4]
    assert parse_option("batch_size", "10, 20") == [10, 20]
    assert parse_option("lr", None) == [None]
    assert parse_option("kernel", "rbf,matern12") == ["rbf", "matern12"]
    with pytest.raises(ConfigError, match=r"--neural-decoder cnn: neural_decoder: must be one"):
        parse_option("neural_decoder", "linear,cnn")
    with pytest.raises(ConfigError, match=r"--prune-threshold 2: prune_threshold"):
        parse_option("prune_threshold", "1e-3,2")
    with pytest.raises(ConfigError, match=r"--channel-masking 1: channel_masking"):
        parse_option("channel_masking", "0,1")
    with pytest.raises(ValueError, match=r"--marginal-variance big: expected float"):
        parse_option("marginal_variance", "big")
    with pytest.raises(ValueError, match=r"--batch-size 2.5: expected int"):
        parse_option("batch_size", "2.5")


def test_each_combination_of_options_is_one_named_configuration():
    grid = make_grid(
        [1, 2], [0], [0], lrs=[0.01], neural_decoder=["linear", "mlp"],
        prune_threshold=[1e-3, 1e-4], marginal_variance=[None],
    )
    assert len(grid) == 2 * 2 * 2
    combos = {(c["shared"], c["neural_decoder"], c["prune_threshold"]) for c in grid}
    assert combos == set(itertools.product([1, 2], ["linear", "mlp"], [1e-3, 1e-4]))
    assert all(c["lr"] == 0.01 and "marginal_variance" not in c for c in grid)  # [None]: default
    assert len({config_name(c) for c in grid}) == len(grid)  # saved fits, --grow tell them apart
    assert all("," not in config_name(c) and "=" not in config_name(c) for c in grid)
    assert make_grid([1], [0], [0], lr=[0.1])[0]["lr"] == 0.1  # the field name is fine too
    with pytest.raises(ValueError, match="epochs"):
        make_grid([1], [0], [0], epochs=[5, 10])
    # --grow extends the split and carries every option through unchanged
    axes = {"shared": [1, 2], "private_neural": [0], "private_behavior": [0],
            "neural_decoder": ["linear", "mlp"]}
    grown = extended(axes, ["shared"])
    assert grown["neural_decoder"] == ["linear", "mlp"] and grown["shared"] == [1, 2, 3]
    assert len(make_grid(**grown)) == 6


def test_the_best_line_names_every_option_the_sweep_set():
    row = {**make_grid([2], [1], [0], lrs=[0.005], kernels=["matern12"],
                       neural_decoder=["mlp"], prune_threshold=[1e-4],
                       channel_masking=[0.0])[0], "score": 0.0}
    assert swept(row)[0] == ("kernel", "matern12")  # first, where it was before
    assert SweepResult([row], 0, "").best_line() == (
        "best: shared=2 private_neural=1 private_behavior=0 kernel=matern12 "
        "neural_decoder=mlp prune_threshold=0.0001 lr=0.005 channel_masking=0"
    )


def test_the_sweep_fits_each_configuration_with_its_options(tiny):
    SEEN.clear()
    grid = make_grid([1], [0], [0], neural_decoder=["linear", "mlp"], marginal_variance=[0.5, 2.0])
    settings = SweepSettings(
        folds=2, epochs=1, model_kwargs={"device": "cpu", "channel_masking": 0.1},
        scorer=_recording_scorer,
    )
    result = run_sweep(tiny.neural, tiny.behavior, grid, settings, n_jobs=1)
    fitted = {(p["neural_decoder"], p["marginal_variance"]) for p in SEEN}
    assert fitted == {("linear", 0.5), ("linear", 2.0), ("mlp", 0.5), ("mlp", 2.0)}
    assert len(SEEN) == 8 and all(p["channel_masking"] == 0.1 for p in SEEN)  # shared setting
    assert [(r["neural_decoder"], r["marginal_variance"]) for r in result.rows] == [
        (c["neural_decoder"], c["marginal_variance"]) for c in grid
    ]


def test_cli_sweep_takes_any_option_as_a_grid_and_reports_it(tiny, tmp_path, capsys):
    paths = write_simulation(tmp_path / "data", tiny)
    argv = ["sweep", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"])]
    argv += ["--shared", "1", "--private-neural", "0", "--private-behavior", "0"]
    argv += ["--neural-decoder", "linear,mlp", "--prune-threshold", "1e-3"]
    argv += ["--marginal-variance", "0.5", "--marginal-variance", "2", "--channel-masking", "0,0.25"]
    argv += ["--lr", "0.02", "--folds", "2", "--epochs", "1", "--jobs", "1", "--quiet"]
    argv += ["--save-fits", str(tmp_path / "fits"), "--out", str(tmp_path / "sweep.csv")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    rows = read_csv(tmp_path / "sweep.csv")
    tried = {(r["neural_decoder"], r["marginal_variance"], r["channel_masking"]) for r in rows}
    assert tried == set(itertools.product(["linear", "mlp"], ["0.5", "2"], ["0", "0.25"]))
    assert len(rows) == 8 and {r["prune_threshold"] for r in rows} == {"0.001"}
    assert {r["lr"] for r in rows} == {"0.02"}
    (best,) = [r for r in rows if r["chosen"] == "1"]
    assert out[-1] == (
        "best: shared=1 private_neural=0 private_behavior=0 "
        f"neural_decoder={best['neural_decoder']} marginal_variance={best['marginal_variance']} "
        f"prune_threshold=0.001 lr=0.02 channel_masking={best['channel_masking']}"
    )
    # each saved fit was made with its row's settings
    for r in rows:
        model = MMGPVAE.load(r["project"])
        assert model.neural_decoder == r["neural_decoder"]
        assert model.marginal_variance == float(r["marginal_variance"])
        assert model.channel_masking == float(r["channel_masking"])
        assert model.prune_threshold == 1e-3 and model.lr == 0.02
    bad = [*argv[:-2], "--out", str(tmp_path / "x.csv")]
    bad[bad.index("linear,mlp")] = "linear,cnn"
    assert cli.main(bad) == 2
    err = capsys.readouterr().err
    assert "--neural-decoder cnn" in err and "must be one of" in err


def test_fit_takes_the_marginal_variance(tiny, tmp_path):
    paths = write_simulation(tmp_path / "data", tiny)
    out = tmp_path / "m.mmgp"
    argv = ["fit", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"])]
    argv += ["--marginal-variance", "2.5", "--epochs", "1", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    assert MMGPVAE.load(out).marginal_variance == 2.5


def test_of_two_tied_configurations_the_linear_read_out_is_chosen():
    from mmgpvae_core.sweep import select_best

    scores = np.linspace(-1.0, 1.0, 20)
    noise = np.random.default_rng(0).normal(0.0, 0.5, 20)
    noise -= noise.mean()  # the MLP better by 0.01 on average, far inside one SE
    rows = [
        {**make_grid([1], [0], [0], neural_decoder=[d])[0], "n_latents": 1, "status": "ok",
         "score": float(np.mean(scores + bump)), "score_per_trial": scores + bump}
        for d, bump in (("mlp", 0.01 + noise), ("linear", 0.0))
    ]
    assert rows[0]["score"] > rows[1]["score"]
    assert rows[select_best(rows)[0]]["neural_decoder"] == "linear"  # within one SE: simpler
    rows[0]["score_per_trial"] = scores + 1.0  # clearly better: the MLP
    rows[0]["score"] = float(np.mean(rows[0]["score_per_trial"]))
    assert rows[select_best(rows)[0]]["neural_decoder"] == "mlp"


def test_a_sweep_of_spike_counts_tries_both_neural_read_outs_unless_one_is_named(
    tiny, tmp_path, capsys
):
    paths = write_simulation(tmp_path / "data", tiny)  # Poisson spike counts
    argv = ["sweep", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"])]
    argv += ["--shared", "1", "--private-neural", "0", "--private-behavior", "0", "--folds", "2"]
    argv += ["--epochs", "1", "--jobs", "1", "--quiet", "--out", str(tmp_path / "sweep.csv")]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "linear and an MLP neural read-out" in captured.err
    rows = read_csv(tmp_path / "sweep.csv")
    assert sorted(r["neural_decoder"] for r in rows) == ["linear", "mlp"]
    (best,) = [r for r in rows if r["chosen"] == "1"]
    last = captured.out.strip().splitlines()[-1]
    assert last == f"best: shared=1 private_neural=0 private_behavior=0 neural_decoder={best['neural_decoder']}"
    assert cli.main([*argv[:-2], "--neural-decoder", "mlp", "--out", str(tmp_path / "m.csv")]) == 0
    assert [r["neural_decoder"] for r in read_csv(tmp_path / "m.csv")] == ["mlp"]
    assert "MLP neural read-out" not in capsys.readouterr().err
    # calcium (a gaussian likelihood): the read-out is the default, not a grid
    calcium = [*argv[:-2], "--neural-likelihood", "gaussian", "--out", str(tmp_path / "c.csv")]
    assert cli.main(calcium) == 0
    (row,) = read_csv(tmp_path / "c.csv")
    assert "neural_decoder" not in row


def test_one_rule_says_which_read_outs_a_sweep_tries():
    """``readout_options`` is what the CLI's sweep asks and ``with_readouts`` what the app's
    asks: both read-outs on counts when none is named, in make_grid's order; else as given."""
    from mmgpvae_core.sweep import readout_options, with_readouts

    assert readout_options("poisson") == {"neural_decoder": ["linear", "mlp"]}
    assert readout_options("negbinomial") == {"neural_decoder": ["linear", "mlp"]}
    assert readout_options("poisson", "mlp") == {} == readout_options("gaussian")
    assert readout_options(None) == {}
    splits = make_grid([1, 2], [0], [0])
    tried = with_readouts(splits, "poisson")
    assert tried == make_grid([1, 2], [0], [0], neural_decoder=["linear", "mlp"])
    assert with_readouts(splits, "gaussian") == splits
    named = make_grid([1, 2], [0], [0], neural_decoder=["mlp"])
    assert with_readouts(named, "poisson") == named
