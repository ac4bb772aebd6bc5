"""Latent figures: single-trial trajectories in 2D and 3D, and condition-averaged latents.

Inputs are posterior means (and variances) as ``(trials, time, dim)`` arrays, NaN past a trial's
end; ``conditions`` holds one label per trial. Colors come from
:func:`~mmgpvae_core.figures.style.condition_colors`; pass ``colors`` (built from every trial's
condition) when plotting a subset so each condition keeps its color.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmgpvae_core.figures.base import caption, condition_legend, new_figure, panel_title
from mmgpvae_core.figures.style import (
    DOUBLE_COLUMN_IN,
    condition_colors,
    style_context,
    time_axis,
    trial_labels,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

TRIAL_ALPHA = 0.35
TRIAL_LW = 0.6
MEAN_LW = 2.0


def _check_latents(latents: Any, name: str = "latents") -> np.ndarray:
    z = np.asarray(latents, dtype=float)
    if z.ndim != 3 or 0 in z.shape:
        raise ValueError(f"{name}: expected a (trials, time, dim) array, found shape {z.shape}")
    return z


def _names(dim_names: Sequence[str] | None, d: int) -> list[str]:
    if dim_names is None:
        return [f"latent {i + 1}" for i in range(d)]
    if len(dim_names) != d:
        raise ValueError(f"dim_names: {len(dim_names)} names for {d} dimensions")
    return list(dim_names)


def _groups(conditions: Any, n: int, colors: dict[str, str] | None):
    labels = trial_labels(conditions, n)
    colors = colors or condition_colors(None if conditions is None else labels)
    missing = sorted(set(labels) - set(colors))
    if missing:
        raise ValueError(f"colors: no color for condition(s) {missing}")
    order = [c for c in colors if c in set(labels)]
    idx = {c: np.flatnonzero(np.asarray(labels) == c) for c in order}
    return labels, colors, order, idx


def _nanmean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN, without warnings (NaN where nothing is observed)."""
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    s = np.where(ok, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _x_axis(n_time: int, bin_size_s: float | None, time: Any) -> tuple[Any, str]:
    if time is None:
        return time_axis(n_time, bin_size_s)
    return np.asarray(time, dtype=float), "session time (s)"


def latents_2d_figure(
    latents: Any,
    conditions: Any = None,
    dims: Sequence[int] = (0, 1),
    *,
    dim_names: Sequence[str] | None = None,
    bin_size_s: float | None = None,
    colors: dict[str, str] | None = None,
    title: str | None = None,
    show_means: bool = True,
    time: Any = None,
    group: str = "condition",
) -> Figure:
    """Single-trial latent trajectories colored by condition.

    latents: ``(trials, time, dim)``. With ``dim >= 2``, the plane of ``dims`` (two indices);
    with one dimension, the latent against time (``bin_size_s`` gives seconds). Thin lines are
    trials, thick lines condition means, a dot marks the start of each mean. ``time``:
    ``(time,)`` session seconds (a continuous session), the x axis of a one-dimensional plot.
    ``group``: what the labels are (the legend's title; "session" for sessions' latents).
    """
    z = _check_latents(latents)
    n, t, d = z.shape
    names = _names(dim_names, d)
    _, colors, order, idx = _groups(conditions, n, colors)
    with style_context():
        fig = new_figure(3.9, 3.0)
        ax = fig.subplots()
        if d == 1:
            x, xlabel = _x_axis(t, bin_size_s, time)
            for c in order:
                for i in idx[c]:
                    ax.plot(x, z[i, :, 0], color=colors[c], lw=TRIAL_LW, alpha=TRIAL_ALPHA)
                if show_means:
                    ax.plot(x, _nanmean(z[idx[c], :, 0]), color=colors[c], lw=MEAN_LW)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{names[0]} (a.u.)")
        else:
            a, b = (int(k) for k in dims)
            for c in order:
                for i in idx[c]:
                    ax.plot(z[i, :, a], z[i, :, b], color=colors[c], lw=TRIAL_LW, alpha=TRIAL_ALPHA)
                if show_means:
                    m = _nanmean(z[idx[c]][:, :, [a, b]])
                    ax.plot(m[:, 0], m[:, 1], color=colors[c], lw=MEAN_LW)
                    ax.plot(m[:1, 0], m[:1, 1], "o", color=colors[c], ms=4, mec="white", mew=0.6)
            ax.set_xlabel(f"{names[a]} (a.u.)")
            ax.set_ylabel(f"{names[b]} (a.u.)")
        if title:
            panel_title(ax, title)
        condition_legend(fig, colors, order, title=group)
        caption(
            fig,
            f"Posterior means. Thin: single trials; thick: {group} mean"
            + ("; dot: start." if d > 1 and show_means else "."),
        )
    return fig


def latents_3d_figure(
    latents: Any,
    conditions: Any = None,
    dims: Sequence[int] = (0, 1, 2),
    *,
    elev: float = 20.0,
    azim: float = -60.0,
    roll: float = 0.0,
    dim_names: Sequence[str] | None = None,
    colors: dict[str, str] | None = None,
    title: str | None = None,
    show_means: bool = True,
    proj_type: str = "persp",
    focal_length: float | None = None,
    group: str = "condition",
) -> Figure:
    """Trajectories in three latent dimensions, seen from ``elev``/``azim`` (degrees).

    The angles follow the convention of pyqtgraph's ``GLViewWidget.opts["elevation"]`` and
    ``["azimuth"]`` (azimuth 0 looks from +x, positive turns towards +y; elevation up from the
    x-y plane), so the app can re-draw its 3D view as a vector figure from the same camera.
    ``proj_type``: "persp" or "ortho"; ``focal_length`` sets the perspective (default: a 90° view,
    matplotlib's default; pyqtgraph's default field of view of 60° is ``focal_length=1.73``).
    To plot against time, pass an array whose last dimension holds the time axis.
    """
    z = _check_latents(latents)
    n, _, d = z.shape
    if d < 3:
        raise ValueError(f"latents: a 3D figure needs at least 3 dimensions, found {d}")
    names = _names(dim_names, d)
    a, b, c3 = (int(k) for k in dims)
    _, colors, order, idx = _groups(conditions, n, colors)
    with style_context():
        fig = new_figure(4.4, 3.8)
        kw: dict[str, Any] = {"proj_type": proj_type}
        if proj_type == "persp" and focal_length is not None:
            kw["focal_length"] = focal_length
        ax = fig.add_subplot(projection="3d", **kw)
        for c in order:
            for i in idx[c]:
                ax.plot(
                    z[i, :, a],
                    z[i, :, b],
                    z[i, :, c3],
                    color=colors[c],
                    lw=TRIAL_LW,
                    alpha=TRIAL_ALPHA,
                )
            if show_means:
                m = _nanmean(z[idx[c]][:, :, [a, b, c3]])
                ax.plot(m[:, 0], m[:, 1], m[:, 2], color=colors[c], lw=MEAN_LW)
                ax.plot(
                    m[:1, 0], m[:1, 1], m[:1, 2], "o", color=colors[c], ms=4, mec="white", mew=0.6
                )
        ax.view_init(elev=elev, azim=azim, roll=roll)
        for setter, k in ((ax.set_xlabel, a), (ax.set_ylabel, b), (ax.set_zlabel, c3)):
            label = names[k]
            setter(label if "(" in label else f"{label} (a.u.)", labelpad=-2)
        ax.tick_params(pad=-2)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_pane_color((1, 1, 1, 0))
            axis._axinfo["grid"]["color"] = (0.85, 0.85, 0.85, 1)
            axis._axinfo["grid"]["linewidth"] = 0.4
        if title:
            ax.set_title(title, loc="left")
        condition_legend(fig, colors, order, title=group)
        caption(
            fig,
            f"Posterior means; thin: single trials, thick: {group} mean. "
            f"View: elevation {elev:.0f}°, azimuth {azim:.0f}°.",
        )
    return fig


def condition_mean_figure(
    mean: Any,
    var: Any,
    conditions: Any = None,
    bin_size_s: float | None = None,
    *,
    dim_names: Sequence[str] | None = None,
    colors: dict[str, str] | None = None,
    n_sd: float = 2.0,
    title: str | None = None,
    time: Any = None,
) -> Figure:
    """Condition-averaged latents against time, one panel per dimension, with posterior bands.

    mean, var: posterior means and variances ``(trials, time, dim)`` (NaN past a trial's end).
    The line is the average posterior mean over a condition's trials; the band is ± ``n_sd``
    posterior standard deviations of that average, sqrt(sum of the trials' variances) / trials
    (trials' posteriors taken as independent) — the uncertainty of the average, not the spread of
    single trials. ``time``: ``(time,)`` session seconds, the x axis (one "trial" spanning a
    view of a continuous session).
    """
    m = _check_latents(mean, "mean")
    v = _check_latents(var, "var")
    if v.shape != m.shape:
        raise ValueError(f"var: shape {v.shape} differs from mean's {m.shape}")
    n, t, d = m.shape
    names = _names(dim_names, d)
    _, colors, order, idx = _groups(conditions, n, colors)
    x, xlabel = _x_axis(t, bin_size_s, time)
    ncols = 1 if d == 1 else 2
    nrows = int(np.ceil(d / ncols))
    with style_context():
        fig = new_figure(3.6 if ncols == 1 else DOUBLE_COLUMN_IN * 0.8, 0.4 + 1.55 * nrows)
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for k in range(d):
            ax = axes[k]
            for c in order:
                mk, vk = m[idx[c], :, k], v[idx[c], :, k]
                ok = np.isfinite(mk) & np.isfinite(vk)
                cnt = ok.sum(0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    avg = np.where(cnt > 0, np.where(ok, mk, 0).sum(0) / np.maximum(cnt, 1), np.nan)
                    sd = np.sqrt(np.where(ok, vk, 0).sum(0)) / np.maximum(cnt, 1)
                sd = np.where(cnt > 0, sd, np.nan)
                ax.fill_between(
                    x, avg - n_sd * sd, avg + n_sd * sd, color=colors[c], alpha=0.25, lw=0
                )
                ax.plot(x, avg, color=colors[c], lw=1.4)
            panel_title(ax, names[k])
            ax.set_ylabel("latent (a.u.)")
            if k >= d - ncols:
                ax.set_xlabel(xlabel)
                ax.xaxis.set_tick_params(labelbottom=True)
        for ax in axes[d:]:
            ax.set_visible(False)
        if title:
            fig.suptitle(title, x=0.0, ha="left")
        condition_legend(fig, colors, order)
        caption(
            fig,
            f"Line: condition average of posterior means. Band: ±{n_sd:g} posterior s.d. "
            "of that average (trials' posteriors taken as independent; hidden where narrower "
            "than the line).",
        )
    return fig
