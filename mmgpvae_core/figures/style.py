"""The one definition of how MM-GPVAE figures look: condition colors, fonts, sizes, rcParams.

Every figure in :mod:`mmgpvae_core.figures` and every view of the app take their condition colors
from :func:`condition_colors`, so a condition has the same color everywhere. This module does not
import matplotlib at import time (the GUI may use the palette without it); :func:`style_context`
imports it when called.

The palette is Okabe & Ito's (2008) colorblind-safe set, in an order that keeps the first few
conditions far apart for all common color-vision deficiencies; yellow, which is hard to see on
white, comes last.
"""

from __future__ import annotations

import colorsys
import contextlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

#: Okabe–Ito colors, in the order conditions receive them.
CONDITION_PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Color for data without condition labels (all trials as one group).
NO_CONDITION_COLOR = "#0072B2"
#: Observed data drawn next to a model's prediction.
OBSERVED_COLOR = "#4D4D4D"
#: Neutral color for annotations (warm-up spans, reference lines).
NEUTRAL_COLOR = "#999999"
#: Label used when a data set has no conditions.
ALL_TRIALS = "all trials"

#: Sequential colormap for heatmaps of non-negative data (counts, rates): perceptually uniform.
HEATMAP_CMAP = "viridis"

#: Figure widths in inches (a journal's single and double column).
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.2
#: Default raster resolution.
DEFAULT_DPI = 300

FONT_SIZE = 8.0

#: rcParams applied to every figure (used through :func:`style_context`).
RC_PARAMS: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.titleweight": "normal",
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1,
    "legend.title_fontsize": FONT_SIZE - 1,
    "legend.frameon": False,
    "figure.titlesize": FONT_SIZE + 2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.grid": False,
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#222222",
    "axes.titlelocation": "left",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "lines.linewidth": 1.2,
    "lines.solid_capstyle": "round",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    # No "tight" bbox: the constrained layout already fits everything, and a tight bbox would
    # draw each figure twice.
    "savefig.bbox": None,
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
    "figure.dpi": 100,
    "savefig.dpi": DEFAULT_DPI,
    "pdf.fonttype": 42,  # embed TrueType: text stays editable in Illustrator/Inkscape
    "ps.fonttype": 42,
    "svg.fonttype": "none",  # text as <text> elements, not paths
    "svg.hashsalt": "mmgpvae",  # stable element ids: the same input gives the same SVG
    "image.cmap": HEATMAP_CMAP,
    "image.interpolation": "nearest",
}


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply :data:`RC_PARAMS` for the duration of the block, then restore the previous ones."""
    import matplotlib

    with matplotlib.rc_context(RC_PARAMS):
        yield


def _natural_key(label: str) -> tuple:
    """Sort "cond2" before "cond10" and "2" before "10"."""
    parts = re.split(r"(\d+(?:\.\d+)?)", label)
    return tuple((0, float(p), p) if i % 2 else (1, 0.0, p) for i, p in enumerate(parts) if p)


def condition_order(labels: Iterable[Any] | None) -> list[str]:
    """Unique condition labels as strings, in the order used for colors and legends.

    ``labels`` may repeat (e.g. one label per trial); ``None`` or empty gives ``[]``.
    Order is "natural" (numbers inside labels compare as numbers), so it depends only on the set.
    """
    if labels is None:
        return []
    seen = {_label_str(x) for x in labels}
    return sorted(seen, key=_natural_key)


def _label_str(x: Any) -> str:
    if isinstance(x, bytes):
        return x.decode()
    if hasattr(x, "item"):  # numpy scalar -> python scalar ("1", not "np.int64(1)")
        x = x.item()
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _extra_colors(n: int) -> list[str]:
    """More than the palette holds: evenly spaced hues (distinct, but not colorblind-safe)."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hls_to_rgb((i / n + 0.58) % 1.0, 0.45, 0.65)
        out.append(f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}")
    return out


def condition_colors(labels: Iterable[Any] | None) -> dict[str, str]:
    """``{str(label): "#RRGGBB"}`` for the unique labels, deterministic for a given label set.

    Pass every condition of the data set (the per-trial labels are fine), not just those shown, so
    that a subset of trials keeps each condition's color. Up to 8 conditions get Okabe–Ito colors;
    more get evenly spaced hues. No labels gives ``{"all trials": NO_CONDITION_COLOR}``.
    """
    order = condition_order(labels)
    if not order:
        return {ALL_TRIALS: NO_CONDITION_COLOR}
    colors = (
        list(CONDITION_PALETTE)
        if len(order) <= len(CONDITION_PALETTE)
        else _extra_colors(len(order))
    )
    return {lab: colors[i] for i, lab in enumerate(order)}


def trial_labels(conditions: Iterable[Any] | None, n_trials: int) -> list[str]:
    """Per-trial label strings (``"all trials"`` for each trial when there are no conditions)."""
    if conditions is None:
        return [ALL_TRIALS] * n_trials
    labels = [_label_str(c) for c in conditions]
    if len(labels) != n_trials:
        raise ValueError(f"{len(labels)} condition labels for {n_trials} trials")
    return labels


def time_axis(n_time: int, bin_size_s: float | None) -> tuple[Any, str]:
    """(x values, axis label) for ``n_time`` bins: seconds when the bin size is known."""
    import numpy as np

    if bin_size_s:
        return np.arange(n_time) * float(bin_size_s), "time (s)"
    return np.arange(n_time, dtype=float), "time (bins)"
