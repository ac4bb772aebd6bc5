"""Observed (dots) vs reconstructed (lines) traces of a few consecutive channels on one plot,
and the mosaic of movie frames a behavior plot shows instead when the behavior is a video."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel

from mmgpvae_gui.style import PALETTE, hex_color

N_TRACES = 3
N_FRAMES = 8
FRAME_GAP = 1  # px between frames


class TraceCurves:
    """``n`` pairs of curves created once on ``plot``; :meth:`draw` only calls ``setData``.
    The legend is the plot's own (if it has one) or ``label``, a line of text under it."""

    def __init__(self, plot: pg.PlotWidget, label: QLabel | None = None, n: int = N_TRACES):
        self.plot, self.label, self.n = plot, label, n
        self.obs, self.rec = [], []
        for i in range(n):
            color = PALETTE[i]
            brush = pg.mkBrush(*color, 150)
            self.obs.append(
                plot.plot([], [], pen=None, symbol="o", symbolSize=4, symbolBrush=brush,
                          symbolPen=None)
            )  # fmt: skip
            self.rec.append(plot.plot([], [], pen=pg.mkPen(color, width=2)))

    def clear(self) -> None:
        for c in self.obs + self.rec:
            c.setData([], [])

    def draw(self, t, obs: np.ndarray, rec: np.ndarray | None, c0: int, names) -> None:
        """Channels ``c0 …`` of ``obs`` / ``rec`` (time, channels) against ``t`` (time,)."""
        # Rebuilding a legend re-lays out the plot: do it only when the channels shown change.
        legend = self.plot.getPlotItem().legend
        shown = tuple(names[c0 : min(c0 + self.n, obs.shape[1])])
        if legend is None and self.label is not None:
            text = " &nbsp; ".join(
                f"<span style='color:{hex_color(PALETTE[k])}'>━</span> {name}"
                for k, name in enumerate(shown)
            )
            if self.label.text() != text:
                self.label.setText(text)
        elif legend is not None and getattr(legend, "_mmgp_shown", None) != shown:
            legend.clear()
            for k, name in enumerate(shown):
                legend.addItem(self.rec[k], name)
            legend._mmgp_shown = shown
        for k in range(self.n):
            c = c0 + k
            if c >= obs.shape[1]:
                self.obs[k].setData([], [])
                self.rec[k].setData([], [])
                continue
            self.obs[k].setData(t, obs[:, c], connect="finite")
            if rec is not None:
                self.rec[k].setData(t, rec[:, c])
            else:
                self.rec[k].setData([], [])


def frame_mosaic(
    obs: np.ndarray, rec: np.ndarray | None, shape: tuple[int, int], n: int = N_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Two rows of ``n`` frames evenly spaced in time, observed (top) and reconstructed
    (bottom), from (time, pixels) arrays; returns (mosaic (2h+gap, n(w+gap)−gap), the frames'
    time indices). Missing pixels are 0."""
    h, w = shape
    times = np.linspace(0, obs.shape[0] - 1, n).round().astype(int)
    mosaic = np.full((2 * h + FRAME_GAP, n * (w + FRAME_GAP) - FRAME_GAP), np.nan)
    for k, tt in enumerate(times):
        x0 = k * (w + FRAME_GAP)
        mosaic[:h, x0 : x0 + w] = obs[tt].reshape(h, w)
        if rec is not None:
            mosaic[h + FRAME_GAP :, x0 : x0 + w] = rec[tt].reshape(h, w)
    return np.nan_to_num(mosaic, nan=0.0), times


def show_frames(plot, image_item, obs, rec, t, shape: tuple[int, int], xlabel: str) -> None:
    """Draw :func:`frame_mosaic` on ``plot`` (its ``image_item``), each frame labelled with its
    time ``t[k]``."""
    h, w = shape
    mosaic, times = frame_mosaic(obs, rec, shape)
    image_item.setImage(mosaic, levels=(0.0, 1.0))
    image_item.show()
    plot.setRange(xRange=(0, mosaic.shape[1]), yRange=(0, mosaic.shape[0]), padding=0.02)
    plot.setTitle(f"Frames ({h}×{w} px): observed (top), reconstructed (bottom)")
    plot.setLabel("left", "reconstructed   |   observed")
    plot.getPlotItem().invertY(True)
    plot.getPlotItem().setAspectLocked(True)
    step = w + FRAME_GAP
    plot.getAxis("bottom").setTicks(
        [[(k * step + w / 2, f"{t[tt]:.4g}") for k, tt in enumerate(times)]]
    )
    plot.setLabel("bottom", xlabel)
    plot.getAxis("left").setTicks([[(h / 2, "obs."), (h + FRAME_GAP + h / 2, "rec.")]])
