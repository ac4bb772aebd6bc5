"""One look for every view: the condition palette (colorblind-safe, Okabe–Ito), subspace names,
and pyqtgraph's global options. Every panel takes its colors from here."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

from mmgpvae_core.figures import style as figure_style


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


# The one condition palette (Okabe & Ito 2008, colorblind-safe), shared with the exported figures
# in mmgpvae_core.figures.style so a condition has the same color in the app and in the paper.
PALETTE: tuple[tuple[int, int, int], ...] = tuple(_rgb(c) for c in figure_style.CONDITION_PALETTE)
NO_CONDITION = (110, 110, 110)
HIGHLIGHT = (0, 0, 0)

# ELBO term curves (same palette, fixed roles).
TERM_COLORS = {
    "elbo": (0, 0, 0),
    "ell_neural": PALETTE[0],
    "ell_behavior": PALETTE[1],
    "kl": PALETTE[3],  # reddish purple: distinct from the two likelihood terms
}



def condition_colors(labels: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Label → RGB, exactly as the exported figures color it (stable across views and runs)."""
    return {k: _rgb(v) for k, v in figure_style.condition_colors(list(labels)).items()}


def rgba_float(rgb: tuple[int, int, int], alpha: float = 1.0) -> tuple[float, float, float, float]:
    return (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0, alpha)


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def configure_pyqtgraph() -> None:
    """White background, black foreground, antialiased lines: figures that print well."""
    pg.setConfigOptions(background="w", foreground="k", antialias=True, imageAxisOrder="row-major")


def labelled_plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    """A plot in the controls' and comparison's look: title, both axes labelled, a faint
    horizontal grid, no context menu."""
    plot = pg.PlotWidget()
    plot.setTitle(title)
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=False, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    return plot


def legend_outside(
    plot: pg.PlotWidget, where: str = "below", columns: int = 1, spacing: int = 12
) -> pg.LegendItem:
    """A legend beside the data, not over it: in the plot's layout ``below`` the x axis or to
    the ``right`` of the plot. Curves plotted with ``name=`` join it, as with ``addLegend``."""
    item = plot.getPlotItem()
    legend = pg.LegendItem(colCount=columns, labelTextColor="k", verSpacing=-4, horSpacing=spacing)
    row, col = {"below": (4, 1), "right": (2, 3)}[where]
    item.layout.addItem(legend, row, col)
    # Compact, at the top of its cell: not stretched to the plot's height.
    legend.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
    item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
    legend.setParentItem(item)
    item.legend = legend
    return legend
