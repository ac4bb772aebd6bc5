"""Reconstruction figures: observed data next to the posterior-predictive mean of one trial.

Neural data (many channels) is drawn as a pair of heatmaps on one color scale; behavior as one
small panel per channel with the observed samples and the reconstruction as a line in the trial's
condition color.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmgpvae_core.figures.base import caption, new_figure, panel_title
from mmgpvae_core.figures.style import (
    DOUBLE_COLUMN_IN,
    HEATMAP_CMAP,
    NO_CONDITION_COLOR,
    OBSERVED_COLOR,
    style_context,
    time_axis,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

MAX_TRACE_CHANNELS = 16


def _units(likelihood: str, bin_size_s: float | None, units: str | None) -> tuple[float, str]:
    """(scale applied to the data, unit label) for a likelihood: its class's ``display_units``
    (an unknown name is shown as a continuous signal)."""
    from mmgpvae_core.model.likelihoods import LIKELIHOOD_CLASSES, Likelihood

    cls = LIKELIHOOD_CLASSES.get(likelihood, Likelihood)
    return cls.display_units(bin_size_s, units)


def _one_trial(x: Any, trial: int, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 3:
        if not 0 <= trial < a.shape[0]:
            raise ValueError(f"trial: {trial} is out of range for {a.shape[0]} trials")
        a = a[trial]
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(
            f"{name}: expected (time, channels) or (trials, time, channels), "
            f"found shape {np.shape(x)}"
        )
    return a


def reconstruction_figure(
    observed: Any,
    reconstructed: Any,
    channel_names: Sequence[str] | None = None,
    trial: int = 0,
    bin_size_s: float | None = None,
    likelihood: str = "gaussian",
    *,
    modality: str = "neural",
    kind: str | None = None,
    condition: str | None = None,
    color: str | None = None,
    units: str | None = None,
    r2: Sequence[float] | None = None,
    max_channels: int = MAX_TRACE_CHANNELS,
    time: Any = None,
) -> Figure:
    """Observed vs reconstructed data of one trial.

    observed, reconstructed: ``(time, channels)``, or ``(trials, time, channels)`` with ``trial``
    selecting one. likelihood: a registered name; counts ("poisson", "negbinomial") are shown as
    spikes/s when ``bin_size_s`` is known, else spikes/bin, "bernoulli" as a probability,
    "gaussian" in ``units`` (default a.u.).
    kind: "heatmap" or "traces" (default: heatmap for neural, traces for behavior). ``color``:
    the reconstruction's line color in trace plots (the trial's condition color); ``condition``
    is named in the title; ``r2``: per-channel R² to print on each trace panel.
    time: ``(time,)`` session seconds of the bins (a view of a continuous session), the x axis
    instead of the trial's own clock.
    """
    obs = _one_trial(observed, trial, "observed")
    rec = _one_trial(reconstructed, trial, "reconstructed")
    if obs.shape != rec.shape:
        raise ValueError(f"reconstructed: shape {rec.shape} differs from observed {obs.shape}")
    n_t, n_ch = obs.shape
    names = list(channel_names) if channel_names is not None else [f"ch{i}" for i in range(n_ch)]
    if len(names) != n_ch:
        raise ValueError(f"channel_names: {len(names)} names for {n_ch} channels")
    kind = kind or ("heatmap" if modality == "neural" else "traces")
    if kind not in ("heatmap", "traces"):
        raise ValueError(f"kind: expected 'heatmap' or 'traces', found {kind!r}")
    scale, unit = _units(likelihood, bin_size_s, units)
    head = f"{modality.capitalize()} data, trial {trial}"
    x_axis = time_axis(n_t, bin_size_s)
    if time is not None:
        x_axis = (np.asarray(time, dtype=float), "session time (s)")
        head = f"{modality.capitalize()} data, {x_axis[0][0]:.2f}–{x_axis[0][-1]:.2f} s"
    if condition is not None:
        head += f" ({condition})"
    with style_context():
        if kind == "heatmap":
            fig = _heatmaps(obs * scale, rec * scale, names, x_axis, unit, likelihood)
        else:
            fig = _traces(
                obs * scale,
                rec * scale,
                names,
                x_axis,
                unit,
                color or NO_CONDITION_COLOR,
                r2,
                max_channels,
            )
        fig.suptitle(head, x=0.0, ha="left")
    return fig


def _heatmaps(obs, rec, names, x_axis, unit, likelihood) -> Figure:
    n_t, n_ch = obs.shape
    x, xlabel = x_axis
    dt = x[1] - x[0] if n_t > 1 else 1.0
    extent = (x[0] - dt / 2, x[-1] + dt / 2, n_ch - 0.5, -0.5)
    finite = np.concatenate([obs[np.isfinite(obs)], rec[np.isfinite(rec)]])
    signed = finite.size and finite.min() < 0
    if signed:
        vmax = float(np.percentile(np.abs(finite), 99)) or 1.0
        vmin, cmap = -vmax, "RdBu_r"
    else:
        vmin, cmap = 0.0, HEATMAP_CMAP
        vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        vmax = vmax or 1.0
    fig = new_figure(DOUBLE_COLUMN_IN, 0.9 + min(3.2, 0.05 * n_ch + 1.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, data, label in (
        (axes[0], obs, "observed"),
        (axes[1], rec, "reconstruction (posterior-predictive mean)"),
    ):
        im = ax.imshow(
            np.ma.masked_invalid(data.T),
            aspect="auto",
            extent=extent,
            vmin=vmin,
            vmax=vmax,
            cmap=cmap,
            interpolation="nearest",
        )
        ax.set_xlabel(xlabel)
        panel_title(ax, label)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
    axes[0].set_ylabel("channel")
    if n_ch <= 24:
        axes[0].set_yticks(range(n_ch), names)
    cb = fig.colorbar(im, ax=list(axes), shrink=0.9, pad=0.02)
    cb.set_label(unit)
    cb.outline.set_visible(False)
    if np.isnan(obs).any():
        caption(fig, "White: missing samples.")
    return fig


def _traces(obs, rec, names, x_axis, unit, color, r2, max_channels) -> Figure:
    n_t, n_ch = obs.shape
    shown = min(n_ch, max_channels)
    x, xlabel = x_axis
    ncols = 1 if shown == 1 else (2 if shown <= 4 else 4)
    nrows = int(np.ceil(shown / ncols))
    fig = new_figure(DOUBLE_COLUMN_IN if ncols > 2 else 4.6, 0.6 + 1.15 * nrows)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for k in range(shown):
        ax = axes[k]
        ax.plot(x, obs[:, k], "o", color=OBSERVED_COLOR, ms=1.6, mew=0, label="observed")
        ax.plot(
            x, rec[:, k], color=color, lw=1.3, label="reconstruction (posterior-predictive mean)"
        )
        title = names[k]
        if r2 is not None and k < len(r2) and np.isfinite(r2[k]):
            title += f"   R² = {r2[k]:.2f}"
        ax.set_title(title, loc="left", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if k % ncols == 0:
            ax.set_ylabel(unit)
        if k >= shown - ncols:
            ax.set_xlabel(xlabel)
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[shown:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, markerscale=3)
    notes = [f"First {shown} of {n_ch} channels."] if shown < n_ch else []
    if r2 is not None:
        notes.append("R²: posterior-predictive mean vs observed, over all trials.")
    if notes:
        caption(fig, " ".join(notes))
    return fig
