"""The model-selection demo: a cross-validated sweep over latent splits on simulated data with a
known split (2 shared, 1 + 1 private), then cross-modal prediction of behavior from neural activity
on held-out trials. Appends a dated section to ``benchmarks/SWEEP_RESULTS.md``.

    .venv/bin/python benchmarks/sweep_demo.py [--trials 80 --bins 60 --epochs 200 --folds 2]

Fits use the default training (early stop on a plateau, cross-modal training at
``TrainConfig.cross_modal``); the true split is also fitted without cross-modal training, for
comparison. Cost on 2 busy CPU cores with ``--tied-private``: about 12–15 minutes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)
from _common import progress_printer

HERE = Path(__file__).resolve().parent


def bayes_ceiling(sim, train, val, seed=0) -> float:
    """Pooled R² of behavior predicted from the TRUE shared latents (a per-bin MLP regression):
    about the best any model can do from neural activity alone, since the private behavior latent
    is independent of everything the neurons see."""
    from sklearn.neural_network import MLPRegressor

    zs, y = sim.truth["shared"], sim.behavior.data
    reg = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=500, random_state=seed)
    reg.fit(zs[train].reshape(-1, zs.shape[2]), y[train].reshape(-1, y.shape[2]))
    pred = reg.predict(zs[val].reshape(-1, zs.shape[2])).reshape(y[val].shape)
    from mmgpvae_core.evaluation.heldout import r2_pooled

    return r2_pooled(y[val], pred)


def cross_modal(sim, split, epochs, seed, **kwargs) -> dict:
    """Fit ``split`` on 75 % of the trials; predict behavior from neural alone on the rest."""
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.evaluation.heldout import evaluate, train_val_split

    train, val = train_val_split(sim.neural.n_trials, 0.25, sim.neural.conditions, seed=seed)
    model = MMGPVAE(*split, seed=seed, **kwargs)
    t0 = time.perf_counter()
    model.fit(sim.neural.subset(train), sim.behavior.subset(train), epochs=epochs)
    ev = evaluate(model, sim.neural.subset(val), sim.behavior.subset(val), seed=seed)
    return {
        "r2": ev["r2_behavior_from_neural"],
        "r2_mean": ev["r2_behavior_from_neural_mean"],
        "r2_channels": ev["r2_behavior_channels"],
        "bps_from_behavior": ev["bps_neural_from_behavior"],
        "cosmooth_bps": ev["cosmooth_bps"],
        "ceiling": bayes_ceiling(sim, train, val, seed),
        "n_val": len(val),
        "seconds": time.perf_counter() - t0,
        "epochs": len(model.history),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=80)
    p.add_argument("--bins", type=int, default=60)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--final-epochs", type=int, default=300)
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "SWEEP_RESULTS.md"))
    p.add_argument(
        "--tied-private",
        action="store_true",
        help="private neural = private behavior (15 splits instead of 45, a third of the time)",
    )
    ttf.add_smoke_argument(
        p,
        "12 trials, 2 splits, 1 epoch, in this process; CSV and PNG to a temporary folder, "
        "nothing appended",
    )
    a = p.parse_args()
    if a.smoke:
        a.trials, a.bins, a.epochs, a.final_epochs, a.jobs = 12, 30, 1, 1, 1
    scratch = tempfile.TemporaryDirectory() if a.smoke else None
    files = Path(scratch.name) if scratch else HERE  # the CSV and the PNG

    import torch

    torch.set_num_threads(1)
    from mmgpvae_core.config import TrainConfig
    from mmgpvae_core.sweep import (
        SweepSettings,
        format_table,
        make_grid,
        plot_sweep,
        run_sweep,
        write_csv,
    )
    from mmgpvae_core.synthetic.simulate import simulate

    # Private behavior latent at weight 0.5: shared structure dominates behavior (see simulate).
    sim = simulate(n_trials=a.trials, n_time=a.bins, seed=a.seed, private_behavior_weight=0.5)
    grid = make_grid(range(1, 3), [1], [1]) if a.smoke else make_grid(range(5), range(3), range(3))
    if a.tied_private:
        grid = [g for g in grid if g["private_neural"] == g["private_behavior"]]
    settings = SweepSettings(folds=a.folds, epochs=a.epochs, seed=0)
    t0 = time.perf_counter()

    progress = progress_printer(
        t0,
        lambda row: f"s{row['shared']} a{row['private_neural']} b{row['private_behavior']} "
        f"score {row['score']:.1f}",
    )

    result = run_sweep(sim.neural, sim.behavior, grid, settings, n_jobs=a.jobs, on_result=progress)
    sweep_s = time.perf_counter() - t0
    csv_path = write_csv(result, files / "sweep_demo_results.csv")
    png_path = plot_sweep(result, files / "sweep_demo.png")
    best = result.best
    chosen = (best["shared"], best["private_neural"], best["private_behavior"])
    top = max((r for r in result.rows if r["status"] == "ok"), key=lambda r: r["score"])

    cm_true = cross_modal(sim, (2, 1, 1), a.final_epochs, a.seed)
    cm_off = cross_modal(sim, (2, 1, 1), a.final_epochs, a.seed, cross_modal=0.0)
    frac = TrainConfig().cross_modal
    sim_b0 = simulate(
        n_trials=a.trials, n_time=a.bins, private_behavior=0, seed=a.seed,
        private_behavior_weight=0.5,
    )
    cm_b0 = cross_modal(sim_b0, (2, 1, 0), a.final_epochs, a.seed)

    lines = [
        f"\n## Sweep demo, {datetime.datetime.now():%Y-%m-%d %H:%M}",
        "",
        f"`benchmarks/sweep_demo.py --trials {a.trials} --bins {a.bins} --epochs {a.epochs} "
        f"--folds {a.folds} --final-epochs {a.final_epochs} --jobs {a.jobs} --seed {a.seed}`: "
        f"`simulate(n_trials={a.trials}, n_time={a.bins}, seed={a.seed}, "
        "private_behavior_weight=0.5)` (60 Poisson neurons, "
        "16 pose channels; truth: 2 shared, 1 + 1 private). Grid: shared 0–4 × "
        + (
            "private (neural = behavior) 0–2"
            if a.tied_private
            else "private neural 0–2 × private behavior 0–2"
        )
        + f" ({len(grid)} splits), {a.folds}-fold CV stratified by "
        f"condition, up to {a.epochs} epochs per fit (early stop on a plateau), cross-modal "
        f"training on {frac:.0%} of trials, {a.jobs} processes on a shared 2-core machine: "
        f"{sweep_s / 60:.1f} min.",
        "",
        format_table(result),
        "",
        f"Highest score: s{top['shared']} a{top['private_neural']} b{top['private_behavior']}. "
        f"Rule: {result.reason}.",
        "",
        f"**{result.best_line()}** — true split (2, 1, 1): "
        + ("recovered." if chosen == (2, 1, 1) else f"NOT recovered (chose {chosen})."),
        "",
        f"Cross-modal, true split fitted on 75 % of trials for {cm_true['epochs']} epochs, "
        f"{cm_true['n_val']} held-out trials: behavior from neural alone R² = "
        f"{cm_true['r2']:.3f} pooled ({cm_true['r2_mean']:.3f} mean over channels; per channel "
        f"{np.round(cm_true['r2_channels'], 2).tolist()}); without cross-modal training (same "
        f"seed, {cm_off['epochs']} epochs) R² = {cm_off['r2']:.3f}. The ceiling, R² from the TRUE "
        f"shared latents, is {cm_true['ceiling']:.3f} (the private behavior latent, independent "
        f"of the neurons, carries the rest). Neural from behavior alone: "
        f"{cm_true['bps_from_behavior']:.3f} bits/spike; co-smoothing {cm_true['cosmooth_bps']:.3f}"
        " bits/spike.",
        "",
        f"Same with no private behavior latent (`simulate(private_behavior=0)`, split (2, 1, 0)): "
        f"R² = {cm_b0['r2']:.3f} pooled ({cm_b0['r2_mean']:.3f} mean), ceiling "
        f"{cm_b0['ceiling']:.3f}.",
        "",
        f"Files: `{csv_path.name}`, `{png_path.name}`.",
    ]
    text = "\n".join(lines) + "\n"
    out = Path(a.out)
    if scratch is not None:
        scratch.cleanup()
    else:
        if not out.exists():
            out.write_text("# Model-selection sweep results\n")
        with open(out, "a") as f:
            f.write(text)
    print(text)
    print(result.best_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
