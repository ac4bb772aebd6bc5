"""Observed vs reconstructed, one trial at a time: a slider (and play button, arrow keys) scrubs
trials. Neural: spike raster or calcium heat map, plus traces of a chosen channel. Behavior:
keypoint/variable traces, or image frames when the behavior is a movie.

A continuous session (windows of one recording, ``continuous.is_continuous``) is scrubbed on
its clock instead: a :class:`~mmgpvae_gui.widgets.time_scrubber.TimeScrubber` replaces the
trial slider, and every plot shows a view of the windows joined end to end, on session time.
Heat maps are pooled to the view's pixel size (:mod:`mmgpvae_gui.widgets.heatmap`)."""

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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.data import Dataset
from mmgpvae_core.model.likelihoods import LIKELIHOOD_CLASSES, Likelihood
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import NO_CONDITION, condition_colors, hex_color, legend_outside
from mmgpvae_gui.widgets.heatmap import HeatmapPlot, level_sample
from mmgpvae_gui.widgets.time_scrubber import TimeScrubber, joined, session_clock, trial_selector
from mmgpvae_gui.widgets.traces import N_TRACES, TraceCurves, show_frames

PLAY_MS = 250


class ReconstructionPanel(QWidget):
    trial_changed = Signal(int)  # continuous session: the window at the view's centre
    view_changed = Signal(int, int)  # continuous session: the view's bins [start, stop)
    export_requested = Signal()  # the user asked to export the current trial's reconstruction

    def __init__(self, parent: QWidget | None = None, redraw: RedrawQueue | None = None) -> None:
        super().__init__(parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._neural: Dataset | None = None
        self._behavior: Dataset | None = None
        self._rec: dict[str, np.ndarray] = {}
        self._joined: dict[str, np.ndarray] = {}  # continuous: (bins, channels), cached
        self._neural_lik = ModelConfig.neural_likelihood
        self._behavior_lik = ModelConfig.behavior_likelihood
        self._colors: dict[str, tuple[int, int, int]] = {}
        self._drawn: dict[str, object] = {}  # redraw job → the trial (or view) it drew last
        self._clock: tuple[np.ndarray, int] | None = None  # continuous: (session time, window)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.trial_row, self.play_button, self.slider, self.trial_label = trial_selector()
        self.play_button.toggled.connect(self._on_play_toggled)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        row.addWidget(self.trial_row, 1)
        row.addStretch(0)
        self.scrubber = TimeScrubber()  # a continuous session's own row, above the controls
        self.scrubber.view_changed.connect(self._on_scrubber_view_changed)
        self.scrubber.hide()
        layout.addWidget(self.scrubber)
        row.addWidget(QLabel("Trace channel:"))
        self.channel_spin = QSpinBox()
        self.channel_spin.setToolTip(
            f"First of the {N_TRACES} channels whose traces are drawn (index, from 0)"
        )
        self.channel_spin.valueChanged.connect(self._on_channel_value_changed)
        row.addWidget(self.channel_spin)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the shown observed vs reconstructed data as PNG (chosen DPI), SVG or PDF"
        )
        self.export_button.clicked.connect(self.export_requested)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        layout.addLayout(self._build_plots(), 1)

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
    def _build_plots(self) -> QGridLayout:
        """Observed and reconstructed heat maps, the traces, the behavior below them."""
        grid = QGridLayout()
        self.obs_plot = HeatmapPlot("Observed neural")
        self.rec_plot = HeatmapPlot("Reconstructed neural")
        self.obs_img, self.rec_img = self.obs_plot.image_item, self.rec_plot.image_item
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
        # The narrow traces plot's legend: a line of text under it (a pyqtgraph legend beside
        # the plot would take a third of its width, inside it would hide data).
        self.trace_legend = QLabel()
        self.trace_legend.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.trace_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._neural_traces = TraceCurves(self.trace_plot, self.trace_legend)
        cell = QVBoxLayout()
        cell.setSpacing(0)
        cell.addWidget(self.trace_plot, 1)
        cell.addWidget(self.trace_legend)
        grid.addLayout(cell, 0, 2)

        self.behavior_plot = pg.PlotWidget(title="Behavior")
        legend_outside(self.behavior_plot, "right")
        self._beh_traces = TraceCurves(self.behavior_plot)
        self.frames_img = pg.ImageItem()
        self.frames_img.setColorMap(pg.colormap.get("CET-L1"))
        self.behavior_plot.addItem(self.frames_img)
        grid.addWidget(self.behavior_plot, 1, 0, 1, 3)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        return grid

    def _set_enabled(self, on: bool) -> None:
        for w in (self.slider, self.play_button, self.channel_spin, self.scrubber):
            w.setEnabled(on)

    def _set_mode(self, clock: tuple[np.ndarray, int] | None) -> None:
        """Trials (a trial slider) or a continuous session (the session-time scrubber)."""
        self._clock = clock
        self.trial_row.setVisible(clock is None)
        self.scrubber.setVisible(clock is not None)
        self.play_button.setChecked(False)
        self.scrubber.stop()
        for p in (self.trace_plot, self.behavior_plot):
            p.enableAutoRange(x=True)

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
        self._joined = {}
        self._set_mode(session_clock(neural))
        conds = [] if neural is None or neural.conditions is None else list(neural.conditions)
        self._colors = condition_colors([str(c) for c in conds])
        if neural is None:
            self._set_enabled(False)
            self.trial_label.setText("no data")
            for plot in (self.obs_plot, self.rec_plot):
                plot.clear_data()
            self.frames_img.clear()
            return
        self._set_enabled(True)
        self.slider.setRange(0, neural.n_trials - 1)
        self.channel_spin.setRange(0, max(0, neural.n_channels - 1))
        unit = "s" if neural.bin_size_s else "bins"
        xlabel = "session time (s)" if self._clock is not None else f"time ({unit})"
        for p in (self.obs_plot, self.rec_plot, self.trace_plot, self.behavior_plot):
            p.setLabel("bottom", xlabel)
        lik = LIKELIHOOD_CLASSES.get(neural_likelihood, Likelihood)
        raster = lik.counts
        self.obs_plot.how = self.rec_plot.how = "max" if raster else "mean"
        self.obs_plot.setTitle("Observed spikes" if raster else "Observed (heat map)")
        self.rec_plot.setTitle("Reconstructed rate" if raster else "Reconstructed")
        self.trace_plot.setLabel("left", lik.unit_label)
        vals = level_sample(neural.data)
        hi = float(np.percentile(vals, 99.5)) if vals.size else 1.0
        lo = 0.0 if raster else float(np.percentile(vals, 0.5))
        self._cbar.setLevels((lo, max(hi, lo + 1e-6)))
        cmap = pg.colormap.get("CET-L1" if raster else "viridis")
        if raster:
            cmap.reverse()  # white background, black spikes
        self._cbar.setColorMap(cmap)
        if self._clock is not None:
            for key, ds in (("neural", neural), ("behavior", behavior)):
                if ds is not None:
                    self._joined[key] = joined(ds.data)
            self.scrubber.set_session(*self._clock)  # draws through _on_scrubber_view_changed
        self._request_redraw()

    def set_reconstruction(self, rec: dict[str, np.ndarray]) -> None:
        """modality → (trials, time, channels) posterior-predictive means; for a continuous
        session joined once here, so a scrub step only slices."""
        self._rec = dict(rec)
        for key in ("neural", "behavior"):
            self._joined.pop(f"rec/{key}", None)
            if self._clock is not None and key in self._rec:
                self._joined[f"rec/{key}"] = joined(np.asarray(self._rec[key]))
        self._drawn = {}  # not shown until redrawn
        self._request_redraw()

    @property
    def is_continuous(self) -> bool:
        return self._clock is not None

    def set_session_time(self, t_s: float) -> None:
        """Continuous session: centre the view on session time ``t_s`` (s)."""
        self.scrubber.set_time(t_s)

    def set_view(self, start: int, stop: int) -> None:
        """Continuous session: show bins [start, stop) (another view's scrubber moved)."""
        if self._clock is not None and self.scrubber.view() != (start, stop):
            self.scrubber.set_view(start, stop)

    @property
    def shown_view(self) -> tuple[int, int] | None:
        """Continuous session: the view (bins) every plot shows now; None while they differ."""
        views = set(self._drawn.values())
        ok = len(self._drawn) == len(self._JOBS) and len(views) == 1 and self._clock is not None
        return views.pop() if ok else None

    def set_trial(self, i: int) -> None:
        self.slider.setValue(i)

    def current_trial(self) -> int:
        return self.slider.value()

    @property
    def shown_trial(self) -> int:
        """The trial whose data every plot shows now; -1 while they differ (mid-redraw)."""
        trials = set(self._drawn.values())
        ok = len(self._drawn) == len(self._JOBS) and len(trials) == 1 and self._clock is None
        return trials.pop() if ok else -1

    def step(self, delta: int, wrap: bool = False) -> None:
        """One trial on; for a continuous session half a view (``delta`` halves)."""
        if self._clock is not None:
            self.scrubber.step(delta / 2, wrap=wrap)
            return
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
        draw (no data of that modality or no reconstruction yet). For a continuous session:
        the view, ``observed`` and ``reconstructed`` (time, channels), and ``time`` (time,) in
        session seconds."""
        ds = self._neural if modality == "neural" else self._behavior
        rec = self._rec.get(modality)
        if ds is None or rec is None or self._neural is None:
            return None
        if self._clock is not None:
            obs, rec_shown, t = self._selection(modality)
            return {
                "observed": obs,
                "reconstructed": rec_shown,
                "channel_names": list(ds.channel_names),
                "trial": 0,
                "time": t,
                "bin_size_s": ds.bin_size_s or self._neural.bin_size_s,
                "likelihood": self._neural_lik if modality == "neural" else self._behavior_lik,
                "condition": None,
                "conditions": None,
            }
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

    def _on_scrubber_view_changed(self, start: int, stop: int) -> None:
        self._request_redraw()
        self.view_changed.emit(start, stop)
        self.trial_changed.emit((start + stop) // 2 // max(1, self._clock[1]))

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

    def _position(self):
        """What the plots are to show: the trial, or (continuous) the view's bins."""
        return self.slider.value() if self._clock is None else self.scrubber.view()

    def _selection(self, modality: str):
        """(observed (time, channels), reconstructed or None, time (time,)) shown now."""
        ds = self._neural if modality == "neural" else self._behavior
        rec = self._rec.get(modality)
        if self._clock is None:
            i = self.slider.value()
            return ds.data[i], None if rec is None else rec[i], self._time()
        s0, s1 = self.scrubber.view()
        rec_j = self._joined.get(f"rec/{modality}")
        rec_j = None if rec_j is None else rec_j[s0:s1]
        return self._joined[modality][s0:s1], rec_j, self._clock[0][s0:s1]

    def _follow_view(self, plot: pg.PlotWidget, t: np.ndarray) -> None:
        if self._clock is not None and t.size:  # the plots share the view's session time
            dt = self._neural.bin_size_s or 1.0
            plot.setXRange(t[0] - dt / 2, t[-1] + dt / 2, padding=0)

    def _draw_neural(self) -> None:
        nd = self._neural
        if nd is None:
            return
        pos = self._position()
        dt = nd.bin_size_s or 1.0
        obs, rec, t = self._selection("neural")
        if self._clock is None:
            cond = None if nd.conditions is None else str(nd.conditions[pos])
            color = self._colors.get(cond, NO_CONDITION) if cond else NO_CONDITION
            cond_txt = f"<b style='color:{hex_color(color)}'>{cond}</b>" if cond else "no condition"
            self.trial_label.setText(f"trial {pos + 1} / {nd.n_trials} · condition: {cond_txt}")
            rect = pg.QtCore.QRectF(0, 0, nd.n_time * dt, nd.n_channels)
        else:
            rect = pg.QtCore.QRectF(t[0] - dt / 2, 0, t.size * dt, nd.n_channels)
        levels = self._cbar.levels()
        self.obs_plot.show_data(obs.T, rect, levels)  # (channels, time)
        if getattr(self, "_obs_rect", None) != rect:
            self.obs_plot.setRange(rect, padding=0)
            self._obs_rect = rect
        if rec is not None:
            self.rec_plot.show_data(rec.T, rect, levels)
        else:
            self.rec_plot.clear_data()
        self._drawn[self._JOBS[0]] = pos
        settle_before_paint(self.obs_plot, self.rec_plot)

    def _draw_traces_plot(self) -> None:
        nd = self._neural
        if nd is None:
            return
        pos = self._position()
        obs, rec, t = self._selection("neural")
        c0 = min(self.channel_spin.value(), max(0, nd.n_channels - N_TRACES))
        self._neural_traces.draw(t, obs, rec, c0, nd.channel_names)
        self._follow_view(self.trace_plot, t)
        self._drawn[self._JOBS[1]] = pos
        settle_before_paint(self.trace_plot)

    def _draw_behavior_plot(self) -> None:
        if self._neural is None:
            return
        pos = self._position()
        self._draw_behavior()
        self._drawn[self._JOBS[2]] = pos
        settle_before_paint(self.behavior_plot)

    def _draw_behavior(self) -> None:
        bd = self._behavior
        plot = self.behavior_plot
        if bd is None:
            plot.setTitle("Behavior (none loaded)")
            self._behavior_mode = None
            self.frames_img.hide()
            self._beh_traces.clear()
            return
        obs, rec, t = self._selection("behavior")
        shape = bd.preprocessing.get("image_shape") if bd.kind == "image" else None
        if shape:
            self._behavior_mode = "frames"
            self._draw_frames(obs, rec, t, bd, tuple(int(s) for s in shape))
            return
        self.frames_img.hide()
        mode = ("traces", bool(bd.bin_size_s), self._clock is not None)
        if getattr(self, "_behavior_mode", None) != mode:  # titles and axes re-lay out the plot
            plot.setTitle("Behavior: observed (dots) vs reconstructed (lines)")
            plot.setLabel("left", "value (data units)")
            plot.getPlotItem().invertY(False)
            plot.getPlotItem().setAspectLocked(False)
            plot.getAxis("bottom").setTicks(None)
            plot.getAxis("left").setTicks(None)
            xlabel = "time (s)" if bd.bin_size_s else "time (bins)"
            plot.setLabel("bottom", "session time (s)" if self._clock is not None else xlabel)
            self._behavior_mode = mode
        c0 = min(self.channel_spin.value(), max(0, bd.n_channels - N_TRACES))
        self._beh_traces.draw(t, obs, rec, c0, bd.channel_names)
        self._follow_view(plot, t)

    def _draw_frames(self, obs, rec, t, bd: Dataset, shape: tuple[int, int]) -> None:
        self._beh_traces.clear()
        legend = self.behavior_plot.getPlotItem().legend
        legend.clear()
        legend._mmgp_shown = None
        unit = "s" if bd.bin_size_s else "bins"
        clock = "session time" if self._clock is not None else "frame time"
        show_frames(self.behavior_plot, self.frames_img, obs, rec, t, shape, f"{clock} ({unit})")

