"""The "Controls" section of the model-selection view: is the shared structure real, and stable?

- **Null test**: the split fitted to the real pairing of neural and behavior trials and to
  behavior trials re-paired at random (across all trials, or within each condition), each scored
  by held-out cross-modal prediction (:func:`mmgpvae_core.controls.run_null_test`). Shown: the
  null scores as a histogram, the real score as a line, p in the title.
- **Consistency**: the split fitted with several seeds; canonical correlations of each seed's
  subspaces with the first seed's (:func:`mmgpvae_core.controls.run_consistency`), one line per
  subspace and a plot.

A view only, like :class:`~mmgpvae_gui.panels.model_selection_panel.ModelSelectionPanel`: its
buttons emit ``null_test_requested``, ``consistency_requested`` and ``cancel_requested``; the
control runs in ``jobs.ControlsJob``, which reports back through :meth:`begin`,
:meth:`show_progress`, :meth:`show_status`, :meth:`show_result` and :meth:`show_failure`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.controls import ConsistencyResult, NullTestResult
from mmgpvae_core.figures.controls import (
    SCORE_LABEL,
    consistency_positions,
    null_histogram,
    null_test_title,
    score_range,
)
from mmgpvae_core.sweep import SweepSettings
from mmgpvae_gui.panels.job_view import JobView
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import PALETTE, labelled_plot
from mmgpvae_gui.subspaces import LETTERS
from mmgpvae_gui.widgets.split import SplitSpins

REAL_COLOR = PALETTE[1]  # vermillion, as in the exported figure
NULL_COLOR = (153, 153, 153)


class ControlsPanel(JobView, QGroupBox):
    """Split and control settings, Run / Cancel, progress, the null histogram and the seed
    consistency of each subspace."""

    null_test_finished = Signal(object)  # NullTestResult, shown
    consistency_finished = Signal(object)  # ConsistencyResult, shown
    null_test_requested = Signal(object, int, bool, object)  # split, shuffles, within, settings
    consistency_requested = Signal(object, int, object)  # split, seeds, SweepSettings
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None, redraw: RedrawQueue | None = None) -> None:
        super().__init__("Controls: is the shared structure real, and stable?", parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._running = False
        self.null_result: NullTestResult | None = None
        self.consistency_result: ConsistencyResult | None = None

        layout = QVBoxLayout(self)
        self._build_settings(layout)
        self._build_null_plot(layout)
        self._build_consistency_plot(layout)
        self.null_button.clicked.connect(self._on_null_clicked)
        self.consistency_button.clicked.connect(self._on_consistency_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

    # ---------------------------------------------------------------- building
    def _build_settings(self, layout: QVBoxLayout) -> None:
        """What the controls test, the split and their settings, the buttons, progress."""
        intro = QLabel(
            "<b>Null test</b>: refit with behavior trials re-paired at random; is held-out "
            "cross-modal prediction of the real pairing better? <b>Consistency</b>: refit "
            "with other seeds; are the subspaces the same (canonical correlations)?"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.split_spins = SplitSpins()
        form.addRow("Split (shared, private A, B)", self.split_spins)
        self.shuffles_spin = QSpinBox(minimum=1, maximum=999, value=19)
        self.shuffles_spin.setToolTip("19 shuffles: the smallest possible p is 0.05")
        self.within_check = QCheckBox("within each condition")
        self.within_check.setToolTip(
            "Re-pair behavior trials only among trials of the same condition: tests "
            "trial-by-trial coupling beyond what the task explains"
        )
        shuffles = QHBoxLayout()
        shuffles.addWidget(self.shuffles_spin)
        shuffles.addWidget(self.within_check)
        shuffles.addStretch(1)
        self.folds_spin = QSpinBox(minimum=2, maximum=20, value=2)
        self.epochs_spin = QSpinBox(minimum=1, maximum=100000, value=150)
        self.seeds_spin = QSpinBox(minimum=2, maximum=50, value=5)
        form.addRow("Shuffles", shuffles)
        form.addRow("Folds", self.folds_spin)
        form.addRow("Epochs per fit", self.epochs_spin)
        form.addRow("Seeds (consistency)", self.seeds_spin)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.null_button = QPushButton("Run null test")
        self.consistency_button = QPushButton("Run consistency")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for b in (self.null_button, self.consistency_button, self.cancel_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m fits")
        layout.addWidget(self.progress)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)

    def _build_null_plot(self, layout: QVBoxLayout) -> None:
        self.null_plot = labelled_plot("Null test", SCORE_LABEL, "shuffled fits")
        self.null_bars = pg.BarGraphItem(
            x0=[], x1=[], height=[], brush=pg.mkBrush(*NULL_COLOR, 180), pen=pg.mkPen(None)
        )
        self.null_plot.addItem(self.null_bars)
        self.real_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(REAL_COLOR, width=3),
            label="real pairing",
            labelOpts={"position": 0.92, "color": REAL_COLOR, "anchors": [(1, 0.5), (1, 0.5)]},
        )
        self.real_line.setVisible(False)
        self.null_plot.addItem(self.real_line)
        layout.addWidget(self.null_plot, 1)
        self.null_label = QLabel("")
        self.null_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.null_label)

    def _build_consistency_plot(self, layout: QVBoxLayout) -> None:
        self.consistency_plot = labelled_plot(
            "Seed consistency",
            "canonical dimension (S shared, A private neural, B private behavior)",
            "canonical correlation",
        )
        self.consistency_plot.setYRange(0, 1.05, padding=0)
        self.consistency_plot.setMouseEnabled(x=False, y=False)
        self.consistency_bars = pg.BarGraphItem(
            x=[], height=[], width=0.6, brush=pg.mkBrush(0, 0, 0, 50), pen=pg.mkPen(None)
        )
        self.consistency_dots = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(0, 0, 0), pen=None)
        self.consistency_plot.addItem(self.consistency_bars)
        self.consistency_plot.addItem(self.consistency_dots)
        layout.addWidget(self.consistency_plot, 1)
        self.consistency_label = QLabel("")
        self.consistency_label.setWordWrap(True)
        self.consistency_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.consistency_label)

    # ---------------------------------------------------------------- state
    @property
    def is_running(self) -> bool:
        return self._running

    def split(self) -> tuple[int, int, int]:
        return self.split_spins.split()

    def set_split(self, shared: int, private_neural: int, private_behavior: int) -> None:
        """Test this split (the model-selection view sets the sweep's chosen one)."""
        self.split_spins.set_split(shared, private_neural, private_behavior)

    def settings(self) -> SweepSettings:
        """Folds and epochs of each fit (the job adds the model panel's options)."""
        return SweepSettings(folds=self.folds_spin.value(), epochs=self.epochs_spin.value())

    def start_null_test(self) -> bool:
        """Run null test: ask for one with the settings shown; True if it started."""
        if self._running:
            return False
        within = self.within_check.isChecked()
        self.null_test_requested.emit(self.split(), self.shuffles_spin.value(), within,
                                      self.settings())
        if self._running:
            self.null_result = None
            self._draw_null()
        return self._running  # the job has said whether it started (a direct connection)

    def start_consistency(self) -> bool:
        """Run consistency: fit the split with seeds 0 … n − 1, compare each with seed 0's."""
        if self._running:
            return False
        self.consistency_requested.emit(self.split(), self.seeds_spin.value(), self.settings())
        if self._running:
            self.consistency_result = None
            self._draw_consistency(None)
        return self._running

    # ---------------------------------------------------------------- what the job says
    def run_buttons(self) -> list:
        return [self.null_button, self.consistency_button]

    def begin(self, total: int, message: str) -> None:
        self.begin_progress(total, message)

    def show_progress(self, done: int, total: int, partial: NullTestResult | None) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        if partial is not None:  # a null-test fit: draw the histogram so far
            self._queue.request("controls/null", lambda: self._draw_null(partial))

    def show_result(self, result: NullTestResult | ConsistencyResult) -> None:
        head = "Cancelled. " if result.cancelled else ""
        if isinstance(result, NullTestResult):
            self.null_result = result
            self._queue.cancel("controls/null")
            self._draw_null(result)
            self.status_label.setText(f"{head}Null test done: {result.summary_line()}")
            self.null_test_finished.emit(result)
        else:
            self.consistency_result = result
            self._draw_consistency(result)
            n = len(result.seeds) + 1
            self.status_label.setText(f"{head}Consistency done ({n} seeds).")
            self.consistency_finished.emit(result)

    def show_failure(self, message: str) -> None:
        self.status_label.setText(f"Control failed: {message}")

    # ---------------------------------------------------------------- slots
    def _on_null_clicked(self) -> None:
        self.start_null_test()

    def _on_consistency_clicked(self) -> None:
        self.start_consistency()

    # ---------------------------------------------------------------- view
    def _draw_null(self, result: NullTestResult | None = None) -> None:
        null = result.null_scores if result is not None else np.zeros(0)
        real = result.real_score if result is not None else float("nan")
        counts, edges = null_histogram(null)
        self.null_bars.setOpts(x0=edges[:-1], x1=edges[1:], height=counts)
        self.real_line.setVisible(bool(np.isfinite(real)))
        if np.isfinite(real):
            self.real_line.setValue(real)
        if result is None or (not len(null) and not np.isfinite(real)):
            self.null_plot.setTitle("Null test")
            self.null_label.setText("")
        else:
            title = null_test_title(result.p, len(null), result.pairing)
            self.null_plot.setTitle("Null test: " + title)
            self.null_label.setText(result.summary_line() + "  (nats per held-out trial)")
            lo, hi = score_range(edges, real)
            self.null_plot.setXRange(lo, hi, padding=0)
            top = max(1.0, float(counts.max(initial=0)))
            self.null_plot.setYRange(0, top * 1.1, padding=0)
            step = max(1.0, np.ceil(top / 5))  # whole numbers of fits
            self.null_plot.getAxis("left").setTickSpacing(step, step)
        settle_before_paint(self.null_plot)

    def _draw_consistency(self, result: ConsistencyResult | None) -> None:
        axis = self.consistency_plot.getAxis("bottom")
        if result is None:
            self.consistency_bars.setOpts(x=[], height=[])
            self.consistency_dots.setData([], [])
            self.consistency_label.setText("")
            axis.setTicks(None)
            return
        pos = consistency_positions(result.dims)
        xs, means, dot_x, dot_y = [], [], [], []
        for x, _, sub, i in pos:
            cc = result.correlations[sub][:, i]
            cc = cc[np.isfinite(cc)]
            if cc.size:
                xs.append(x)
                means.append(float(cc.mean()))
                dot_x += [x] * cc.size
                dot_y += cc.tolist()
        self.consistency_bars.setOpts(x=xs, height=means)
        self.consistency_dots.setData(dot_x, dot_y)
        axis.setTicks([[(x, f"{LETTERS[sub]}{i + 1}") for x, _, sub, i in pos]])
        if pos:
            self.consistency_plot.setXRange(pos[0][0] - 0.6, pos[-1][0] + 0.6, padding=0)
        self.consistency_plot.setLabel(
            "left", f"canonical correlation with seed {result.reference_seed}"
        )
        self.consistency_label.setText("\n".join(result.lines()))
        settle_before_paint(self.consistency_plot)
