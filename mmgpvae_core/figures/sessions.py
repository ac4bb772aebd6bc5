"""Every session of a multi-session project in its one latent space (``mmgpvae figures`` on a
project of several sessions): the shared latents of all sessions together, colored by session
and by condition."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmgpvae_core.figures.base import save_figure
from mmgpvae_core.figures.latents import latents_2d_figure, latents_3d_figure
from mmgpvae_core.figures.style import DEFAULT_DPI, trial_labels


def session_latents(run_path: str | Path, subspace: str = "shared"):
    """(names, latents per session (trials, time, dim), conditions per session) as saved."""
    from mmgpvae_core.project.export import collect_session_latents

    out = collect_session_latents(run_path)
    names = [name for name, _ in out]
    latents = [lat.arrays[subspace] for _, lat in out]
    conditions = [lat.neural.conditions for _, lat in out]
    return names, latents, conditions


def write_session_figures(
    run_path: str | Path, out_dir: str | Path, fmt: str = "pdf", dpi: int = DEFAULT_DPI,
    subspace: str = "shared", max_trials: int = 60,
) -> list[Path]:
    """``sessions_<subspace>_by_session`` and ``…_by_condition`` (2D, and 3D with three or more
    dimensions): up to ``max_trials`` trials of each session, every session in the same
    coordinates. Returns the paths written ([] for a single-session project)."""
    names, latents, conditions = session_latents(run_path, subspace)
    if len(names) < 2 or latents[0].shape[-1] == 0:
        return []
    pick = [np.arange(min(max_trials, z.shape[0])) for z in latents]
    z = np.concatenate([lat[p] for lat, p in zip(latents, pick)])
    by_session = np.concatenate([[n] * len(p) for n, p in zip(names, pick)])
    by_condition = np.concatenate(
        [np.asarray(trial_labels(c, lat.shape[0]))[p] for c, lat, p in zip(conditions, latents, pick)]
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    label = subspace.replace("_", " ")
    dims = min(3, z.shape[-1])
    dim_names = [f"{label} {i + 1}" for i in range(z.shape[-1])]
    paths = []
    for key, labels in (("session", by_session), ("condition", by_condition)):
        title = f"{label.capitalize()} latents of {len(names)} sessions, by {key}"
        figures: Sequence = [("2d", latents_2d_figure(z, labels, dim_names=dim_names, title=title, group=key))]
        if dims == 3:
            figures = [*figures, ("3d", latents_3d_figure(z, labels, dim_names=dim_names, title=title, group=key))]
        for kind, fig in figures:
            path = out_dir / f"sessions_{subspace}_by_{key}_{kind}.{fmt}"
            save_figure(fig, path, dpi=dpi)
            paths.append(path)
    return paths
