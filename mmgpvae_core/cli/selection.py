"""``mmgpvae sweep``: choose the latent split by k-fold cross-validation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mmgpvae_core.cli.common import (
    add_data_arguments,
    add_folds_argument,
    add_likelihood_arguments,
    fail,
    fits_device,
    load_data,
    where,
)


def _grid_options() -> list[str]:
    """The options ``sweep`` takes as a grid beside the split, with flags made from the config
    fields as ``fit``'s are; --length-scale-init, --lr and --kernel have flags of their own."""
    from mmgpvae_core.sweep import CLI_SWEEP_OPTIONS, HYPER_KEYS

    return [n for n in CLI_SWEEP_OPTIONS if n not in HYPER_KEYS]


def _axes(a: argparse.Namespace, has_behavior: bool) -> dict[str, Any]:
    """The grid as ``make_grid`` keyword arguments (what ``--grow`` extends); each option's
    values are checked by the config (ValueError naming the flag)."""
    from mmgpvae_core.sweep import parse_kernels, parse_option, parse_range

    axes: dict[str, Any] = {
        "shared": parse_range(a.shared),
        "private_neural": parse_range(a.private_neural),
        "private_behavior": parse_range(a.private_behavior) if has_behavior else [0],
        "length_scale_inits": parse_option("length_scale_init", a.length_scale_init),
        "lrs": parse_option("lr", a.lr),
        "kernels": parse_kernels(a.kernel),
    }
    for name in _grid_options():
        if getattr(a, name, None):
            axes[name] = parse_option(name, getattr(a, name))
    return axes


def _model_kwargs(a: argparse.Namespace, neural, behavior) -> dict[str, Any]:
    """One likelihood choice for every fold (printed), and the device of each fit."""
    from mmgpvae_core.model.likelihoods import resolve_likelihood

    model_kwargs: dict[str, Any] = {}
    for modality, ds in (("neural", neural), ("behavior", behavior)):
        if ds is None:
            continue
        choice = resolve_likelihood(getattr(a, f"{modality}_likelihood"), ds, modality)
        model_kwargs[f"{modality}_likelihood"] = choice.name
        print(f"sweep: {modality} likelihood: {choice}", file=sys.stderr)
    if fits_device(a):
        model_kwargs["device"] = fits_device(a)
    return model_kwargs


def _progress(a: argparse.Namespace):
    from mmgpvae_core.sweep import format_value, swept

    def progress(done: int, total: int, row: dict) -> None:
        if not a.quiet:
            options = "".join(f" {k}={format_value(v)}" for k, v in swept(row))
            print(
                f"  [{done}/{total}] shared={row['shared']} private_neural="
                f"{row['private_neural']} private_behavior={row['private_behavior']}"
                f"{options}: score {row['score']:.2f} ({row['status']})",
                file=sys.stderr, flush=True,
            )

    return progress


def _grow(a, neural, behavior, axes, result, settings, execution):
    from mmgpvae_core.sweep import grow_sweep

    def extend(k: int, added: dict[str, int], n_new: int) -> None:
        what = ", ".join(f"{s}={v}" for s, v in added.items())
        print(
            f"grow: extension {k}/{a.grow}: the choice was on the edge; adding {what} "
            f"({n_new} new configurations)", file=sys.stderr, flush=True,
        )

    return grow_sweep(
        neural, behavior, axes, result, settings, rounds=a.grow, on_extend=extend, **execution
    )


def cmd_sweep(a: argparse.Namespace) -> int:
    """Cross-validated sweep over latent splits; prints ``best: ...`` last."""
    from mmgpvae_core.evaluation.heldout import session_folds
    from mmgpvae_core.sweep import (
        SweepSettings,
        edge_line,
        format_table,
        make_grid,
        readout_options,
        run_sweep,
        write_csv,
    )

    if not (a.neural or a.sessions):
        return fail("sweep: --neural FILE (or --sessions SESSIONS.csv) is required")
    if a.grow < 0:
        return fail("sweep: --grow must be 0 or more extensions")
    names = None
    if a.sessions:  # several sessions, each configuration fitted on all of them together
        from mmgpvae_core.cli.sessions import load_sessions

        names, neural, behavior, _ = load_sessions(a)
        first, first_b = neural[0], None if behavior is None else behavior[0]
    else:
        neural, behavior = load_data(a)
        first, first_b = neural, behavior
    try:
        axes = _axes(a, first_b is not None)
        grid = make_grid(**axes)
    except ValueError as exc:
        return fail(f"sweep: {exc}")
    if not grid:
        return fail("sweep: the grid is empty")
    try:
        folds = session_folds(first, a.folds, a.seed)
    except ValueError as exc:
        return fail(f"sweep: --folds {a.folds}: {exc}")
    settings = SweepSettings(
        folds=a.folds, epochs=a.epochs, seed=a.seed,
        model_kwargs=_model_kwargs(a, first, first_b), save_dir=a.save_fits,
    )
    readouts = readout_options(settings.model_kwargs.get("neural_likelihood"), a.neural_decoder)
    if readouts:  # spike counts, no --neural-decoder: both read-outs (the core's one rule)
        axes.update(readouts)
        grid = make_grid(**axes)
        print(
            "sweep: spike counts: each split is tried with a linear and an MLP neural read-out "
            "(--neural-decoder linear fixes it)", file=sys.stderr,
        )
    print(
        f"sweep: {len(grid)} configurations × {a.folds} folds, {a.epochs} epochs each, on "
        f"{where(a)}; {folds.describe()}", file=sys.stderr,
    )
    if names:
        print(f"sweep: {len(names)} sessions ({', '.join(names)}) in every fit; folds within "
              "each session", file=sys.stderr)
    execution = dict(n_jobs=a.jobs, ray_address=a.ray_address, on_result=_progress(a))
    if names:
        execution["session_names"] = names
    result = run_sweep(neural, behavior, grid, settings, **execution)
    if a.grow:
        result, axes = _grow(a, neural, behavior, axes, result, settings, execution)
    out = write_csv(result, a.out)
    print(f"wrote {out}", file=sys.stderr)
    if a.plot:
        from mmgpvae_core.figures.sweep import plot_sweep

        print(f"wrote {plot_sweep(result, a.plot)}", file=sys.stderr)
    print(format_table(result))
    print(f"folds: {folds.describe()}")
    print(f"why: {result.reason}")
    if result.best is None:
        return fail("sweep: no configuration finished", code=1)
    edge = edge_line(result, axes, grow_hint=not a.grow)
    if edge:
        print(edge + (f" (still, after --grow {a.grow})" if a.grow else ""))
    print(result.best_line())
    return 0


def add_parser(sub) -> None:
    w = sub.add_parser(
        "sweep", help="choose the latent split by k-fold cross-validation (CSV table, plot)"
    )
    add_data_arguments(w)
    w.add_argument(
        "--sessions", metavar="SESSIONS.csv",
        help="several sessions (name,neural,behavior[,trials]): every configuration is one "
        "model of all of them, held out fold by fold within each session",
    )
    add_likelihood_arguments(w)
    w.add_argument("--shared", default="0-4", help="shared dimensions to try, e.g. 0-4 or 1,2,3")
    w.add_argument("--private-neural", default="0-2", help="private neural dimensions to try")
    w.add_argument("--private-behavior", default="0-2", help="private behavior dimensions to try")
    add_folds_argument(w, 3, gap=True)
    w.add_argument(
        "--grow", type=int, nargs="?", const=3, default=0, metavar="N",
        help="while the chosen split takes the largest value tried for a subspace, add the "
        "next value (one step of that subspace's grid) and fit the new configurations; at "
        "most N extensions (default 3)",
    )
    w.add_argument("--epochs", type=int, default=150, help="maximum epochs per fit")
    w.add_argument("--out", required=True, help="results table to write (.csv)")
    w.add_argument("--plot", help="figure of held-out score against dimensions (.png/.pdf/.svg)")
    w.add_argument(
        "--ray-address",
        help="run on this Ray cluster (Ray Tune; 'local' starts one here): one trial per worker",
    )
    w.add_argument("--jobs", type=int, help="local processes (default: all cores)")
    w.add_argument("--length-scale-init", help="initial length-scales to try, bins: a,b")
    w.add_argument("--lr", help="learning rates (step sizes) to try: a,b")
    w.add_argument(
        "--kernel", action="append", metavar="NAMES|SUBSPACE=NAME,...",
        help="GP kernels to try: rbf,matern12 (each for every latent); a per-subspace setting as "
        "for fit (shared=matern12,private_behavior=rbf) is one choice; repeat the option to "
        "add more. The best line then names the kernel",
    )
    _add_grid_options(w)
    w.add_argument("--seed", type=int, default=0, help="seeds folds, channel groups and fits")
    w.add_argument("--device", help="device per fit (default cpu locally, auto on Ray)")
    w.add_argument("--save-fits", metavar="DIR", help="save each configuration's first-fold fit")
    w.add_argument("--quiet", action="store_true", help="no per-configuration progress lines")
    w.set_defaults(func=cmd_sweep)


def _add_grid_options(w: argparse.ArgumentParser) -> None:
    """A flag for each other model or training option of ``fit`` (``_grid_options``), taking
    the values to try: "a,b", repeatable; the help is the config field's."""
    from mmgpvae_core.sweep import flag, option_field

    g = w.add_argument_group(
        "options to try",
        "any model or training option of fit, as values to try (a,b; repeat the option to add "
        "more): every combination with every split is one configuration, and the best line "
        "names the chosen value (NAME=VALUE)",
    )
    for name in _grid_options():
        _, f = option_field(name)
        what = (f.metadata.get("help") or name.replace("_", " ")).format(default=f.default)
        if "default" not in what:
            what += f" (default {f.default})"
        choices = f.metadata.get("choices")
        g.add_argument(
            flag(name), dest=name, action="append",
            metavar=",".join(choices) if choices else "A,B",
            help=f"to try: {what}",
        )
