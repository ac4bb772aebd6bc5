"""What a fit gives: ``mmgpvae export-latents``, ``mmgpvae score`` (against a known truth) and
``mmgpvae figures``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import numpy as np

from mmgpvae_core.cli.common import fail


def cmd_export_latents(a: argparse.Namespace) -> int:
    from mmgpvae_core.project.export import collect_latents, export_latents, latents_format

    latents_format(a.out)  # a wrong extension fails before the project is read
    from mmgpvae_core.project.file import read_project_config

    names = read_project_config(a.run).get("sessions", {}).get("names")
    if names:
        return _export_sessions(a, names)
    if a.continuous:
        from mmgpvae_core.project.export import export_continuous

        out = export_continuous(a.run, a.out)
        with np.load(out) if out.suffix == ".npz" else contextlib.nullcontext() as z:
            what = {k: z[k].shape for k in z.files} if z is not None else "session-long series"
        print(f"wrote {out}: {what}")
        return 0
    latents = collect_latents(a.run)
    out = export_latents(latents, a.out)
    shapes = {k: v.shape for k, v in latents.arrays.items() if not k.endswith("_var")}
    print(f"wrote {out}: {shapes}")
    return 0


def _export_sessions(a: argparse.Namespace, names: list[str]) -> int:
    """A project of several sessions: one file per session, ``X_<name>.npz`` (or ``.nwb``),
    each with the keys a single session's file has; its shared latents in one space."""
    from mmgpvae_core.project.export import collect_session_latents, export_latents, session_stems

    outs = session_stems(a.out, names)
    if a.continuous:
        from mmgpvae_core.api import MMGPVAE
        from mmgpvae_core.project.export import export_continuous

        model = MMGPVAE.load(a.run, device="cpu")
        for (name, view), out in zip(model.sessions(), outs):
            export_continuous(view, out)
            print(f"wrote {out}: session {name}, session-long series")
        return 0
    for (name, latents), out in zip(collect_session_latents(a.run), outs):
        export_latents(latents, out)
        shapes = {k: v.shape for k, v in latents.arrays.items() if not k.endswith("_var")}
        print(f"wrote {out}: session {name}: {shapes}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from mmgpvae_core.evaluation.recovery import score_latent_files

    scores, folds = score_latent_files(a.latents, a.truth, with_folds=True)
    print(f"score: linear maps fitted and scored on {folds}", file=sys.stderr)
    if a.json:
        print(json.dumps(scores, indent=2))
    else:
        for k, v in scores.items():
            print(f"{k:28s} {v:7.3f}")
    return 0


def cmd_figures(a: argparse.Namespace) -> int:
    from mmgpvae_core.figures import write_control_figures, write_figure_set

    if not (a.run or a.null_test or a.consistency):
        return fail("figures needs a project RUN.mmgp, --null-test CSV or --consistency CSV")
    trials = [int(t) for t in a.trials.split(",")] if a.trials else None
    paths = write_figure_set(a.run, a.out, fmt=a.format, trials=trials, dpi=a.dpi) if a.run else []
    if a.run:  # a project of several sessions: all of them in their one latent space
        from mmgpvae_core.figures.sessions import write_session_figures

        paths += write_session_figures(a.run, a.out, fmt=a.format, dpi=a.dpi)
    paths += write_control_figures(a.out, a.format, a.null_test, a.consistency, dpi=a.dpi)
    for p in paths:
        print(f"wrote {p}")
    return 0


def add_export_parser(sub) -> None:
    e = sub.add_parser("export-latents", help="posterior latents of a project as NPZ or NWB")
    e.add_argument("run", help="project file (.mmgp)")
    e.add_argument(
        "--out", required=True, help="output file: .npz (NumPy arrays) or .nwb (NWB, for pynapple)"
    )
    e.add_argument(
        "--continuous", action="store_true",
        help="a session fit on --window windows: one row per bin over the whole session "
        "(time in s, latents and variances), stitched from half-overlapping windows",
    )
    e.set_defaults(func=cmd_export_latents)


def add_score_parser(sub) -> None:
    c = sub.add_parser(
        "score",
        help="cross-validated R² of inferred vs true latents (a session on its clock: folds of "
        "contiguous bins)",
    )
    c.add_argument("latents", help="NPZ from export-latents")
    c.add_argument("truth", help="NPZ of true latents (truth.npz from simulate)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_score)


def add_figures_parser(sub) -> None:
    g = sub.add_parser("figures", help="write publication figures for a project")
    g.add_argument("run", nargs="?", help="project file (.mmgp)")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--format", choices=("pdf", "svg", "png"), default="pdf")
    g.add_argument("--trials", help="comma-separated trial indices for reconstructions")
    g.add_argument("--dpi", type=int, default=300, help="resolution of PNG figures (default 300)")
    g.add_argument("--null-test", metavar="CSV", help="also draw a null-test result (null_test)")
    g.add_argument(
        "--consistency", metavar="CSV", help="also draw a consistency result (consistency)"
    )
    g.set_defaults(func=cmd_figures)
