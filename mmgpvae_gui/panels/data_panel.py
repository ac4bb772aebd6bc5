"""What data is loaded: one summary per modality (trials, bins, channels, conditions, missing),
the arrays of a MAT/NPZ/HDF5 file that holds several, to choose which to read, and how files are
read: a sampling rate for a file that has none and the window length a continuous session is cut
into (the CLI's ``--neural-rate``, ``--behavior-rate``, ``--window``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MODALITIES = ("neural", "behavior")
#: the Channels line's tooltip (where nothing was left out)
CHANNELS_TIP = "Neurons/ROIs (neural) or behavioral variables"
DEFAULT_WINDOW_S = 10.0  # as the CLI's --window (loaders.DEFAULT_WINDOW_S)
_FIELDS = (
    ("file", "File"),
    ("trials", "Trials"),
    ("bins", "Bins"),
    ("channels", "Channels"),
    ("conditions", "Conditions"),
    ("missing", "Missing"),
)


class ArrayChooser(QWidget):
    """The arrays of one file, each a tick box (``name — shape``), and a Read button: several
    ticked are read joined as channels. A matrix wider than tall is offered transposed too
    (``NAME.T``), for one stored (channels × time) with nothing in the file to say so."""

    chosen = Signal(str)  # the field: "spikes", "pos,vel"

    def __init__(self, modality: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.list = QListWidget()
        self.list.setToolTip(
            f"The arrays of the {modality} file: tick those to read (several are joined as "
            "channels, named array_x, array_y… or array_0, array_1…)"
        )
        self.read_button = QPushButton("Read ticked arrays")
        self.read_button.clicked.connect(self._on_read_button_clicked)
        for w in (self.note, self.list, self.read_button):
            layout.addWidget(w)
        self.setVisible(False)

    def set_arrays(self, path: str, arrays: dict[str, tuple], chosen: list[str]) -> None:
        """Offer ``arrays`` (name → shape) of ``path``, ticking ``chosen``; {} hides the list."""
        self.path = path
        self.list.clear()
        for name, shape in arrays.items():
            dims = " × ".join(str(int(n)) for n in shape) or "scalar"
            self._add(name, f"{name} — {dims}", name in chosen)
            if len(shape) == 2 and shape[1] > shape[0]:
                turned = f"{name}.T — {shape[1]} × {shape[0]} (transposed)"
                self._add(f"{name}.T", turned, f"{name}.T" in chosen)
        rows = min(self.list.count(), 6)  # the list as tall as its arrays, up to 6
        if rows:
            row = max(self.list.sizeHintForRow(0), 1)
            self.list.setFixedHeight(row * rows + 2 * self.list.frameWidth() + 4)
        if chosen:
            self.note.setText(f"Read: {', '.join(chosen)}. Tick others and Read to change.")
        else:
            self.note.setText(
                "This file holds several arrays and none is called 'data': tick the arrays "
                "to read (several are joined as channels), then Read."
            )
        self.setVisible(bool(arrays))

    def _add(self, name: str, text: str, checked: bool) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.addItem(item)

    def names(self) -> list[str]:
        """The arrays offered, in order (``NAME.T``: transposed)."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def ticked(self) -> list[str]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return [
            it.data(Qt.ItemDataRole.UserRole)
            for it in items
            if it.checkState() == Qt.CheckState.Checked
        ]

    def tick(self, names: list[str]) -> None:
        """Tick exactly ``names`` (as a click on each would)."""
        for i in range(self.list.count()):
            it = self.list.item(i)
            on = it.data(Qt.ItemDataRole.UserRole) in names
            it.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _on_read_button_clicked(self) -> None:
        if names := self.ticked():
            self.chosen.emit(",".join(names))
        else:
            self.note.setText("Tick at least one array to read.")


class ReadingBox(QGroupBox):
    """How files are read: a rate (Hz) per modality for a file that has none (0: the file's
    own), the window length (s) a continuous session without trials is cut into, and a button
    to read the files held again with them."""

    changed = Signal(str, object)  # modality, {"rate_hz": …, "window_s": …} (None: unset)
    reread_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reading", parent)
        form = QFormLayout(self)
        self.rate_spins: dict[str, QDoubleSpinBox] = {}
        for modality in MODALITIES:
            spin = QDoubleSpinBox(minimum=0.0, maximum=1e6, decimals=3, value=0.0, suffix=" Hz")
            spin.setSpecialValueText("from the file")  # 0: the file's own rate, if any
            spin.setToolTip(
                f"Sampling rate of the {modality} file, for a file that stores none (a MATLAB "
                f"matrix of samples); as --{modality}-rate. Without one, a file with no time "
                "vector is read as one trial, one bin per sample."
            )
            spin.valueChanged.connect(lambda _=0.0, m=modality: self._emit(m))
            self.rate_spins[modality] = spin
            form.addRow(f"{modality.capitalize()} rate", spin)
        self.window_spin = QDoubleSpinBox(
            minimum=0.01, maximum=86400.0, decimals=2, value=DEFAULT_WINDOW_S, suffix=" s"
        )
        self.window_spin.setToolTip(
            "A continuous recording with no trials table is cut into consecutive windows of "
            "this length (as --window); the last partial window is dropped"
        )
        self.window_spin.valueChanged.connect(self._on_window_changed)
        form.addRow("Window", self.window_spin)
        self.reread_button = QPushButton("Read the files again")
        self.reread_button.setToolTip("Read the files held again with this rate and window")
        self.reread_button.setEnabled(False)
        self.reread_button.clicked.connect(self.reread_requested)
        form.addRow(self.reread_button)

    def options(self, modality: str) -> dict[str, Any]:
        """``load_dataset``'s ``rate_hz`` (None: the file's own) and ``window_s``."""
        rate = self.rate_spins[modality].value()
        return {"rate_hz": rate if rate > 0 else None, "window_s": self.window_spin.value()}

    def set_options(self, rate_hz: dict[str, float | None], window_s: float | None) -> None:
        """Show these settings (a project's); emits ``changed`` for each modality."""
        self.window_spin.setValue(DEFAULT_WINDOW_S if window_s is None else window_s)
        for modality, spin in self.rate_spins.items():
            spin.setValue(rate_hz.get(modality) or 0.0)

    def _emit(self, modality: str) -> None:
        self.changed.emit(modality, self.options(modality))

    def _on_window_changed(self, _value: float) -> None:
        for modality in MODALITIES:
            self._emit(modality)


class SessionsBox(QGroupBox):
    """Several sessions fitted in one latent space: the list (the chosen one is what the views
    show), a button to add a session from its files and one to read a manifest
    (``name,neural,behavior[,trials]``, as ``mmgpvae fit --sessions``)."""

    add_requested = Signal()
    manifest_requested = Signal()
    chosen = Signal(int)  # the session the views show

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sessions", parent)
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setToolTip(
            "Sessions of one task (different neurons, the same behavior variables) fitted in "
            "one latent space; the views show the chosen one"
        )
        self.list.setMaximumHeight(90)
        self.list.currentRowChanged.connect(self._on_row_changed)
        # not word-wrapped: a wrapping label makes the column lay out by height-for-width, and a
        # box shown later in it (a file's arrays) kept a zero height until the next pass
        self.hint = QLabel("One session: the files above.")
        self.hint.setToolTip("Add sessions of the same task to fit them in one latent space")
        row = QHBoxLayout()
        self.add_button = QPushButton("Add session…")
        self.add_button.setToolTip(
            "Add a session (its neural and behavior files) to the one loaded: the model then "
            "has one latent space for all, each session its own neural read-in and read-out"
        )
        self.add_button.clicked.connect(self.add_requested)
        self.manifest_button = QPushButton("From manifest…")
        self.manifest_button.setToolTip(
            "Read the sessions of a CSV with columns name,neural,behavior[,trials] (paths "
            "absolute or relative to the CSV), as mmgpvae fit --sessions"
        )
        self.manifest_button.clicked.connect(self.manifest_requested)
        row.addWidget(self.add_button)
        row.addWidget(self.manifest_button)
        layout.addWidget(self.hint)
        layout.addWidget(self.list)
        layout.addLayout(row)
        self.list.setVisible(False)
        self._filling = False

    def set_sessions(self, names: list[str], chosen: int = 0) -> None:
        """List ``names`` ([]: one session, the list hidden), ``chosen`` selected."""
        self._filling = True
        try:
            self.list.clear()
            self.list.addItems(names)
            if names:
                self.list.setCurrentRow(chosen)
        finally:
            self._filling = False
        self.list.setVisible(bool(names))
        self.hint.setVisible(not names)

    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _on_row_changed(self, row: int) -> None:
        if not self._filling and row >= 0:
            self.chosen.emit(row)


class DataPanel(QWidget):
    """The reading settings (:class:`ReadingBox`), two boxes (neural, behavior: the chosen
    session's), each with an Open… button, the arrays to choose from in a file that holds
    several, and the file's summary; then the sessions (:class:`SessionsBox`)."""

    open_requested = Signal(str)  # modality
    arrays_chosen = Signal(str, str, str)  # modality, path, field ("pos,vel")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, dict[str, QLabel]] = {}
        self.choosers: dict[str, ArrayChooser] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.reading = ReadingBox()
        layout.addWidget(self.reading)
        for modality in MODALITIES:
            box = QGroupBox(f"{modality.capitalize()} data")
            form = QFormLayout(box)
            button = QPushButton(f"Open {modality} file…")
            button.setToolTip(
                f"Load the {modality} recording: an HDF5/NPZ/NPY trial tensor "
                "(trials × time bins × channels), a MATLAB file, a recording (NWB, suite2p, "
                "DeepLabCut, SLEAP, CSV). You can also drop a file on the window."
            )
            button.clicked.connect(lambda _=False, m=modality: self.open_requested.emit(m))
            form.addRow(button)
            chooser = ArrayChooser(modality)
            chooser.chosen.connect(
                lambda fld, m=modality, c=chooser: self.arrays_chosen.emit(m, c.path, fld)
            )
            form.addRow(chooser)
            self.choosers[modality] = chooser
            labels = {}
            for key, title in _FIELDS:
                lab = QLabel("—")
                lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                lab.setWordWrap(True)
                form.addRow(f"{title}:", lab)
                labels[key] = lab
            labels["channels"].setToolTip(CHANNELS_TIP)
            labels["missing"].setToolTip("Fraction of samples that are NaN (missing)")
            self._values[modality] = labels
            layout.addWidget(box)
        self.sessions = SessionsBox()
        layout.addWidget(self.sessions)
        layout.addStretch(1)

    def set_arrays(
        self, modality: str, path: Any, arrays: dict[str, tuple], chosen: list[str]
    ) -> None:
        """Offer the arrays (name → shape) of the file at ``path`` for ``modality``, ticking
        ``chosen``; {} hides the choice."""
        self.choosers[modality].set_arrays(str(path), arrays, chosen)

    def set_summary(self, modality: str, summary: dict[str, Any] | None) -> None:
        """Show ``Dataset.summary()`` for ``modality`` (None clears it)."""
        labels = self._values[modality]
        if summary is None:
            for lab in labels.values():
                lab.setText("—")
            self.reading.reread_button.setEnabled(self._has_data(exclude=modality))
            return
        self.reading.reread_button.setEnabled(True)
        src = str(summary.get("source", ""))
        labels["file"].setText(src.rsplit("/", 1)[-1])
        labels["file"].setToolTip(src)
        labels["trials"].setText(str(summary["trials"]))
        if (length := summary.get("session_s")) is not None:  # a continuous session's windows
            window = f" of {length / summary['trials']:g} s" if length else ""
            labels["trials"].setText(
                f"{summary['trials']} windows{window} (continuous session, {length:g} s)"
            )
        lo, hi = summary.get("trial_length_range", [summary["bins"]] * 2)
        bins = str(summary["bins"])
        if lo != hi:
            bins += f" (trials {lo}–{hi})"
        if summary.get("bin_size_s"):
            bins += f" × {1000 * float(summary['bin_size_s']):g} ms"
        labels["bins"].setText(bins)
        labels["channels"].setText(str(summary["channels"]))
        if dropped := summary.get("dropped_channels"):  # all missing, or a constant behavior axis
            more = f" and {len(dropped) - 4} more" if len(dropped) > 4 else ""
            shown = ", ".join(dropped[:4]) + more
            labels["channels"].setText(f"{summary['channels']} (left out: {shown})")
            labels["channels"].setToolTip(
                "Left out: entirely missing, or constant (nothing to model): " + ", ".join(dropped)
            )
        else:
            labels["channels"].setToolTip(CHANNELS_TIP)
        conds = summary.get("conditions") or []
        labels["conditions"].setText(f"{len(conds)}: {', '.join(conds)}" if conds else "none")
        labels["missing"].setText(f"{100 * float(summary['missing_fraction']):.2f} %")

    def _has_data(self, exclude: str) -> bool:
        return any(
            self._values[m]["file"].text() != "—" for m in MODALITIES if m != exclude
        )

    def summary_text(self, modality: str) -> dict[str, str]:
        """What is shown, field → text (for tests and the status bar)."""
        return {k: lab.text() for k, lab in self._values[modality].items()}
