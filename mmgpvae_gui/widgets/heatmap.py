"""A heat map of (channels, time) that never draws more rows or columns than the view has
pixels.

Thousands of channels in a few hundred pixels: handing pyqtgraph the full array makes it convert
(and Qt scale) every value on every scrub step, and thin rows alias away. The data is pooled
first, by blocks of ``ceil(rows / pixels)`` channels and ``ceil(cols / pixels)`` bins — ``max``
for spike counts (a spike stays visible), ``mean`` otherwise — so one scrub step costs a block
reduction of the shown slice and one ``setImage`` of at most the view's pixel size. The image is
stretched over the data's extent (``setRect``), so the axes keep channel numbers and seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

FALLBACK_PIXELS = (1200, 1920)  # (rows, cols) assumed before the view has been laid out
MIN_PIXELS = 16


def pool(a: np.ndarray, rows: int, cols: int, how: str = "mean") -> np.ndarray:
    """(R, C) → at most (rows, cols): ``how`` ("max" or "mean") over blocks of
    ``ceil(R / rows)`` × ``ceil(C / cols)`` (the last block of each axis may be smaller).
    Returns ``a`` itself when it already fits."""
    fr = max(1, math.ceil(a.shape[0] / max(1, rows)))
    fc = max(1, math.ceil(a.shape[1] / max(1, cols)))
    out = a
    for axis, f in ((0, fr), (1, fc)):
        if f == 1:
            continue
        starts = np.arange(0, out.shape[axis], f)
        if how == "max":
            out = np.maximum.reduceat(out, starts, axis=axis)
        else:
            sizes = np.diff(np.append(starts, out.shape[axis])).astype(out.dtype)
            shape = [1, 1]
            shape[axis] = -1
            out = np.add.reduceat(out, starts, axis=axis) / sizes.reshape(shape)
    return out


class HeatmapPlot(pg.PlotWidget):
    """A plot holding one :class:`pyqtgraph.ImageItem` (``image_item``), fed through
    :meth:`show_data`: (channels, time) values stretched over ``rect`` (data coordinates),
    pooled to the view's pixel size. Channels run down (channel 0 at the top)."""

    def __init__(self, title: str, how: str = "mean") -> None:
        super().__init__(title=title)
        self.image_item = pg.ImageItem()
        self.addItem(self.image_item)
        self.setLabel("left", "channel")
        self.setLabel("bottom", "time (bins)")
        self.getPlotItem().invertY(True)
        self.how = how
        self.pool_calls = 0  # pooled images computed: for tests
        self.source_shape: tuple[int, ...] | None = None  # of the last data, before pooling
        self._last: tuple[np.ndarray, pg.QtCore.QRectF, tuple[float, float]] | None = None
        self._pixels = (0, 0)
        self.getViewBox().sigResized.connect(self._on_view_resized)

    def pixel_size(self) -> tuple[int, int]:
        """(rows, cols) of device pixels the view box covers on screen."""
        vb = self.getViewBox()
        ratio = self.devicePixelRatioF()
        h, w = vb.height() * ratio, vb.width() * ratio
        if h < MIN_PIXELS or w < MIN_PIXELS:
            return FALLBACK_PIXELS
        return int(h), int(w)

    def show_data(
        self, data: np.ndarray, rect: pg.QtCore.QRectF, levels: tuple[float, float]
    ) -> None:
        """Draw ``data`` (channels, time), NaN as 0, over ``rect`` with color ``levels``."""
        self._last = (data, rect, levels)
        self._pixels = self.pixel_size()
        shown = pool(np.nan_to_num(data), *self._pixels, how=self.how)
        self.pool_calls += 1
        self.source_shape = tuple(data.shape)
        self.image_item.setImage(shown, autoLevels=False, levels=levels)
        self.image_item.setRect(rect)

    def clear_data(self) -> None:
        self._last = None
        self.source_shape = None
        self.image_item.clear()

    def shown_image(self) -> np.ndarray | None:
        """What the image item draws now (pooled), (rows, cols)."""
        return self.image_item.image

    def _on_view_resized(self) -> None:
        # Re-pool only when the data is larger than the view, at the old or the new size.
        if self._last is None or self.pixel_size() == self._pixels:
            return
        data = self._last[0]
        old, new = self._pixels, self.pixel_size()
        if all(data.shape[k] <= min(old[k], new[k]) for k in (0, 1)):
            self._pixels = new
            return
        self.show_data(*self._last)


def level_sample(x: np.ndarray, n: int = 1 << 20) -> np.ndarray:
    """About ``n`` finite values of ``x`` for the colour levels: an evenly strided sample, so an
    hour-long session is not copied in the GUI thread (the whole array when it is small)."""
    flat = x.reshape(-1)
    sample = flat[:: max(1, -(-flat.size // n))]  # at most n
    return sample[np.isfinite(sample)]
