"""``mmgpvae null-test`` (is the shared structure real?) and ``mmgpvae consistency`` (is it
found whatever the seed?)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mmgpvae_core.cli.common import (
    add_data_arguments,
    add_execution_arguments,
    add_folds_argument,
    add_model_arguments,
    fail,
    fit_line,
    fits_device,
    load_data,
    model_kwargs,
    where,
)


def _nulls(a: argparse.Namespace, neural, kind: str) -> str:
    """What the null pairings are, for the first line."""
    from mmgpvae_core.controls import shift_range

    if kind == "shift":
        lo, hi = shift_range(neural)
        return (
            f"{a.shuffles} circular time shifts of the behavior against the neural data (a "
            f"continuous session: shifts between {lo:g} s and {hi:g} s, at least one window "
            "and 10% of the session from zero)"
        )
    how = "within each condition" if a.within_condition else "across all trials"
    return f"{a.shuffles} with behavior trials re-paired {how}"


def cmd_null_test(a: argparse.Namespace) -> int:
    """The real pairing against re-paired behavior trials (circular time shifts of the behavior
    for a continuous session); prints ``p=P real=R null=M±SD`` last."""
    from mmgpvae_core.config import SUBSPACES
    from mmgpvae_core.controls import null_kind, run_null_test, write_null_csv
    from mmgpvae_core.evaluation.heldout import session_folds
    from mmgpvae_core.figures import null_test_figure, save_figure
    from mmgpvae_core.sweep import SweepSettings

    if a.shuffles < 1:
        return fail("null-test: --shuffles must be at least 1")
    names = None
    if not a.sessions and not (a.neural and a.behavior):
        return fail("null-test needs --neural FILE and --behavior FILE, or --sessions CSV")
    if a.sessions:
        from mmgpvae_core.cli.sessions import load_sessions

        names, neural, behavior, _ = load_sessions(a)
        first = neural[0]
    else:
        neural, behavior = load_data(a)
        first = neural
    if behavior is None:
        return fail("null-test needs --behavior FILE: it re-pairs behavior trials")
    try:
        folds = session_folds(first, a.folds, a.seed)
        kind = null_kind(first, "auto", a.within_condition)
    except ValueError as exc:
        return fail(f"null-test: {exc}")
    kwargs = model_kwargs(a)
    split = tuple(kwargs.pop(k) for k in SUBSPACES)
    kwargs.pop("device", None)
    if fits_device(a):
        kwargs["device"] = fits_device(a)
    settings = SweepSettings(
        folds=a.folds, epochs=kwargs.pop("epochs", 150), seed=a.seed, model_kwargs=kwargs
    )
    print(
        f"null-test: the real pairing and {_nulls(a, first, kind)}"
        + (f" within each of {len(names)} sessions" if names else "")
        + f"; split {a.shared}+"
        f"{a.private_neural}+{a.private_behavior}, {folds.describe()}, {settings.epochs} epochs "
        f"per fit, on {where(a)}", file=sys.stderr,
    )
    noun = "shift" if kind == "shift" else "shuffle"

    def progress(done: int, total: int, row: dict) -> None:
        what = "real pairing" if row["shuffle"] == 0 else f"{noun} {row['shuffle']}"
        if row.get("shift") is not None:
            what += f" ({row['pairing']})"
        fit_line(done, total, what, row, a.quiet)

    try:
        result = run_null_test(
            neural, behavior, split, a.shuffles, settings,
            within_condition=a.within_condition, n_jobs=a.jobs, ray_address=a.ray_address,
            on_result=progress, session_names=names,
        )
    except ValueError as exc:  # nothing to shuffle within, too short a session to shift
        return fail(f"null-test: {exc}")
    print(f"wrote {write_null_csv(result, a.out)}", file=sys.stderr)
    if a.plot:
        fig = null_test_figure(result.real_score, result.null_scores, result.p, result.pairing)
        print(f"wrote {save_figure(fig, a.plot)}", file=sys.stderr)
    if not np.isfinite(result.real_score):
        status = (result.real or {}).get("status", "cancelled")
        return fail(f"null-test: the real pairing's fit did not finish ({status})", code=1)
    for line in result.details():
        print(line)
    print(result.summary_line())
    return 0


def _manifest_sessions(a: argparse.Namespace, model) -> tuple[list, list | None]:
    """(neural, behavior) of ``a.sessions`` (read with the data options, as for sweep and
    null-test) in the order of the project's sessions; ValueError when they are not the
    project's: other names, other neural channel counts, other behavior channels or modalities,
    or trials longer than the project's."""
    from mmgpvae_core.api import check_sessions
    from mmgpvae_core.cli.sessions import load_sessions

    if not model.is_multi_session:
        raise ValueError(
            f"{a.run} holds one session; --sessions refits a project of several sessions "
            "(fit --sessions)"
        )
    names, neural, behavior, _ = load_sessions(a)
    run_names = model.session_names
    if sorted(names) != sorted(run_names):
        missing = [n for n in run_names if n not in names]
        extra = [n for n in names if n not in run_names]
        raise ValueError(
            f"its sessions are not the project's ({', '.join(run_names)}): "
            + "; ".join(part for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"not in the project: {', '.join(extra)}" if extra else "",
            ) if part)
        )
    order = [names.index(n) for n in run_names]
    neural = [neural[k] for k in order]
    behavior = None if behavior is None else [behavior[k] for k in order]
    # the project's behavior channels (or none), as a new session's are checked against them
    check_sessions(
        ["(the project)", *run_names], [model.neural, *neural],
        [model.session_data_[0][1], *(behavior or [None] * len(neural))],
    )
    for k, (name, nd) in enumerate(zip(run_names, neural)):
        shape = model.session_shapes_[k]
        what = f"session '{name}' ({nd.source})"
        if nd.n_channels != shape.n_neural:
            raise ValueError(
                f"{what}: {nd.n_channels} neural channels, but the project's session "
                f"'{name}' was fitted on {shape.n_neural}"
            )
        if nd.n_time > shape.n_time:
            raise ValueError(
                f"{what}: trials of {nd.n_time} bins, longer than the project's "
                f"{shape.n_time} (read them as the project was: --window, --trials)"
            )
    return neural, behavior


def cmd_consistency(a: argparse.Namespace) -> int:
    """Refit a project with other seeds; one line per subspace (canonical correlations)."""
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.controls import (
        fitted_latents,
        refit_settings,
        run_consistency,
        write_consistency_csv,
    )
    from mmgpvae_core.figures import consistency_figure, save_figure

    if a.seeds < 2:
        return fail("consistency: --seeds must be at least 2 (the project's and one more)")
    model = MMGPVAE.load(a.run, device="cpu")
    if not len(model.history) or model.neural is None:
        return fail(f"consistency: {a.run} holds no fitted model")
    split, settings = refit_settings(model, a.epochs, fits_device(a) or "auto")
    first = model.train_config.seed
    seeds = [first + k for k in range(1, a.seeds)]
    print(
        f"consistency: {a.run} (seed {first}) against {len(seeds)} refits, seeds "
        f"{seeds[0]}–{seeds[-1]}, up to {settings.epochs} epochs each, on {where(a)}",
        file=sys.stderr,
    )
    reference = None
    if a.sessions:  # the manifest's recordings of the project's sessions, refitted together
        try:
            neural, behavior = _manifest_sessions(a, model)
        except ValueError as exc:
            return fail(f"consistency: --sessions {a.sessions}: {exc}")
        reference = fitted_latents(model, neural, behavior)
        print(f"consistency: {len(neural)} sessions ({', '.join(model.session_names)}) from "
              f"{a.sessions} in each refit, the project's latents inferred on them",
              file=sys.stderr)
    elif model.is_multi_session:  # refit every session together
        neural = [n for n, _ in model.session_data_]
        behavior = None if model.behavior is None else [b for _, b in model.session_data_]
        print(f"consistency: {len(neural)} sessions ({', '.join(model.session_names)}) in "
              "each refit", file=sys.stderr)
    else:
        neural, behavior = model.neural, model.behavior
    result = run_consistency(
        neural, behavior, split, seeds, settings,
        reference=fitted_latents(model) if reference is None else reference,
        reference_seed=first, n_jobs=a.jobs,
        session_names=model.session_names or None,
        ray_address=a.ray_address,
        on_result=lambda d, n, r: fit_line(d, n, f"seed {r['seed']}", r, a.quiet),
    )
    if a.out:
        print(f"wrote {write_consistency_csv(result, a.out)}", file=sys.stderr)
    if a.plot:
        print(f"wrote {save_figure(consistency_figure(result), a.plot)}", file=sys.stderr)
    for line in result.lines():
        print(line)
    return 0 if any(s == "ok" for s in result.status) else fail(
        "consistency: no refit finished", code=1)


def add_null_test_parser(sub) -> None:
    n = sub.add_parser(
        "null-test",
        help="is the shared structure real? the real pairing against behavior trials re-paired "
        "at random (a continuous session: the behavior shifted circularly in time), scored by "
        "held-out cross-modal prediction (last line: p=P real=R null=M±SD)",
    )
    add_data_arguments(n)
    n.add_argument(
        "--sessions", metavar="SESSIONS.csv",
        help="several sessions (name,neural,behavior[,trials]) fitted together; each null "
        "shifts or re-pairs the behavior within each session",
    )
    add_model_arguments(n, epochs_help="maximum epochs per fit (default 150; early stop)")
    n.add_argument(
        "--shuffles", type=int, default=19,
        help="null fits (default 19): re-pairings of trials, or circular time shifts of a "
        "continuous session's behavior (each at least one window and 10%% of the session "
        "from zero)",
    )
    n.add_argument(
        "--within-condition",
        action="store_true",
        help="re-pair behavior trials only within each condition: tests trial-by-trial "
        "coupling beyond what the task (the condition) explains",
    )
    add_folds_argument(n, 2)
    n.add_argument("--out", required=True, help="one row per fit (.csv)")
    n.add_argument("--plot", help="null distribution with the real score (.png/.pdf/.svg)")
    add_execution_arguments(n)
    n.set_defaults(func=cmd_null_test)


def add_consistency_parser(sub) -> None:
    k = sub.add_parser(
        "consistency",
        help="refit a project with other seeds: canonical correlations of each subspace with "
        "the project's (one line per subspace)",
    )
    k.add_argument("run", help="project file (.mmgp): the first seed")
    k.add_argument(
        "--seeds", type=int, default=5,
        help="seeds in all, the project's included (default 5: its seed s, and refits with "
        "seeds s+1 … s+4)",
    )
    k.add_argument(
        "--sessions", metavar="SESSIONS.csv",
        help="a project of several sessions: refit them from these files (name,neural,behavior"
        "[,trials]; the project's session names and channels), read with the options below; "
        "the project's latents are inferred on them for the comparison",
    )
    add_data_arguments(
        k.add_argument_group("reading --sessions", "how the manifest's files are read (as fit)"),
        files=False,
    )
    k.add_argument("--epochs", type=int, help="maximum epochs per refit (default: the project's)")
    k.add_argument("--out", help="one row per subspace and refit (.csv)")
    k.add_argument("--plot", help="canonical correlations per subspace (.png/.pdf/.svg)")
    k.add_argument("--device", help="device per refit (default cpu locally, auto on Ray)")
    add_execution_arguments(k)
    k.set_defaults(func=cmd_consistency)
