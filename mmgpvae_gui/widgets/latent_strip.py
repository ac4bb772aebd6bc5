"""Latents against session time: one line per latent dimension with a ±2 s.d. band, for the
view of a continuous session the scrubber selects.

:meth:`LatentTimePlot.set_series` takes the whole session once (stitched latents, (bins, dims),
and their variances); :meth:`show_view` then only slices those arrays and calls ``setData`` —
a scrub step allocates nothing that grows with the session.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from mmgpvae_gui.style import PALETTE, legend_outside

N_SD = 2.0
MAX_LINES = len(PALETTE)


class LatentTimePlot(pg.PlotWidget):
    """Posterior means (lines) and ±``N_SD`` s.d. (bands) of up to ``MAX_LINES`` latents."""

    def __init__(self) -> None:
        super().__init__(title="Latents on the session clock")
        self.setLabel("bottom", "session time (s)")
        self.setLabel("left", "latent (a.u.)")
        self.showGrid(x=True, y=True, alpha=0.15)
        legend_outside(self, "right")
        self._lines, self._bands = [], []
        for k in range(MAX_LINES):
            color = PALETTE[k]
            lo, hi = pg.PlotCurveItem(), pg.PlotCurveItem()
            band = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(*color, 45))
            self.addItem(band)
            self._bands.append((lo, hi, band))
            self._lines.append(self.plot([], [], pen=pg.mkPen(color, width=2)))
        self._time = np.zeros(0)
        self._mean = np.zeros((0, 0))
        self._sd: np.ndarray | None = None
        self._names: list[str] = []
        self._dt = 1.0
        self.shown: tuple[int, int] | None = None  # bins drawn now
        self.points_drawn = 0  # samples handed to setData by the last show_view: for tests

    def set_series(
        self, time: np.ndarray, mean: np.ndarray, var: np.ndarray | None, names: list[str]
    ) -> None:
        """time (bins,) s; mean, var (bins, dims). Nothing is drawn until :meth:`show_view`."""
        self._time = np.asarray(time, dtype=float)
        self._mean = np.asarray(mean, dtype=float)
        self._sd = None if var is None else np.sqrt(np.maximum(np.asarray(var, float), 0))
        self._dt = float(np.median(np.diff(self._time))) if self._time.size > 1 else 1.0
        if names != self._names:  # the legend re-lays out the plot: only when it changes
            legend = self.getPlotItem().legend
            legend.clear()
            for k, name in enumerate(names[:MAX_LINES]):
                legend.addItem(self._lines[k], name)
            self._names = list(names)
        self.shown = None

    def clear_series(self) -> None:
        self.set_series(np.zeros(0), np.zeros((0, 0)), None, [])
        for k in range(MAX_LINES):
            self._draw(k, None, None, None)

    def show_view(self, start: int, stop: int) -> None:
        t = self._time[start:stop]
        d = self._mean.shape[1] if self._mean.ndim == 2 else 0
        self.points_drawn = 0
        for k in range(MAX_LINES):
            if k >= d or not t.size:
                self._draw(k, None, None, None)
                continue
            m = self._mean[start:stop, k]
            sd = None if self._sd is None else self._sd[start:stop, k]
            self._draw(k, t, m, sd)
            self.points_drawn += t.size
        if t.size:
            self.setXRange(t[0] - self._dt / 2, t[-1] + self._dt / 2, padding=0)
        self.shown = (start, stop)

    def _draw(self, k, t, m, sd) -> None:
        lo, hi, band = self._bands[k]
        if t is None:
            self._lines[k].setData([], [])
            lo.setData([], [])
            hi.setData([], [])
            band.setVisible(False)
            return
        self._lines[k].setData(t, m)
        band.setVisible(sd is not None)
        if sd is not None:
            lo.setData(t, m - N_SD * sd)
            hi.setData(t, m + N_SD * sd)
