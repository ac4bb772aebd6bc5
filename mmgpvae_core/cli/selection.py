"""``mmgpvae sweep``: choose the latent split by k-fold cross-validation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mmgpvae_core.cli.common import add_likelihood_arguments, fail, fits_device, where


def cmd_sweep(a: argparse.Namespace) -> int:
    """Cross-validated sweep over latent splits; prints ``best: ...`` last."""
    from mmgpvae_core.loaders import load_pair
    from mmgpvae_core.sweep import (
        SweepSettings,
        format_table,
        make_grid,
        parse_floats,
        parse_range,
        plot_sweep,
        run_sweep,
        write_csv,
    )

    try:
        grid = make_grid(
            parse_range(a.shared),
            parse_range(a.private_neural),
            parse_range(a.private_behavior) if a.behavior else [0],
            parse_floats(a.length_scale_init),
            parse_floats(a.lr),
        )
    except ValueError as exc:
        return fail(f"sweep: {exc}")
    if not grid:
        return fail("sweep: the grid is empty")
    neural, behavior = load_pair(a.neural, a.behavior)
    if a.folds < 2 or a.folds > neural.n_trials:
        return fail(f"sweep: --folds must be between 2 and {neural.n_trials} (the trials)")
    from mmgpvae_core.model.likelihoods import resolve_likelihood

    model_kwargs: dict[str, Any] = {}
    for modality, ds in (("neural", neural), ("behavior", behavior)):
        if ds is None:
            continue
        choice = resolve_likelihood(getattr(a, f"{modality}_likelihood"), ds, modality)
        model_kwargs[f"{modality}_likelihood"] = choice.name  # one choice for every fold
        print(f"sweep: {modality} likelihood: {choice}", file=sys.stderr)
    if fits_device(a):
        model_kwargs["device"] = fits_device(a)
    settings = SweepSettings(
        folds=a.folds, epochs=a.epochs, seed=a.seed, model_kwargs=model_kwargs,
        save_dir=a.save_fits,
    )
    print(
        f"sweep: {len(grid)} configurations × {a.folds} folds, {a.epochs} epochs each, on "
        f"{where(a)}", file=sys.stderr,
    )

    def progress(done: int, total: int, row: dict) -> None:
        if not a.quiet:
            print(
                f"  [{done}/{total}] shared={row['shared']} private_neural="
                f"{row['private_neural']} private_behavior={row['private_behavior']}: "
                f"score {row['score']:.2f} ({row['status']})", file=sys.stderr, flush=True,
            )

    result = run_sweep(
        neural, behavior, grid, settings, n_jobs=a.jobs, ray_address=a.ray_address,
        on_result=progress,
    )
    out = write_csv(result, a.out)
    print(f"wrote {out}", file=sys.stderr)
    if a.plot:
        print(f"wrote {plot_sweep(result, a.plot)}", file=sys.stderr)
    print(format_table(result))
    print(f"why: {result.reason}")
    if result.best is None:
        return fail("sweep: no configuration finished", code=1)
    print(result.best_line())
    return 0


def add_parser(sub) -> None:
    w = sub.add_parser(
        "sweep", help="choose the latent split by k-fold cross-validation (CSV table, plot)"
    )
    w.add_argument("--neural", required=True, help="neural data file")
    w.add_argument("--behavior", help="behavior data file")
    add_likelihood_arguments(w)
    w.add_argument("--shared", default="0-4", help="shared dimensions to try, e.g. 0-4 or 1,2,3")
    w.add_argument("--private-neural", default="0-2", help="private neural dimensions to try")
    w.add_argument("--private-behavior", default="0-2", help="private behavior dimensions to try")
    w.add_argument("--folds", type=int, default=3, help="cross-validation folds over trials")
    w.add_argument("--epochs", type=int, default=150, help="maximum epochs per fit")
    w.add_argument("--out", required=True, help="results table to write (.csv)")
    w.add_argument("--plot", help="figure of held-out score against dimensions (.png/.pdf/.svg)")
    w.add_argument(
        "--ray-address",
        help="run on this Ray cluster (Ray Tune; 'local' starts one here): one trial per worker",
    )
    w.add_argument("--jobs", type=int, help="local processes (default: all cores)")
    w.add_argument("--length-scale-init", help="initial length-scales to try, bins: a,b")
    w.add_argument("--lr", help="learning rates to try: a,b")
    w.add_argument("--seed", type=int, default=0, help="seeds folds, channel groups and fits")
    w.add_argument("--device", help="device per fit (default cpu locally, auto on Ray)")
    w.add_argument("--save-fits", metavar="DIR", help="save each configuration's first-fold fit")
    w.add_argument("--quiet", action="store_true", help="no per-configuration progress lines")
    w.set_defaults(func=cmd_sweep)
