"""Figure plumbing shared by every figure kind: a display-free Figure, saving, legends.

Figures are ``matplotlib.figure.Figure`` objects with an Agg canvas attached: no pyplot, no
global backend switch, no display. Saving to SVG or PDF uses matplotlib's vector backends for that
one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mmgpvae_core.figures.style import DEFAULT_DPI, style_context

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
CREATOR = "MM-GPVAE Studio"


def new_figure(width_in: float, height_in: float) -> Figure:
    """A Figure with an Agg canvas and constrained layout (call inside :func:`style_context`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _metadata(fmt: str) -> dict[str, str | None]:
    # No timestamps: the same figure saves to the same bytes (reproducible docs, clean diffs).
    if fmt == "pdf":
        return {"Creator": CREATOR, "Producer": CREATOR, "CreationDate": None}
    if fmt == "svg":
        return {"Creator": CREATOR, "Date": None}
    return {"Software": CREATOR}


def save_figure(fig: Figure, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Save ``fig`` to ``path``; the format (png, svg, pdf) comes from the suffix.

    ``dpi`` sets the resolution of PNGs and of any raster parts of vector files. Parent folders
    are created. Returns the path written.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unsupported figure format {fmt!r}; use one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with style_context():
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    return path


def condition_legend(
    fig: Figure,
    colors: dict[str, str],
    shown: Sequence[str] | None = None,
    title: str = "condition",
) -> None:
    """A figure legend with one line per condition (in palette order), right of the axes.

    ``shown`` limits it to the conditions present in the figure. Nothing is drawn when there is
    only the "all trials" group.
    """
    from matplotlib.lines import Line2D

    labels = [c for c in colors if shown is None or c in set(shown)]
    if len(colors) <= 1 and len(labels) <= 1:
        return
    handles = [Line2D([], [], color=colors[c], lw=2.0, label=c) for c in labels]
    fig.legend(handles=handles, title=title, loc="outside right upper")


def panel_title(ax: Axes, text: str) -> None:
    ax.set_title(text, loc="left")


def caption(fig: Figure, text: str) -> None:
    """A short note under the axes (what bands and line weights mean), inside the layout."""
    fig.supxlabel(text, x=0.0, ha="left", fontsize="small", color="#555555", wrap=True)
