"""Train / pause / stop, a progress bar with epochs/s and time left, the ELBO and its terms
(log-scale toggle, best value marked) and the learned length-scales, redrawn at ≤ 20 Hz."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.training import EpochReport, TrainingHistory
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import PALETTE, TERM_COLORS, legend_outside

AXIS_WIDTH = 64  # px: room for the tick labels of "-12000" and a rotated axis label
AXIS_HEIGHT = 40
_TERMS = (
    ("elbo", "ELBO"),
    ("ell_neural", "E log p(neural)"),
    ("ell_behavior", "E log p(behavior)"),
    ("kl", "KL"),
)


def _fmt_seconds(s: float) -> str:
    if not np.isfinite(s):
        return "—"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def _epoch_plot(title: str, y_label: str) -> pg.PlotWidget:
    """A plot against epochs, with fixed axis sizes: tick labels that change width as the
    values move would otherwise re-lay out (and repaint) the plot several times per epoch."""
    plot = pg.PlotWidget()
    plot.setTitle(title)
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    plot.getAxis("bottom").setHeight(AXIS_HEIGHT)
    return plot


class TrainingPanel(QWidget):
    train_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()
    reset_clicked = Signal()
    export_requested = Signal()  # the user asked to export the ELBO or length-scale plot

    def __init__(self, parent: QWidget | None = None, redraw: RedrawQueue | None = None) -> None:
        super().__init__(parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._hist: dict[str, list[float]] = {k: [] for k, _ in _TERMS}
        self._epochs: list[int] = []
        self._elapsed: list[float] = []
        self._ells: list[np.ndarray] = []
        self._ell_names: list[str] = []
        self._target_epoch = 0
        self._planned = 1  # the Epochs box: what the next Train runs
        self._session_start: int | None = None
        self._epoch_axis_locked = False  # the epoch axis spans the running session

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Start training, or train the current model further (Space)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause or resume training after the current epoch (Space)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current epoch; the model keeps what it learned")
        self.reset_button = QPushButton("New model")
        self.reset_button.setToolTip(
            "Forget the trained model (keeps the data) so the latent "
            "split and other settings can change"
        )
        for b, sig in (
            (self.train_button, self.train_clicked),
            (self.pause_button, self.pause_clicked),
            (self.stop_button, self.stop_clicked),
            (self.reset_button, self.reset_clicked),
        ):
            b.clicked.connect(sig)
            row.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setFormat("epoch %v / %m")
        self.progress.setToolTip("Epochs run in this training session, of the maximum")
        self._show_planned()
        row.addWidget(self.progress, 1)
        self.rate_label = QLabel("—")
        self.rate_label.setMinimumWidth(190)
        self.rate_label.setToolTip("Training speed (epochs per second) and time left")
        row.addWidget(self.rate_label)
        self.log_check = QCheckBox("log scale")
        self.log_check.setToolTip("Show magnitudes |ELBO|, |E log p|, KL on a logarithmic axis")
        self.log_check.toggled.connect(self._on_log_toggled)
        row.addWidget(self.log_check)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the ELBO or the length-scale plot as PNG (chosen DPI), SVG or PDF"
        )
        self.export_button.clicked.connect(self.export_requested)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        layout.addLayout(self._build_plots(), 1)
        self.set_state("empty")

    def _build_plots(self) -> QHBoxLayout:
        """The ELBO and its terms (the best marked), and the learned length-scales."""
        plots = QHBoxLayout()
        self.elbo_plot = _epoch_plot("ELBO and its terms", "nats per trial")
        legend_outside(self.elbo_plot, "below", columns=5)
        self._curves = {}
        for key, name in _TERMS:
            width = 2.5 if key == "elbo" else 1.5
            self._curves[key] = self.elbo_plot.plot(
                [], [], pen=pg.mkPen(TERM_COLORS[key], width=width), name=name
            )
        self._best = self.elbo_plot.plot(
            [],
            [],
            pen=None,
            symbol="star",
            symbolSize=13,
            symbolBrush=pg.mkBrush(TERM_COLORS["kl"]),
            symbolPen=pg.mkPen("k"),
            name="best ELBO",
        )
        # The best value, beside its star (a label in the view: no re-layout when it changes).
        self._best_text = pg.TextItem(color="k", anchor=(1.05, 1.1))
        self.elbo_plot.addItem(self._best_text, ignoreBounds=True)
        plots.addWidget(self.elbo_plot, 3)

        self.ell_plot = _epoch_plot("Learned length-scales", "length-scale (bins)")
        self._ell_legend = legend_outside(self.ell_plot, "below", columns=2)
        self._ell_curves: list[pg.PlotDataItem] = []
        self._ell_built: tuple[str, ...] | None = None  # the latents the curves were made for
        plots.addWidget(self.ell_plot, 2)
        return plots

    # ---------------------------------------------------------------- state from the window
    def set_state(self, state: str) -> None:
        """empty (no data) | ready | running | paused | stopping."""
        self._state = state
        self.train_button.setEnabled(state == "ready")
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.reset_button.setEnabled(state == "ready")

    def set_latent_names(self, names: list[str]) -> None:
        """One label per latent dimension, e.g. ['shared 1', 'shared 2', 'private neural 1']."""
        self._ell_names = list(names)

    def set_planned_epochs(self, n_epochs: int) -> None:
        """The epochs the next Train runs (the Epochs box): before a first fit the bar reads
        "epoch 0 / n_epochs"."""
        self._planned = max(1, int(n_epochs))
        if self._session_start is None and not self._epochs:
            self._show_planned()

    def _show_planned(self) -> None:
        self.progress.setRange(0, self._planned)
        self.progress.setValue(0)

    def begin(self, first_epoch: int, n_epochs: int) -> None:
        """A training session of up to ``n_epochs`` epochs starts after ``first_epoch``."""
        self._session_start = first_epoch
        self._epoch_axis_locked = True
        self._target_epoch = first_epoch + n_epochs
        self.progress.setRange(0, n_epochs)
        self.progress.setValue(0)
        self.rate_label.setText("starting…")
        self._request_redraw()  # sets the session's epoch axis, in the redraw jobs

    def add_report(self, r: EpochReport) -> None:
        for key, _ in _TERMS:
            self._hist[key].append(float(getattr(r, key)))
        self._epochs.append(r.epoch)
        self._elapsed.append(r.elapsed_s)
        self._ells.append(np.asarray(r.length_scales, dtype=float))
        self._request_redraw()

    def set_history(self, h: TrainingHistory) -> None:
        """Replace everything shown with a model's history (a reopened project, a new model)."""
        self._hist = {k: list(getattr(h, k)) for k, _ in _TERMS}
        self._epochs = list(h.epoch)
        self._elapsed = list(h.elapsed_s)
        self._ells = [np.asarray(x, dtype=float) for x in h.length_scales]
        self._session_start = None
        if self._epochs:  # the last session's bar, full
            self.progress.setRange(0, len(self._epochs))
            self.progress.setValue(len(self._epochs))
        else:  # no fit yet: 0 of what Train would run
            self._show_planned()
        self.rate_label.setText("—")
        self._release_epoch_axis()
        self._request_redraw()

    def finish(self, message: str) -> None:
        self._release_epoch_axis()
        self._request_redraw()
        self.rate_label.setText(message)

    @property
    def n_epochs_shown(self) -> int:
        return len(self._epochs)

    def best(self) -> tuple[int, float] | None:
        """(epoch, ELBO) of the best epoch so far."""
        if not self._epochs:
            return None
        i = int(np.nanargmax(self._hist["elbo"]))
        return self._epochs[i], self._hist["elbo"][i]

    def history_arrays(self) -> dict[str, np.ndarray]:
        """Copies of what the plots show: ``epoch`` and the ELBO terms ``elbo``, ``ell_neural``,
        ``ell_behavior``, ``kl`` (epochs,) in nats per trial; ``length_scales`` (epochs, latents)
        in bins."""
        out = {k: np.asarray(v, dtype=float) for k, v in self._hist.items()}
        out["epoch"] = np.asarray(self._epochs, dtype=float)
        out["length_scales"] = (
            np.vstack(self._ells) if self._ells else np.zeros((0, 0), dtype=float)
        )
        return out

    def latent_names(self) -> list[str]:
        """The names the length-scale legend shows, one per latent."""
        n = len(self._ells[-1]) if self._ells else 0
        return [
            self._ell_names[d] if d < len(self._ell_names) else f"latent {d + 1}" for d in range(n)
        ]

    # ---------------------------------------------------------------- drawing
    def _on_log_toggled(self, on: bool) -> None:
        self.elbo_plot.setLogMode(y=on)
        self.elbo_plot.setLabel("left", "|value|, nats per trial (log)" if on else "nats per trial")
        self._request_redraw()

    # Two jobs, one per plot (mmgpvae_gui.redraw): the ELBO with the progress bar, and the
    # length-scales.
    def _request_redraw(self) -> None:
        self._queue.request("training/elbo", self._draw_elbo)
        self._queue.request("training/length_scales", self._draw_length_scales)

    def _set_epoch_axis(self, plot: pg.PlotWidget) -> None:
        """During a session the epoch axis spans the whole session: curves grow to the right,
        and the axis is not re-ticked (and the plot re-laid out) every epoch."""
        if not self._epoch_axis_locked:
            return
        want = (0.0, float(self._target_epoch))
        if getattr(plot, "_mmgp_epoch_axis", None) != want:
            plot.setXRange(*want, padding=0.02)
            plot._mmgp_epoch_axis = want

    def _release_epoch_axis(self) -> None:
        """Back to an epoch axis that fits the curves (the session is over)."""
        self._epoch_axis_locked = False
        for plot in (self.elbo_plot, self.ell_plot):
            plot.enableAutoRange(x=True)
            plot._mmgp_epoch_axis = None

    def _draw_length_scales(self) -> None:
        self._set_epoch_axis(self.ell_plot)
        self._redraw_length_scales(np.asarray(self._epochs, dtype=float))
        settle_before_paint(self.ell_plot)

    def _draw_elbo(self) -> None:
        self._set_epoch_axis(self.elbo_plot)
        x = np.asarray(self._epochs, dtype=float)
        log = self.log_check.isChecked()
        for key, _ in _TERMS:
            y = np.asarray(self._hist[key], dtype=float)
            if log:
                y = np.abs(y)
                y[y <= 0] = np.nan
            self._curves[key].setData(x, y, connect="finite")
        best = self.best()
        if best is not None:
            ep, val = best
            shown = abs(val) if log else val
            self._best.setData([ep], [shown])
            self._best_text.setText(f"{val:.1f} nats/trial at epoch {ep}")
            # Left of the star in the right half of the axis, right of it in the left half.
            lo, hi = self.elbo_plot.getViewBox().viewRange()[0]
            self._best_text.setAnchor((1.05, 1.1) if ep > (lo + hi) / 2 else (-0.05, 1.1))
            self._best_text.setPos(ep, shown)
        else:
            self._best.setData([], [])
            self._best_text.setText("")
        self._update_progress()
        settle_before_paint(self.elbo_plot)

    def _redraw_length_scales(self, x: np.ndarray) -> None:
        """The length-scale curves; a change in the latents (new curves and
        legend: a re-layout) is drawn in one turn and the data in the next."""
        if not self._ells:
            for c in self._ell_curves:
                c.setData([], [])
            return
        ells = np.vstack(self._ells)
        names = tuple(self.latent_names())
        if self._ell_built != names:
            for c in self._ell_curves:
                self.ell_plot.removeItem(c)
            self._ell_legend.clear()
            self._ell_curves = []
            for d, name in enumerate(names):
                style = pg.QtCore.Qt.PenStyle.SolidLine if d % 2 == 0 else pg.QtCore.Qt.DashLine
                pen = pg.mkPen(PALETTE[d % len(PALETTE)], width=2, style=style)
                self._ell_curves.append(self.ell_plot.plot([], [], pen=pen, name=name))
            self._ell_built = names
            self._queue.request("training/length_scales", self._draw_length_scales)
            return
        for d, c in enumerate(self._ell_curves):
            c.setData(x, ells[:, d])

    def _update_progress(self) -> None:
        if self._session_start is None or not self._epochs:
            return
        done = self._epochs[-1] - self._session_start
        self.progress.setValue(max(0, min(done, self.progress.maximum())))
        if len(self._elapsed) >= 2 and done >= 1:
            dt = np.diff(self._elapsed[-min(len(self._elapsed), 11) :])
            per_epoch = float(np.median(dt))  # robust to a pause inside one epoch
            rate = 1.0 / per_epoch if per_epoch > 0 else float("inf")
            left = (self._target_epoch - self._epochs[-1]) * per_epoch
            if self._state in ("running", "paused", "stopping"):
                self.rate_label.setText(f"{rate:.2f} epochs/s · {_fmt_seconds(left)} left")
