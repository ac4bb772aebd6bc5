"""Observed vs reconstructed, one trial at a time: a slider (and play button, arrow keys) scrubs
trials. Neural: spike raster or calcium heat map, plus traces of a chosen channel. Behavior:
keypoint/variable traces, or image frames when the behavior is a movie."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.data import Dataset
from mmgpvae_core.model.likelihoods import LIKELIHOOD_CLASSES, Likelihood
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import NO_CONDITION, PALETTE, condition_colors, hex_color, legend_outside

PLAY_MS = 250
N_TRACES = 3
N_FRAMES = 8


class ReconstructionPanel(QWidget):
    trial_changed = Signal(int)
    export_requested = Signal()  # the user asked to export the current trial's reconstruction

    def __init__(self, parent: QWidget | None = None, redraw: RedrawQueue | None = None) -> None:
        super().__init__(parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._neural: Dataset | None = None
        self._behavior: Dataset | None = None
        self._rec: dict[str, np.ndarray] = {}
        self._neural_lik = ModelConfig.neural_likelihood
        self._behavior_lik = ModelConfig.behavior_likelihood
        self._colors: dict[str, tuple[int, int, int]] = {}
        self._drawn: dict[str, int] = {}  # redraw job → the trial it drew last

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the trials automatically (4 trials/s)")
        self.play_button.toggled.connect(self._on_play_toggled)
        row.addWidget(self.play_button)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Trial shown (←/→ step one trial)")
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        row.addWidget(self.slider, 1)
        self.trial_label = QLabel("no data")
        self.trial_label.setMinimumWidth(220)
        row.addWidget(self.trial_label)
        row.addWidget(QLabel("Trace channel:"))
        self.channel_spin = QSpinBox()
        self.channel_spin.setToolTip(
            f"First of the {N_TRACES} channels whose traces are drawn (index, from 0)"
        )
        self.channel_spin.valueChanged.connect(self._on_channel_value_changed)
        row.addWidget(self.channel_spin)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save this trial's observed vs reconstructed data as PNG (chosen DPI), SVG or PDF"
        )
        self.export_button.clicked.connect(self.export_requested)
        row.addWidget(self.export_button)
        layout.addLayout(row)

        grid = QGridLayout()
        self.obs_plot, self.obs_img = self._image_plot("Observed neural")
        self.rec_plot, self.rec_img = self._image_plot("Reconstructed neural")
        self.rec_plot.setXLink(self.obs_plot)
        self.rec_plot.setYLink(self.obs_plot)
        self._cbar = pg.ColorBarItem(
            colorMap=pg.colormap.get("viridis"), interactive=False, width=12
        )
        self._cbar.setImageItem([self.obs_img, self.rec_img], insert_in=self.rec_plot.getPlotItem())
        grid.addWidget(self.obs_plot, 0, 0)
        grid.addWidget(self.rec_plot, 0, 1)

        self.trace_plot = pg.PlotWidget(title="Traces (• observed)")
        self.trace_plot.setLabel("left", "counts per bin")
        self._neural_obs_curves, self._neural_rec_curves = self._trace_items(self.trace_plot)
        # The narrow traces plot's legend: a line of text under it (a pyqtgraph legend beside
        # the plot would take a third of its width, inside it would hide data).
        self.trace_legend = QLabel()
        self.trace_legend.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.trace_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        cell = QVBoxLayout()
        cell.setSpacing(0)
        cell.addWidget(self.trace_plot, 1)
        cell.addWidget(self.trace_legend)
        grid.addLayout(cell, 0, 2)

        self.behavior_plot = pg.PlotWidget(title="Behavior")
        legend_outside(self.behavior_plot, "right")
        self._beh_obs_curves, self._beh_rec_curves = self._trace_items(self.behavior_plot)
        self.frames_img = pg.ImageItem()
        self.frames_img.setColorMap(pg.colormap.get("CET-L1"))
        self.behavior_plot.addItem(self.frames_img)
        grid.addWidget(self.behavior_plot, 1, 0, 1, 3)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        layout.addLayout(grid, 1)

        for key, step in (
            (QKeySequence.StandardKey.MoveToPreviousChar, -1),
            (QKeySequence.StandardKey.MoveToNextChar, 1),
        ):
            sc = QShortcut(key, self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda s=step: self.step(s))

        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_MS)
        self._play_timer.timeout.connect(lambda: self.step(1, wrap=True))
        self._set_enabled(False)

    # ---------------------------------------------------------------- construction helpers
    @staticmethod
    def _image_plot(title: str) -> tuple[pg.PlotWidget, pg.ImageItem]:
        w = pg.PlotWidget(title=title)
        img = pg.ImageItem()
        w.addItem(img)
        w.setLabel("left", "channel")
        w.setLabel("bottom", "time (bins)")
        w.getPlotItem().invertY(True)
        return w, img

    @staticmethod
    def _trace_items(plot: pg.PlotWidget):
        obs, rec = [], []
        for i in range(N_TRACES):
            color = PALETTE[i]
            obs.append(
                plot.plot(
                    [],
                    [],
                    pen=None,
                    symbol="o",
                    symbolSize=4,
                    symbolBrush=pg.mkBrush(*color, 150),
                    symbolPen=None,
                )
            )
            rec.append(plot.plot([], [], pen=pg.mkPen(color, width=2)))
        return obs, rec

    def _set_enabled(self, on: bool) -> None:
        for w in (self.slider, self.play_button, self.channel_spin):
            w.setEnabled(on)

    # ---------------------------------------------------------------- state from the window
    def set_data(
        self,
        neural: Dataset | None,
        behavior: Dataset | None,
        neural_likelihood: str = ModelConfig.neural_likelihood,
        behavior_likelihood: str = ModelConfig.behavior_likelihood,
    ) -> None:
        """The observed data (reconstructions are cleared until a model provides them)."""
        self._neural, self._behavior = neural, behavior
        self._neural_lik = neural_likelihood
        self._behavior_lik = behavior_likelihood
        self._rec = {}
        self._drawn = {}
        conds = [] if neural is None or neural.conditions is None else list(neural.conditions)
        self._colors = condition_colors([str(c) for c in conds])
        if neural is None:
            self._set_enabled(False)
            self.trial_label.setText("no data")
            for item in (self.obs_img, self.rec_img, self.frames_img):
                item.clear()
            return
        self._set_enabled(True)
        self.slider.setRange(0, neural.n_trials - 1)
        self.channel_spin.setRange(0, max(0, neural.n_channels - 1))
        unit = "s" if neural.bin_size_s else "bins"
        for p in (self.obs_plot, self.rec_plot, self.trace_plot, self.behavior_plot):
            p.setLabel("bottom", f"time ({unit})")
        lik = LIKELIHOOD_CLASSES.get(neural_likelihood, Likelihood)
        raster = lik.counts
        self.obs_plot.setTitle("Observed spikes" if raster else "Observed (heat map)")
        self.rec_plot.setTitle("Reconstructed rate" if raster else "Reconstructed")
        self.trace_plot.setLabel("left", lik.unit_label)
        vals = neural.data[np.isfinite(neural.data)]
        hi = float(np.percentile(vals, 99.5)) if vals.size else 1.0
        lo = 0.0 if raster else float(np.percentile(vals, 0.5))
        self._cbar.setLevels((lo, max(hi, lo + 1e-6)))
        cmap = pg.colormap.get("CET-L1" if raster else "viridis")
        if raster:
            cmap.reverse()  # white background, black spikes
        self._cbar.setColorMap(cmap)
        self._request_redraw()

    def set_reconstruction(self, rec: dict[str, np.ndarray]) -> None:
        self._rec = dict(rec)
        self._drawn = {}  # not shown until redrawn
        self._request_redraw()

    def set_trial(self, i: int) -> None:
        self.slider.setValue(i)

    def current_trial(self) -> int:
        return self.slider.value()

    @property
    def shown_trial(self) -> int:
        """The trial whose data every plot shows now; -1 while they differ (mid-redraw)."""
        trials = set(self._drawn.values())
        return trials.pop() if len(self._drawn) == len(self._JOBS) and len(trials) == 1 else -1

    def step(self, delta: int, wrap: bool = False) -> None:
        n = self.slider.maximum() + 1
        i = self.slider.value() + delta
        self.slider.setValue(i % n if wrap else max(0, min(n - 1, i)))

    def observed_image(self) -> np.ndarray | None:
        """(channels, time) neural data drawn now."""
        return self.obs_img.image

    def reconstructed_image(self) -> np.ndarray | None:
        return self.rec_img.image

    def export_data(self, modality: str) -> dict | None:
        """What the view shows of ``modality`` ("neural" or "behavior"), for a figure:
        ``observed`` and ``reconstructed`` (trials, time, channels), ``channel_names``,
        ``trial`` (the current one), ``bin_size_s``, ``likelihood``, ``condition`` (label or
        None), ``conditions`` (every trial's label, or None). None when there is nothing to
        draw (no data of that modality or no reconstruction yet)."""
        ds = self._neural if modality == "neural" else self._behavior
        rec = self._rec.get(modality)
        if ds is None or rec is None or self._neural is None:
            return None
        conds = self._neural.conditions
        labels = None if conds is None else [str(c) for c in conds]
        trial = self.slider.value()
        return {
            "observed": ds.data,
            "reconstructed": np.asarray(rec),
            "channel_names": list(ds.channel_names),
            "trial": trial,
            "bin_size_s": ds.bin_size_s or self._neural.bin_size_s,
            "likelihood": self._neural_lik if modality == "neural" else self._behavior_lik,
            "condition": None if labels is None else labels[trial],
            "conditions": labels,
        }

    def frames_image(self) -> np.ndarray | None:
        return self.frames_img.image if self.frames_img.isVisible() else None

    # ---------------------------------------------------------------- slots
    def _on_slider_value_changed(self, i: int) -> None:
        self._request_redraw()
        self.trial_changed.emit(i)

    def _on_channel_value_changed(self, _i: int) -> None:
        self._request_redraw()

    def _on_play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        (self._play_timer.start if on else self._play_timer.stop)()

    # ---------------------------------------------------------------- drawing
    # Three jobs, one per plot row, so that one turn of the event loop paints one of them
    # (mmgpvae_gui.redraw); each draws the trial selected when it runs.
    _JOBS = ("reconstruction/neural", "reconstruction/traces", "reconstruction/behavior")

    def _request_redraw(self) -> None:
        for key, job in zip(
            self._JOBS, (self._draw_neural, self._draw_traces_plot, self._draw_behavior_plot)
        ):
            self._queue.request(key, job)

    def _time(self) -> np.ndarray:
        nd = self._neural
        return np.arange(nd.n_time) * (nd.bin_size_s or 1.0)

    def _draw_neural(self) -> None:
        nd = self._neural
        if nd is None:
            return
        i = self.slider.value()
        dt = nd.bin_size_s or 1.0
        cond = None if nd.conditions is None else str(nd.conditions[i])
        color = self._colors.get(cond, NO_CONDITION) if cond else NO_CONDITION
        cond_txt = f"<b style='color:{hex_color(color)}'>{cond}</b>" if cond else "no condition"
        self.trial_label.setText(f"trial {i + 1} / {nd.n_trials} · condition: {cond_txt}")

        obs = nd.data[i].T  # (channels, time)
        rect = pg.QtCore.QRectF(0, 0, nd.n_time * dt, nd.n_channels)
        self.obs_img.setImage(np.nan_to_num(obs), autoLevels=False, levels=self._cbar.levels())
        self.obs_img.setRect(rect)
        if getattr(self, "_obs_rect", None) != rect:
            self.obs_plot.setRange(rect, padding=0)
            self._obs_rect = rect
        rec = self._rec.get("neural")
        if rec is not None:
            self.rec_img.setImage(rec[i].T, autoLevels=False, levels=self._cbar.levels())
            self.rec_img.setRect(rect)
        else:
            self.rec_img.clear()
        self._drawn[self._JOBS[0]] = i
        settle_before_paint(self.obs_plot, self.rec_plot)

    def _draw_traces_plot(self) -> None:
        nd = self._neural
        if nd is None:
            return
        i = self.slider.value()
        rec = self._rec.get("neural")
        c0 = min(self.channel_spin.value(), max(0, nd.n_channels - N_TRACES))
        self._draw_traces(
            self.trace_plot,
            self._neural_obs_curves,
            self._neural_rec_curves,
            self._time(),
            nd.data[i],
            None if rec is None else rec[i],
            c0,
            nd.channel_names,
        )
        self._drawn[self._JOBS[1]] = i
        settle_before_paint(self.trace_plot)

    def _draw_behavior_plot(self) -> None:
        if self._neural is None:
            return
        i = self.slider.value()
        self._draw_behavior(i, self._time())
        self._drawn[self._JOBS[2]] = i
        settle_before_paint(self.behavior_plot)

    def _draw_traces(self, plot, obs_curves, rec_curves, t, obs, rec, c0, names) -> None:
        # Rebuilding a legend re-lays out the plot: do it only when the channels shown change.
        legend = plot.getPlotItem().legend
        shown = tuple(names[c0 : min(c0 + N_TRACES, obs.shape[1])])
        if legend is None:  # the traces plot: its legend is a label
            text = " &nbsp; ".join(
                f"<span style='color:{hex_color(PALETTE[k])}'>━</span> {name}"
                for k, name in enumerate(shown)
            )
            if self.trace_legend.text() != text:
                self.trace_legend.setText(text)
        elif getattr(legend, "_mmgp_shown", None) != shown:
            legend.clear()
            for k, name in enumerate(shown):
                legend.addItem(rec_curves[k], name)
            legend._mmgp_shown = shown
        for k in range(N_TRACES):
            c = c0 + k
            if c >= obs.shape[1]:
                obs_curves[k].setData([], [])
                rec_curves[k].setData([], [])
                continue
            obs_curves[k].setData(t, obs[:, c], connect="finite")
            if rec is not None:
                rec_curves[k].setData(t, rec[:, c])
            else:
                rec_curves[k].setData([], [])

    def _draw_behavior(self, i: int, t: np.ndarray) -> None:
        bd = self._behavior
        plot = self.behavior_plot
        if bd is None:
            plot.setTitle("Behavior (none loaded)")
            self._behavior_mode = None
            self.frames_img.hide()
            for c in self._beh_obs_curves + self._beh_rec_curves:
                c.setData([], [])
            return
        rec = self._rec.get("behavior")
        shape = bd.preprocessing.get("image_shape") if bd.kind == "image" else None
        if shape:
            self._behavior_mode = "frames"
            self._draw_frames(i, bd, rec, tuple(int(s) for s in shape))
            return
        self.frames_img.hide()
        mode = ("traces", bool(bd.bin_size_s))
        if getattr(self, "_behavior_mode", None) != mode:  # titles and axes re-lay out the plot
            plot.setTitle("Behavior: observed (dots) vs reconstructed (lines)")
            plot.setLabel("left", "value (data units)")
            plot.getPlotItem().invertY(False)
            plot.getPlotItem().setAspectLocked(False)
            plot.getAxis("bottom").setTicks(None)
            plot.getAxis("left").setTicks(None)
            plot.setLabel("bottom", "time (s)" if bd.bin_size_s else "time (bins)")
            self._behavior_mode = mode
        c0 = min(self.channel_spin.value(), max(0, bd.n_channels - N_TRACES))
        self._draw_traces(
            plot,
            self._beh_obs_curves,
            self._beh_rec_curves,
            t,
            bd.data[i],
            None if rec is None else rec[i],
            c0,
            bd.channel_names,
        )

    def _draw_frames(self, i, bd: Dataset, rec, shape: tuple[int, int]) -> None:
        """Two rows of frames evenly spaced in time: observed (top), reconstructed (bottom)."""
        h, w = shape
        for c in self._beh_obs_curves + self._beh_rec_curves:
            c.setData([], [])
        self.behavior_plot.getPlotItem().legend.clear()
        times = np.linspace(0, bd.n_time - 1, N_FRAMES).round().astype(int)
        gap = 1
        mosaic = np.full((2 * h + gap, N_FRAMES * (w + gap) - gap), np.nan)
        for k, tt in enumerate(times):
            x0 = k * (w + gap)
            mosaic[:h, x0 : x0 + w] = bd.data[i, tt].reshape(h, w)
            if rec is not None:
                mosaic[h + gap :, x0 : x0 + w] = rec[i, tt].reshape(h, w)
        self.frames_img.setImage(np.nan_to_num(mosaic, nan=0.0), levels=(0.0, 1.0))
        self.frames_img.show()
        self.behavior_plot.setRange(
            xRange=(0, mosaic.shape[1]), yRange=(0, mosaic.shape[0]), padding=0.02
        )
        dt = bd.bin_size_s or 1.0
        unit = "s" if bd.bin_size_s else "bins"
        plot = self.behavior_plot
        plot.setTitle(f"Frames ({h}×{w} px): observed (top), reconstructed (bottom)")
        plot.setLabel("left", "reconstructed   |   observed")
        plot.getPlotItem().invertY(True)
        plot.getPlotItem().setAspectLocked(True)
        ax = plot.getAxis("bottom")
        ax.setTicks([[(k * (w + gap) + w / 2, f"{tt * dt:g}") for k, tt in enumerate(times)]])
        plot.setLabel("bottom", f"frame time ({unit})")
        plot.getAxis("left").setTicks([[(h / 2, "obs."), (h + gap + h / 2, "rec.")]])
