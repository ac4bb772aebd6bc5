"""Publication figures of a fit, drawn with matplotlib's object API (no pyplot, no display).

One function per figure kind takes plain arrays and returns a ``matplotlib.figure.Figure`` (so the
app can export exactly what a view shows); :func:`save_figure` writes PNG, SVG or PDF by suffix;
:func:`write_figure_set` draws the standard set of a saved ``.mmgp`` project (``mmgpvae
figures``). The look — condition palette, fonts, sizes — is defined once, in :mod:`.style`.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError
from mmgpvae_core.figures.base import FORMATS, save_figure
from mmgpvae_core.figures.controls import (
    consistency_figure,
    null_test_figure,
    write_control_figures,
)
from mmgpvae_core.figures.history import (
    elbo_figure,
    latent_kernels,
    latent_names,
    length_scale_figure,
)
from mmgpvae_core.figures.latents import (
    condition_mean_figure,
    latents_2d_figure,
    latents_3d_figure,
)
from mmgpvae_core.figures.reconstruction import reconstruction_figure
from mmgpvae_core.figures.style import (
    CONDITION_PALETTE,
    DEFAULT_DPI,
    condition_colors,
    condition_order,
    style_context,
)
from mmgpvae_core.figures.summary import (
    fit_summary,
    reconstruction_r2,
    summary_text,
    write_summary,
)

__all__ = [
    "CONDITION_PALETTE",
    "FORMATS",
    "condition_colors",
    "condition_mean_figure",
    "condition_order",
    "consistency_figure",
    "elbo_figure",
    "fit_summary",
    "latents_2d_figure",
    "latents_3d_figure",
    "length_scale_figure",
    "null_test_figure",
    "reconstruction_figure",
    "reconstruction_r2",
    "save_figure",
    "style_context",
    "summary_text",
    "write_control_figures",
    "write_figure_set",
    "write_summary",
]

DEFAULT_TRIALS = 3


def _subspace_label(name: str, d: int) -> list[str]:
    label = name.replace("_", " ")
    return [f"{label} {i + 1}" for i in range(d)] if d > 1 else [label]


def _load(run_path: str | Path) -> dict[str, Any]:
    from mmgpvae_core.project.file import read_project

    p = read_project(run_path)
    if p["neural"] is None:
        raise DataError(run_path, "data/neural", "missing; the project holds no neural data")
    if "elbo" not in p["history"] or len(p["history"]["elbo"]) == 0:
        raise DataError(run_path, "history/elbo", "empty; the project has not been trained")
    if not any(s in p["posterior"] for s in SUBSPACES):
        raise DataError(run_path, "posterior", "no posterior latents; re-save the project")
    return p


def write_figure_set(
    run_path: str | Path,
    out_dir: str | Path,
    fmt: str = "pdf",
    trials: Sequence[int] | None = None,
    dpi: int = DEFAULT_DPI,
    elev: float = 20.0,
    azim: float = -60.0,
) -> list[Path]:
    """Draw the standard figures of a ``.mmgp`` project into ``out_dir``; returns the paths.

    Files: ``elbo``, ``length_scales``, ``latents_<subspace>_2d`` (each subspace),
    ``latents_<subspace>_3d`` (subspaces of 2 dimensions are drawn against time, of 3 or more in
    their first three), ``condition_means``, ``reconstruction_<modality>_trial<k>`` for each of
    ``trials`` (default: the first three), each as ``.{fmt}``; plus ``summary.json`` and
    ``summary.txt``. Raises :class:`~mmgpvae_core.data.DataError` for a bad project file or trial.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {FORMATS}, found {fmt!r}")
    p = _load(run_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    neural = p["neural"]
    n = neural.n_trials
    trials = list(range(min(DEFAULT_TRIALS, n))) if trials is None else [int(t) for t in trials]
    bad = [t for t in trials if not 0 <= t < n]
    if bad:
        raise DataError(run_path, "trials", f"trial(s) {bad} out of range: the project has {n}")
    bin_size = neural.bin_size_s
    conditions = neural.conditions
    colors = condition_colors(conditions)
    labels = [str(c) for c in conditions] if conditions is not None else None
    cfg_model = p["config"].get("model", {})
    cfg_train = p["config"].get("train", {})
    h = p["history"]
    written: list[Path] = []

    def save(fig, stem: str) -> None:
        written.append(save_figure(fig, out / f"{stem}.{fmt}", dpi=dpi))
        fig.clear()

    _training_figures(save, h, cfg_model, cfg_train, bin_size)
    _latent_figures(save, p, labels, colors, elev, azim)
    _reconstruction_figures(save, p, trials, labels, colors)
    written += write_summary(p, out)
    return written


Save = Callable[[Any, str], None]  # save(figure, file stem)


def _training_figures(save: Save, h: dict, cfg_model: dict, cfg_train: dict,
                      bin_size: float | None) -> None:
    """The ELBO and the length-scales."""
    epochs_first_fit = int(cfg_train.get("epochs", 0) or 0)
    warm = int(float(cfg_train.get("kl_warmup", 0) or 0) * epochs_first_fit)
    save(elbo_figure(h, warmup_epochs=warm or None), "elbo")
    if "length_scales" in h and np.size(h["length_scales"]):
        ls = np.atleast_2d(np.asarray(h["length_scales"], dtype=float))
        save(
            length_scale_figure(
                ls,
                bin_size,
                latent_names(cfg_model, ls.shape[1]),
                epochs=h.get("epoch"),
                kernels=latent_kernels(cfg_model, ls.shape[1]),
            ),
            "length_scales",
        )


def _latent_figures(save: Save, p: dict, labels: list[str] | None, colors: dict,
                    elev: float, azim: float) -> None:
    """Each subspace's latents in 2D and 3D, and the condition means of them all; bins past a
    trial's end are NaN (no data there)."""
    neural = p["neural"]
    bin_size = neural.bin_size_s
    pad = np.arange(neural.n_time)[None, :] >= neural.trial_lengths[:, None]
    means, variances, names = [], [], []
    for sub in SUBSPACES:
        post = p["posterior"].get(sub)
        if not isinstance(post, dict) or np.shape(post.get("mean", []))[-1:] in ((), (0,)):
            continue
        m = np.array(post["mean"], dtype=float)
        v = np.array(post["var"], dtype=float)
        m[pad], v[pad] = np.nan, np.nan
        d = m.shape[-1]
        sub_names = _subspace_label(sub, d)
        title = f"{sub.replace('_', ' ').capitalize()} latents"
        save(
            latents_2d_figure(
                m, labels, dim_names=sub_names, bin_size_s=bin_size, colors=colors, title=title
            ),
            f"latents_{sub}_2d",
        )
        if d >= 2:
            if d == 2:  # the plane against time
                t = np.arange(m.shape[1]) * (bin_size or 1.0)
                tt = np.where(pad, np.nan, t[None, :])[..., None]
                z3, names3, dims = (
                    np.concatenate([m, tt], -1),
                    sub_names + ["time (s)" if bin_size else "time (bins)"],
                    (0, 1, 2),
                )
            else:
                z3, names3, dims = m, sub_names, (0, 1, 2)
            save(
                latents_3d_figure(
                    z3,
                    labels,
                    dims,
                    elev=elev,
                    azim=azim,
                    dim_names=names3,
                    colors=colors,
                    title=title,
                ),
                f"latents_{sub}_3d",
            )
        means.append(m)
        variances.append(v)
        names += sub_names
    save(
        condition_mean_figure(
            np.concatenate(means, -1),
            np.concatenate(variances, -1),
            labels,
            bin_size,
            dim_names=names,
            colors=colors,
            title="Condition-averaged latents",
        ),
        "condition_means",
    )


def _reconstruction_figures(save: Save, p: dict, trials: list[int], labels: list[str] | None,
                            colors: dict) -> None:
    """Reconstructions of the chosen ``trials``, with per-channel R² over all trials."""
    cfg_model = p["config"].get("model", {})
    bin_size = p["neural"].bin_size_s
    rec = p["reconstruction"]
    for modality in ("neural", "behavior"):
        ds = p[modality]
        if ds is None or modality not in rec:
            continue
        lik = cfg_model.get(f"{modality}_likelihood", "gaussian")
        r2 = reconstruction_r2(ds.data, rec[modality])
        for t in trials:
            cond = labels[t] if labels is not None else None
            fig = reconstruction_figure(
                ds.data,
                rec[modality],
                ds.channel_names,
                t,
                ds.bin_size_s or bin_size,
                lik,
                modality=modality,
                condition=cond,
                color=colors[cond] if cond is not None else None,
                r2=r2,
            )
            save(fig, f"reconstruction_{modality}_trial{t}")
