"""Figures of the controls (:mod:`mmgpvae_core.controls`): the null test's real score against its
null distribution, and the seed consistency of each subspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.figures.base import caption, new_figure, panel_title, save_figure
from mmgpvae_core.figures.style import (
    CONDITION_PALETTE,
    DEFAULT_DPI,
    NEUTRAL_COLOR,
    SINGLE_COLUMN_IN,
    style_context,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

REAL_COLOR = CONDITION_PALETTE[1]  # vermillion: the real pairing stands out from the grey null
SCORE_LABEL = "held-out cross-modal log-likelihood (nats/trial)"
_SUBSPACE_NAMES = {
    "shared": "shared",
    "private_neural": "private neural",
    "private_behavior": "private behavior",
}


def null_histogram(null: Any) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of the null scores: (counts, edges), 5–30 bins. Shared by the figure and the
    app's view, so both show the same bars."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if null.size == 0:
        return np.zeros(0), np.zeros(0)
    lo, hi = float(null.min()), float(null.max())
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.01
    n_bins = int(np.clip(2 * np.sqrt(null.size), 5, 30))
    counts, edges = np.histogram(null, np.linspace(lo - pad, hi + pad, n_bins + 1))
    return counts.astype(float), edges


def score_range(edges: np.ndarray, real: float) -> tuple[float, float]:
    """x-range that shows the histogram and the real score, with a margin."""
    vals = np.concatenate([edges, [real] if np.isfinite(real) else []])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    pad = 0.06 * (hi - lo or max(abs(hi), 1.0))
    return lo - pad, hi + pad


def null_test_title(p: float, n_null: int, pairing: str) -> str:
    """``p = 0.05 (19 shuffles across trials)``, or for circular time shifts ``p = 0.2 (4 shifts
    in time)``: the title of the figure and of the app's view."""
    if "shift" in pairing:
        return f"p = {p:.3g} ({n_null} circular shift{'s' if n_null != 1 else ''} in time)"
    return f"p = {p:.3g} ({n_null} shuffle{'s' if n_null != 1 else ''} {pairing})"


def null_test_figure(real: float, null: Any, p: float, pairing: str = "across trials") -> Figure:
    """Histogram of the null scores (behavior trials re-paired at random; ``pairing`` says how)
    with the real pairing's score marked and the p-value in the title. Scores in nats per
    held-out trial (:func:`mmgpvae_core.controls.cross_modal_scores`)."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    counts, edges = null_histogram(null)
    with style_context():
        fig = new_figure(SINGLE_COLUMN_IN + 1.0, 2.6)
        ax = fig.subplots()
        if counts.size:
            ax.stairs(counts, edges, fill=True, color=NEUTRAL_COLOR, alpha=0.7, label="shuffled")
        if np.isfinite(real):
            value = f"{real:.1f}".replace("-", "\N{MINUS SIGN}")
            ax.axvline(real, color=REAL_COLOR, lw=2.0, label=f"real pairing: {value}")
        ax.set_xlim(*score_range(edges, real))
        ax.set_ylim(0, 1.45 * max(1.0, float(counts.max(initial=0))))  # room for the legend
        ax.xaxis.get_major_locator().set_params(nbins=5)
        ax.set_xlabel(SCORE_LABEL)
        ax.set_ylabel("shuffled fits")
        ax.yaxis.get_major_locator().set_params(integer=True)
        panel_title(ax, "Null test: " + null_test_title(p, len(null), pairing))
        ax.legend(loc="upper center", ncols=2, frameon=False)
        caption(
            fig,
            "Behavior from neural alone + neural from behavior alone, on held-out trials. "
            "p = (1 + #shuffled ≥ real) / (1 + shuffles).",
        )
    return fig


def consistency_positions(dims: dict[str, int]) -> list[tuple[float, str, str, int]]:
    """(x, label, subspace, canonical index) of each canonical correlation, subspaces apart."""
    out, x = [], 0.0
    for sub in SUBSPACES:
        for i in range(int(dims.get(sub, 0))):
            out.append((x, f"{_SUBSPACE_NAMES[sub]}\nCC{i + 1}", sub, i))
            x += 1.0
        x += 0.6
    return out


def consistency_figure(result: Any) -> Figure:
    """Canonical correlation of each refit's subspace with the reference fit's, per subspace and
    canonical dimension (dots: refits; bar: mean). ``result``: a
    :class:`~mmgpvae_core.controls.ConsistencyResult`."""
    pos = consistency_positions(result.dims)
    with style_context():
        fig = new_figure(max(SINGLE_COLUMN_IN, 0.9 * len(pos) + 1.2), 2.6)
        ax = fig.subplots()
        colors = {"shared": "#000000", "private_neural": "#555555", "private_behavior": "#555555"}
        for x, _, sub, i in pos:
            cc = np.asarray(result.correlations[sub], dtype=float)
            y = cc[:, i][np.isfinite(cc[:, i])] if cc.size else np.zeros(0)
            if y.size:
                ax.bar(x, y.mean(), width=0.6, color=colors[sub], alpha=0.25)
                jitter = np.linspace(-0.15, 0.15, y.size) if y.size > 1 else np.zeros(1)
                ax.plot(x + jitter, y, "o", ms=3.5, color=colors[sub])
        ax.set_xticks([x for x, *_ in pos], [label for _, label, *_ in pos])
        ax.set_ylim(0, 1.05)
        ax.axhline(1.0, color=NEUTRAL_COLOR, lw=0.8, ls=":")
        ax.set_ylabel(f"canonical correlation\nwith seed {result.reference_seed}")
        n = len(result.seeds)
        panel_title(ax, f"Seed consistency of the subspaces ({n} other seed{'s' * (n != 1)})")
        caption(fig, "Dots: one refit each; bars: mean. 1 = the same subspace.")
    return fig


def write_control_figures(
    out_dir: str | Path,
    fmt: str = "pdf",
    null_test: str | Path | None = None,
    consistency: str | Path | None = None,
    dpi: int = DEFAULT_DPI,
) -> list[Path]:
    """``null_test.{fmt}`` from a ``mmgpvae null-test`` CSV and ``consistency.{fmt}`` from a
    ``mmgpvae consistency`` CSV, into ``out_dir``; returns the paths written."""
    from mmgpvae_core.controls import read_consistency_csv, read_null_csv

    out = Path(out_dir)
    written: list[Path] = []
    items: list[tuple[str, Figure]] = []
    if null_test:
        r = read_null_csv(null_test)
        items.append(("null_test", null_test_figure(r.real_score, r.null_scores, r.p, r.pairing)))
    if consistency:
        items.append(("consistency", consistency_figure(read_consistency_csv(consistency))))
    for stem, fig in items:
        written.append(save_figure(fig, out / f"{stem}.{fmt.lower().lstrip('.')}", dpi=dpi))
    return written
