"""The latent split a control or a comparison fits: three spin boxes, shared, private neural and
private behavior (S, A, B), 0–20 dimensions each, as the Controls and Baselines sections show it.

(The model panel's own split is built from the config's metadata, ``widgets.options``.)
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QWidget

from mmgpvae_gui.subspaces import LETTERS, SUBSPACES


class SplitSpins(QWidget):
    """Three labelled spin boxes holding a split (shared, private neural, private behavior),
    then ``note``, a grey label saying where the split came from (empty unless a panel sets it).

    ``spins``: subspace name → its ``QSpinBox``. ``edited`` is emitted when the user changes a
    value, not when :meth:`set_split` does.
    """

    edited = Signal()

    def __init__(self, split: tuple[int, int, int] = (2, 1, 1), parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.spins = {k: QSpinBox(minimum=0, maximum=20) for k in SUBSPACES}
        for key in SUBSPACES:
            row.addWidget(QLabel(LETTERS[key]))
            row.addWidget(self.spins[key])
        self.note = QLabel("")
        self.note.setStyleSheet("color: gray")
        row.addWidget(self.note)
        row.addStretch(1)
        self.set_split(*split)
        for spin in self.spins.values():
            spin.valueChanged.connect(self._on_spin_changed)

    def split(self) -> tuple[int, int, int]:
        return tuple(self.spins[k].value() for k in SUBSPACES)  # type: ignore[return-value]

    def set_split(self, shared: int, private_neural: int, private_behavior: int) -> None:
        for key, v in zip(SUBSPACES, (shared, private_neural, private_behavior)):
            spin = self.spins[key]
            spin.blockSignals(True)
            spin.setValue(int(v))
            spin.blockSignals(False)

    def _on_spin_changed(self, _value: int) -> None:
        self.edited.emit()
