"""What data is loaded: one summary per modality (trials, bins, channels, conditions, missing),
and the arrays of a MAT/NPZ/HDF5 file that holds several, to choose which to read."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MODALITIES = ("neural", "behavior")
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


class DataPanel(QWidget):
    """Two boxes (neural, behavior), each with an Open… button, the arrays to choose from in a
    file that holds several, and the file's summary."""

    open_requested = Signal(str)  # modality
    arrays_chosen = Signal(str, str, str)  # modality, path, field ("pos,vel")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, dict[str, QLabel]] = {}
        self.choosers: dict[str, ArrayChooser] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
            labels["channels"].setToolTip("Neurons/ROIs (neural) or behavioral variables")
            labels["missing"].setToolTip("Fraction of samples that are NaN (missing)")
            self._values[modality] = labels
            layout.addWidget(box)
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
            return
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
        conds = summary.get("conditions") or []
        labels["conditions"].setText(f"{len(conds)}: {', '.join(conds)}" if conds else "none")
        labels["missing"].setText(f"{100 * float(summary['missing_fraction']):.2f} %")

    def summary_text(self, modality: str) -> dict[str, str]:
        """What is shown, field → text (for tests and the status bar)."""
        return {k: lab.text() for k, lab in self._values[modality].items()}
