"""What data is loaded: one summary per modality (trials, bins, channels, conditions, missing)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

MODALITIES = ("neural", "behavior")
_FIELDS = (
    ("file", "File"),
    ("trials", "Trials"),
    ("bins", "Bins"),
    ("channels", "Channels"),
    ("conditions", "Conditions"),
    ("missing", "Missing"),
)


class DataPanel(QWidget):
    """Two boxes (neural, behavior), each with an Open… button and the file's summary."""

    open_requested = Signal(str)  # modality

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: dict[str, dict[str, QLabel]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for modality in MODALITIES:
            box = QGroupBox(f"{modality.capitalize()} data")
            form = QFormLayout(box)
            button = QPushButton(f"Open {modality} file…")
            button.setToolTip(
                f"Load the {modality} recording: an HDF5/NPZ/NPY trial tensor "
                "(trials × time bins × channels). You can also drop a file on the window."
            )
            button.clicked.connect(lambda _=False, m=modality: self.open_requested.emit(m))
            form.addRow(button)
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
