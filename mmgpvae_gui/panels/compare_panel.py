"""The "Baselines" section of the model-selection view: is the model better than the decoders a
reviewer asks for? One split fitted on the same training trials or windows as a Wiener filter
(and its causal form: behavior from neural activity) and a GLM (neural activity from behavior),
all scored on the same held-out data (:func:`mmgpvae_core.compare.run_compare`, as
``mmgpvae compare``).

Shown: the pooled held-out scores (method × metric), which folds were held out, per behavior
channel each method's held-out R² (bars), and a held-out stretch of one behavior channel,
observed and predicted by each method.

A view only, like the other sections: it takes a ``get_split`` callable (the model panel's split,
the default until a sweep chooses one); Run emits ``run_requested(CompareSettings)`` (the split,
epochs and held-out data; the job lays them over the model panel's options) and Cancel
``cancel_requested``; the comparison runs in ``jobs.CompareJob``, which reports back through
:meth:`begin`, :meth:`show_progress`, :meth:`show_status`, :meth:`show_result` and
:meth:`show_failure`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.compare import CompareSettings, Comparison
from mmgpvae_core.config import SUBSPACES
from mmgpvae_gui.panels.job_view import JobView
from mmgpvae_gui.redraw import RedrawQueue, settle_before_paint
from mmgpvae_gui.style import PALETTE, labelled_plot, legend_outside
from mmgpvae_gui.widgets.split import SplitSpins

#: methods in the order every output lists them, with their names in the app
METHODS = {
    "mmgpvae": "MM-GPVAE",
    "wiener": "Wiener filter",
    "wiener_causal": "Wiener (causal)",
    "bayes": "Bayesian decoder",
    "glm": "GLM",
}
BEHAVIOR_METHODS = ("mmgpvae", "wiener", "wiener_causal", "bayes")
COLORS = dict(zip(METHODS, PALETTE))
OBSERVED_COLOR = (0, 0, 0)
STRETCH_S = 30.0  # the held-out stretch shown of a continuous session, as in the figure


def _pooled(result: Comparison, method: str, direction: str, metric: str) -> dict | None:
    for r in result.rows:
        key = (r["method"], r["direction"], r["metric"], r["channel"])
        if key == (method, direction, metric, "all"):
            return r
    return None


def _columns(result: Comparison | None) -> list[tuple[str, str, str]]:
    """(direction, metric, header) of the table's columns."""
    neural = "r2" if result is not None and result.neural_metric == "r2" else "bits_per_spike"
    neural_header = "R²\nneural←behavior" if neural == "r2" else "bits/spike\nneural←behavior"
    return [
        ("behavior_from_neural", "r2", "R²\nbehavior←neural"),
        ("behavior_from_neural", "mae", "MAE (data units)\nbehavior←neural"),
        ("neural_from_behavior", neural, neural_header),
    ]


class ComparePanel(JobView, QGroupBox):
    """Split and held-out settings, Run / Cancel, progress, the pooled scores, R² per channel
    and a held-out stretch."""

    finished = Signal(object)  # Comparison (``cancelled`` if stopped), shown
    run_requested = Signal(object)  # CompareSettings
    cancel_requested = Signal()

    def __init__(
        self,
        get_split: Callable[[], tuple[int, int, int]] | None = None,
        parent: QWidget | None = None,
        redraw: RedrawQueue | None = None,
    ) -> None:
        super().__init__("Baselines: the model against a Wiener filter and a GLM", parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._get_split = get_split
        self._split_from = "model"  # "sweep" once a sweep chose it, "user" once edited
        self._options: dict[str, Any] = {}  # what the sweep's choice set beside its split
        self._running = False
        self.result: Comparison | None = None

        layout = QVBoxLayout(self)
        intro = QLabel(
            "Each fitted on the same training data, scored on the same held-out data: "
            "behavior from neural activity alone, neural activity from behavior alone."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(self._build_form())
        layout.addLayout(self._build_job_row("Run comparison", "epochs"))
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.folds_label = QLabel("")
        self.folds_label.setWordWrap(True)
        self.folds_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.folds_label)
        layout.addWidget(self._build_table())
        self._build_plots(layout)

    # ---------------------------------------------------------------- building
    def _build_form(self) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.split_spins = SplitSpins()
        self.split_spins.edited.connect(self._on_split_spins_edited)
        self.set_split(2, 1, 1, source="model")
        form.addRow("Split (shared, private A, B)", self.split_spins)
        held = QHBoxLayout()
        self.heldout_combo = QComboBox()
        self.heldout_combo.addItems(["test fraction", "K folds"])
        self.heldout_combo.setToolTip(
            "One split holding out a fraction (the end of a continuous session, trials "
            "stratified by condition), or K folds (contiguous blocks of a session)"
        )
        self.fraction_spin = QDoubleSpinBox(minimum=0.05, maximum=0.9, singleStep=0.05, value=0.2)
        self.folds_spin = QSpinBox(minimum=2, maximum=20, value=3)
        self.folds_spin.setVisible(False)
        self.heldout_combo.currentIndexChanged.connect(self._on_heldout_combo_changed)
        for w in (self.heldout_combo, self.fraction_spin, self.folds_spin):
            held.addWidget(w)
        held.addStretch(1)
        self.lags_spin = QSpinBox(minimum=0, maximum=200, value=5, suffix=" bins")
        self.lags_spin.setToolTip("The baselines see the other modality ±L bins around each bin")
        self.seeds_spin = QSpinBox(minimum=1, maximum=20, value=1)
        self.seeds_spin.setToolTip("Model fits per fold (seeds); the baselines are deterministic")
        self.epochs_spin = QSpinBox(minimum=1, maximum=100000, value=150)
        form.addRow("Held out", held)
        form.addRow("Lags (baselines)", self.lags_spin)
        form.addRow("Seeds", self.seeds_spin)
        form.addRow("Epochs per fit", self.epochs_spin)
        return form

    def _build_table(self) -> QTableWidget:
        self.table = QTableWidget(len(METHODS), 3)
        self.table.setVerticalHeaderLabels(list(METHODS.values()))
        self.table.setHorizontalHeaderLabels([h for _, _, h in _columns(None)])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(
            "Pooled held-out scores over every channel (mean over folds; ± sd over seeds). "
            "Higher R² and bits/spike are better, lower MAE is better; — : not that direction"
        )
        header = self.table.horizontalHeader().sizeHint().height()
        rows = sum(self.table.rowHeight(i) for i in range(self.table.rowCount()))
        self.table.setFixedHeight(header + rows + 2 * self.table.frameWidth() + 2)
        return self.table

    def _build_plots(self, layout: QVBoxLayout) -> None:
        self.r2_plot = labelled_plot("Behavior from neural activity, held out", "", "held-out R²")
        self.r2_plot.setMouseEnabled(x=False, y=False)
        legend_outside(self.r2_plot, "below", columns=3)
        self.r2_bars: dict[str, pg.BarGraphItem] = {}
        self.r2_errors: dict[str, pg.ErrorBarItem] = {}
        for m in BEHAVIOR_METHODS:
            bars = pg.BarGraphItem(x=[], height=[], width=0.25, brush=pg.mkBrush(COLORS[m]),
                                   pen=pg.mkPen(None), name=METHODS[m])
            self.r2_plot.addItem(bars)  # joins the legend by its name
            self.r2_bars[m] = bars
            self.r2_errors[m] = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.08)
            self.r2_plot.addItem(self.r2_errors[m])
        self.r2_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen((128, 128, 128))))
        layout.addWidget(self.r2_plot, 1)

        channel_row = QHBoxLayout()
        channel_row.addWidget(QLabel("Held-out stretch of"))
        self.channel_combo = QComboBox()
        self.channel_combo.currentIndexChanged.connect(self._on_channel_combo_changed)
        channel_row.addWidget(self.channel_combo)
        channel_row.addStretch(1)
        layout.addLayout(channel_row)
        self.stretch_plot = labelled_plot(
            "Held-out behavior, observed and predicted", "time (s)", "behavior (data units)"
        )
        legend_outside(self.stretch_plot, "below", columns=2)
        self.observed_curve = self.stretch_plot.plot(
            pen=pg.mkPen(OBSERVED_COLOR, width=2), name="observed"
        )
        self.stretch_curves = {
            m: self.stretch_plot.plot(pen=pg.mkPen(COLORS[m], width=1.5), name=METHODS[m])
            for m in BEHAVIOR_METHODS
        }
        for curve in (self.observed_curve, *self.stretch_curves.values()):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
        layout.addWidget(self.stretch_plot, 1)

    # ---------------------------------------------------------------- state
    @property
    def is_running(self) -> bool:
        return self._running

    def split(self) -> tuple[int, int, int]:
        return self.split_spins.split()

    def set_split(self, shared: int, private_neural: int, private_behavior: int,
                  source: str = "sweep", options: dict[str, Any] | None = None) -> None:
        """Compare this split: ``source`` "sweep" (a sweep's choice, which the model panel's no
        longer replaces) or "model" (the model panel's, the default). ``options``: what the
        sweep's choice set beside its split (its neural read-out, ...), laid over the model
        panel's options as ``compare --neural-decoder mlp`` does."""
        self.split_spins.set_split(shared, private_neural, private_behavior)
        self._split_from = source
        self._options = dict(options or {})
        note = {"sweep": "the sweep's choice", "model": "as the model panel"}.get(source, "")
        if self._options:
            note += " (" + ", ".join(f"{k}={v}" for k, v in self._options.items()) + ")"
        self.split_spins.note.setText(note)

    def follow_model_split(self) -> None:
        """Take the model panel's split, unless a sweep chose one or the user set one."""
        if self._split_from == "model" and self._get_split is not None:
            self.set_split(*self._get_split(), source="model")

    def settings(self) -> CompareSettings:
        """What the panel shows; ``model_kwargs`` holds the split and epochs only (the job lays
        them over the model panel's options)."""
        kwargs = {**self._options, **dict(zip(SUBSPACES, self.split()))}
        kwargs["epochs"] = self.epochs_spin.value()
        folds = self.heldout_combo.currentIndex() == 1
        return CompareSettings(
            folds=self.folds_spin.value() if folds else None,
            test_fraction=self.fraction_spin.value(),
            lags=self.lags_spin.value(),
            seeds=self.seeds_spin.value(),
            model_kwargs=kwargs,
        )

    def start(self) -> bool:
        """Run: ask for a comparison with the settings shown; True if one started."""
        if self._running:
            return False
        self.follow_model_split()
        self.run_requested.emit(self.settings())
        return self._running  # the job has said whether it started (a direct connection)

    # ---------------------------------------------------------------- what the job says
    def begin(self, total: int, message: str) -> None:
        self.result = None
        self._show(None)
        self.begin_progress(total, message)

    def show_progress(self, done: int, total: int, _item: object = None) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(done, total))

    def show_result(self, result: Comparison) -> None:
        self.result = result
        self._show(result)
        if result.cancelled:
            self.status_label.setText(
                "Cancelled." + (" Scores of the folds that ended:" if result.rows else "")
            )
        else:
            self.progress.setValue(self.progress.maximum())  # a fit may converge early
            self.status_label.setText("Done: held-out scores, pooled over channels.")
        self.finished.emit(result)

    def show_failure(self, message: str) -> None:
        self.status_label.setText(f"Comparison failed: {message}")

    # ---------------------------------------------------------------- slots
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.follow_model_split()  # the model panel may have changed since
        super().showEvent(event)

    def _on_split_spins_edited(self) -> None:
        self._split_from = "user"
        self._options = {}  # another split: the model panel's options again
        self.split_spins.note.setText("")

    def _on_heldout_combo_changed(self, index: int) -> None:
        self.fraction_spin.setVisible(index == 0)
        self.folds_spin.setVisible(index == 1)

    def _on_run_clicked(self) -> None:
        self.start()

    def _on_channel_combo_changed(self, _index: int) -> None:
        self._queue.request("compare/stretch", lambda: self._draw_stretch(self.result))

    # ---------------------------------------------------------------- view
    def _show(self, result: Comparison | None) -> None:
        self.folds_label.setText(
            "" if result is None else f"Held out: {result.folds_description}."
        )
        self._fill_table(result)
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        if result is not None:
            self.channel_combo.addItems(list(result.behavior_channels))
        self.channel_combo.blockSignals(False)
        self._draw_r2(result)
        self._draw_stretch(result)

    def _fill_table(self, result: Comparison | None) -> None:
        columns = _columns(result)
        self.table.setHorizontalHeaderLabels([h for _, _, h in columns])
        for i, method in enumerate(METHODS):
            for j, (direction, metric, _) in enumerate(columns):
                row = None if result is None else _pooled(result, method, direction, metric)
                text = "" if result is None else "—"
                if row is not None and np.isfinite(row["value"]):
                    text = f"{row['value']:.3f}"
                    if row["n_fits"] > 1:
                        text += f" ± {row['sd']:.3f}"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, item)

    def _draw_r2(self, result: Comparison | None) -> None:
        chans = [] if result is None else [*result.behavior_channels, "pooled"]
        x = np.arange(len(chans), dtype=float)
        width = 0.8 / len(BEHAVIOR_METHODS)
        lows = [0.0]
        for i, m in enumerate(BEHAVIOR_METHODS):
            vals, sds = self._r2_of(result, m, chans)
            xs = x + (i - (len(BEHAVIOR_METHODS) - 1) / 2) * width
            ok = np.isfinite(vals)
            self.r2_bars[m].setOpts(x=xs[ok], height=vals[ok], width=width)
            self.r2_errors[m].setData(x=xs[ok], y=vals[ok], height=2 * sds[ok], beam=width / 2)
            lows.append(float(np.min(vals[ok], initial=0.0)))
        axis = self.r2_plot.getAxis("bottom")
        axis.setTicks([list(enumerate(chans))])  # none before a result
        self.r2_plot.setLabel("bottom", "behavior channel (pooled: all channels)")
        # Nothing yet: the empty axes of the same frame, not an auto-range about zero.
        self.r2_plot.setXRange(-0.6, max(len(chans), 1) - 0.4, padding=0)
        self.r2_plot.setYRange(max(min(lows), -1.0) - 0.05, 1.0, padding=0)
        settle_before_paint(self.r2_plot)

    @staticmethod
    def _r2_of(result: Comparison | None, method: str, chans: list[str]):
        """(values, sds) of ``method``'s held-out R² per channel in ``chans`` ("pooled": all)."""
        by = {}
        if result is not None:
            for r in result.rows:
                if (r["method"], r["direction"], r["metric"]) == (
                    method, "behavior_from_neural", "r2"
                ):
                    by["pooled" if r["channel"] == "all" else r["channel"]] = r
        vals = np.array([by.get(c, {}).get("value", np.nan) for c in chans], dtype=float)
        sds = np.array([by.get(c, {}).get("sd", 0.0) for c in chans], dtype=float)
        return vals, np.nan_to_num(sds)

    def _draw_stretch(self, result: Comparison | None) -> None:
        ex = {} if result is None else result.example
        j = self.channel_combo.currentIndex()
        if not ex or j < 0 or not len(ex.get("time", [])):
            for curve in (self.observed_curve, *self.stretch_curves.values()):
                curve.setData([], [])
            self.stretch_plot.setTitle("Held-out behavior, observed and predicted")
            self.stretch_plot.setLabel("left", "behavior (data units)")
            return
        t = np.asarray(ex["time"])
        keep = t <= t[0] + STRETCH_S if ex.get("time_is_session") else np.ones(len(t), bool)
        self.observed_curve.setData(t[keep], np.asarray(ex["observed"])[keep, j])
        for m, curve in self.stretch_curves.items():
            pred = ex["methods"].get(m)
            curve.setData([], []) if pred is None else curve.setData(t[keep], pred[keep, j])
        name = result.behavior_channels[j]
        clock = "session time (s)" if ex.get("time_is_session") else "time in trial (s)"
        self.stretch_plot.setLabel("bottom", clock)
        self.stretch_plot.setLabel("left", f"{name} (data units)")
        self.stretch_plot.setTitle(f"Held-out {name}: observed, and predicted from neural")
        settle_before_paint(self.stretch_plot)
