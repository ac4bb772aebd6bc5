"""Model selection: the settings of a cross-validated sweep over latent splits, the results table
and the held-out score against the number of shared dimensions; choosing a row emits
``fit_chosen(row)``. Beside them, in tabs, the Controls section (``controls_panel.py``: null test
and seed consistency of a split) and the Baselines section (``compare_panel.py``: the split
against a Wiener filter and a GLM on the same held-out data); a finished sweep sets their split to
the chosen one.

A view only: Run emits ``run_requested(configs, SweepSettings)`` and Cancel ``cancel_requested``;
the sweep runs in ``jobs.SweepJob``, which reports back through :meth:`begin`,
:meth:`show_progress`, :meth:`show_status`, :meth:`show_result` and :meth:`show_failure`
(``jobs.connect_view``); :meth:`set_running` shows whether it runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.sweep import (
    COUNT_NEURAL_DECODERS,
    SPLIT_KEYS,
    SweepResult,
    SweepSettings,
    edge_line,
    format_value,
    make_grid,
    parse_range,
    swept,
    swept_columns,
)
from mmgpvae_gui.panels.compare_panel import ComparePanel
from mmgpvae_gui.panels.controls_panel import ControlsPanel
from mmgpvae_gui.panels.job_view import JobView
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import PALETTE, legend_outside
from mmgpvae_gui.subspaces import LETTERS

SPLIT_COLUMNS = tuple(LETTERS.items())  # the split: S, A, B
#: after the split, a column for each option the sweep tried (the neural read-out on spike
#: counts, ...), headed by these words where they are shorter than the option's name
OPTION_HEADERS = {"neural_decoder": "read-out", "behavior_decoder": "behavior read-out"}
COLUMNS = (
    *SPLIT_COLUMNS,
    ("score", "score"),
    ("score_se", "± SE"),
    ("cosmooth_bps", "co-bps"),
    ("r2_behavior_from_neural", "R² beh←neu"),
    ("bps_neural_from_behavior", "bps neu←beh"),
    ("status", "status"),
)


class ModelSelectionPanel(JobView, QWidget):
    """Sweep settings, Run / Cancel, a progress bar, the results table and the score plot."""

    fit_chosen = Signal(object)  # the chosen row (dict)
    sweep_finished = Signal(object)  # SweepResult, shown
    run_requested = Signal(object, object)  # configurations (list of splits), SweepSettings
    cancel_requested = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        redraw: RedrawQueue | None = None,
        get_split: Callable[[], tuple[int, int, int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._running = False
        self._rows: list[dict[str, Any]] = []
        self._columns: tuple[tuple[str, str], ...] = COLUMNS  # and the options swept
        self.result: SweepResult | None = None

        sweep_side = QWidget()
        layout = QVBoxLayout(sweep_side)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build_settings(layout)
        self._build_results(layout)
        self.controls_panel = ControlsPanel(redraw=self._queue)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(sweep_side)
        self.compare_panel = ComparePanel(get_split, redraw=self._queue)
        self.side_tabs = QTabWidget()  # Controls, Baselines: each fits one split
        self.side_tabs.addTab(self.controls_panel, "Controls")
        self.side_tabs.addTab(self.compare_panel, "Baselines")
        self.side_tabs.setTabToolTip(1, "The split against a Wiener filter and a GLM, held out")
        splitter.addWidget(self.side_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        QVBoxLayout(self).addWidget(splitter)

        self.load_button.clicked.connect(self._on_load_clicked)
        self.table.cellDoubleClicked.connect(self._on_table_double_clicked)

    # ---------------------------------------------------------------- building
    def _build_settings(self, layout: QVBoxLayout) -> None:
        """The grid and settings of the sweep, Run / Cancel, progress."""
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.shared_edit = QLineEdit("0-4")
        self.private_neural_edit = QLineEdit("0-2")
        self.private_behavior_edit = QLineEdit("0-2")
        for w, tip in (
            (self.shared_edit, "shared dimensions to try: 0-4 or 1,2,3"),
            (self.private_neural_edit, "private neural dimensions to try"),
            (self.private_behavior_edit, "private behavior dimensions to try"),
        ):
            w.setToolTip(tip)
        self.readout_box = QComboBox()  # None: the sweep tries both on spike counts
        self.readout_box.addItem("linear and MLP (spike counts)", None)
        for name in COUNT_NEURAL_DECODERS:
            self.readout_box.addItem(name, name)
        self.readout_box.setToolTip(
            "Neural read-outs to try: on spike counts each split is fitted with a linear and an "
            "MLP read-out (twice the fits) and the held-out score chooses; or name one"
        )
        self.folds_spin = QSpinBox(minimum=2, maximum=20, value=3)
        self.epochs_spin = QSpinBox(minimum=1, maximum=100000, value=150)
        form.addRow("Shared", self.shared_edit)
        form.addRow("Private neural", self.private_neural_edit)
        form.addRow("Private behavior", self.private_behavior_edit)
        form.addRow("Neural read-out", self.readout_box)
        form.addRow("Folds", self.folds_spin)
        form.addRow("Epochs per fit", self.epochs_spin)
        layout.addLayout(form)

        layout.addLayout(self._build_job_row("Run sweep", "configurations"))
        self.status_label = QLabel("")
        layout.addWidget(self.status_label)

    def _build_results(self, layout: QVBoxLayout) -> None:
        """The results table and the score against the shared dimensions."""
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(False)
        self.table.setToolTip("Double-click a row (or select it and press Load) to load that fit")
        layout.addWidget(self.table, 1)
        self.load_button = QPushButton("Load selected fit")
        layout.addWidget(self.load_button)

        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "shared dimensions")
        self.plot.getAxis("bottom").setTickSpacing(1, 1)  # whole numbers of dimensions
        self.plot.setLabel("left", "held-out score (nats/trial)")
        legend_outside(self.plot, "below", columns=5)
        self._curves: dict[tuple, pg.PlotDataItem] = {}
        self._best_marker = pg.ScatterPlotItem(symbol="star", size=18, brush="k")
        self.plot.addItem(self._best_marker)
        layout.addWidget(self.plot, 1)

    # ---------------------------------------------------------------- state
    @property
    def is_running(self) -> bool:
        """A sweep, a control or a comparison is running (as the job said)."""
        return self._running or self.controls_panel.is_running or self.compare_panel.is_running

    def configs(self) -> list[dict[str, Any]]:
        """The grid shown: the splits, each with the neural read-out named (none named: the job
        adds both on spike counts, as the command line's sweep does)."""
        readout = self.readout_box.currentData()
        return make_grid(
            parse_range(self.shared_edit.text()),
            parse_range(self.private_neural_edit.text()),
            parse_range(self.private_behavior_edit.text()),
            neural_decoder=[readout],
        )

    def settings(self) -> SweepSettings:
        """Folds and epochs (the job adds the model panel's options and where fits go)."""
        return SweepSettings(folds=self.folds_spin.value(), epochs=self.epochs_spin.value())

    def start(self) -> bool:
        """Run: ask for a sweep of the grid shown; True if one started."""
        if self._running:
            return False
        try:
            configs = self.configs()
        except ValueError as exc:
            self.status_label.setText(f"Bad range: {exc}")
            return False
        self.run_requested.emit(configs, self.settings())
        return self._running  # the job has said whether it started (a direct connection)

    # ---------------------------------------------------------------- what the job says
    def begin(self, total: int, message: str) -> None:
        self._rows = []
        self.result = None
        self.table.setRowCount(0)
        self._set_columns([])
        self._clear_plot()
        self.begin_progress(total, message)

    def show_progress(self, done: int, total: int, row: dict) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self._rows.append(row)
        # One new table row now; the plot in a turn of its own (rebuilding the whole table and
        # plot per result stalled the window longer as the sweep went on). A row that sets an
        # option not shown yet (the first row of a read-out sweep) adds its column, once.
        self.table.setRowCount(len(self._rows))
        if self._set_columns(self._rows):
            for i, r in enumerate(self._rows[:-1]):
                self._fill_row(i, r, bold=False)
        self._fill_row(len(self._rows) - 1, row, bold=False)
        self._queue.request("model_selection/plot", lambda: self._update_plot(self._rows, None))

    def show_result(self, result: SweepResult) -> None:
        self.result = result
        self._rows = list(result.rows)
        self._show_rows(self._rows, best=result.best_index)
        head = "Cancelled. " if result.cancelled else ""
        axes = {k: sorted({int(r[k]) for r in result.rows}) for k in SPLIT_KEYS}
        edge = edge_line(result, axes, grow_hint=False)  # the best may lie beyond the grid
        edge = f" — {edge.removeprefix('edge: ')}" if edge else ""
        self.status_label.setText(f"{head}{result.best_line()} — {result.reason}{edge}")
        if result.best_index is not None:
            self.table.selectRow(result.best_index)
            self.controls_panel.set_split(*(result.best[k] for k in SPLIT_KEYS))
            self.compare_panel.set_split(
                *(result.best[k] for k in SPLIT_KEYS), source="sweep",
                options=dict(swept(result.best)),
            )
        self.sweep_finished.emit(result)

    def show_failure(self, message: str) -> None:
        self.status_label.setText(f"Sweep failed: {message}")

    # ---------------------------------------------------------------- slots
    def _on_run_clicked(self) -> None:
        self.start()

    def _on_table_double_clicked(self, row: int, _column: int) -> None:
        self.choose_row(row)

    def _on_load_clicked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.choose_row(rows[0].row())

    def choose_row(self, index: int) -> None:
        """Emit ``fit_chosen`` with a copy of row ``index`` (its ``project`` path, if the sweep
        saved fits, and its split and hyperparameters)."""
        if 0 <= index < len(self._rows):
            self.fit_chosen.emit(copy.deepcopy(self._rows[index]))

    # ---------------------------------------------------------------- view
    def _set_columns(self, rows: list[dict]) -> bool:
        """The table's columns: the split, a column for each option ``rows`` set (the sweep's
        ``swept_columns``: the neural read-out, ...), the scores; True if they changed."""
        options = tuple(
            (k, OPTION_HEADERS.get(k, k.replace("_", " "))) for k in swept_columns(rows)
        )
        at = len(SPLIT_COLUMNS)
        columns = (*COLUMNS[:at], *options, *COLUMNS[at:])
        if columns == self._columns and self.table.columnCount() == len(columns):
            return False
        self._columns = columns
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels([h for _, h in columns])
        return True

    def _show_rows(self, rows: list[dict], best: int | None) -> None:
        self._set_columns(rows)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            self._fill_row(i, r, bold=i == best)
        self._queue.cancel("model_selection/plot")
        self._update_plot(rows, best)

    def _fill_row(self, i: int, r: dict, bold: bool) -> None:
        for j, (key, _) in enumerate(self._columns):
            v = r.get(key)
            text = (
                ""
                if v is None
                else f"{v:.3g}"
                if isinstance(v, float) and np.isfinite(v)
                else ""
                if isinstance(v, float)
                else format_value(v)
            )
            item = QTableWidgetItem(text)
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(i, j, item)

    def _clear_plot(self) -> None:
        for c in self._curves.values():
            c.setData([], [])
        self._best_marker.setData([], [])

    def _update_plot(self, rows: list[dict], best: int | None) -> None:
        groups: dict[tuple, list[dict]] = {}  # a curve per private split and options swept
        options = swept_columns(rows)
        for r in rows:
            if r.get("status") == "ok" and np.isfinite(r.get("score", np.nan)):
                key = (r["private_neural"], r["private_behavior"],
                       *(format_value(r.get(k)) for k in options))
                groups.setdefault(key, []).append(r)
        for key in sorted(groups):
            rs = sorted(groups[key], key=lambda r: r["shared"])
            curve = self._curves.get(key)
            if curve is None:  # each curve is created once, then updated with setData
                color = PALETTE[len(self._curves) % len(PALETTE)]  # the app's one palette
                curve = self.plot.plot(
                    pen=pg.mkPen(color, width=1.5),
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=pg.mkBrush(color),
                    symbolPen=None,
                    name=" ".join([f"A={key[0]} B={key[1]}", *key[2:]]),
                )
                self._curves[key] = curve
            curve.setData([r["shared"] for r in rs], [r["score"] for r in rs])
        if best is not None:
            b = rows[best]
            self._best_marker.setData([b["shared"]], [b["score"]])
        settle_before_paint(self.plot)
