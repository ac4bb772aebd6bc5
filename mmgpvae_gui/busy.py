"""The busy indicator shown while a slow call (reading a large file, opening a project) runs off
the GUI thread with the window live (:func:`mmgpvae_gui.background.run_live`): the window
repaints, the indicator moves and the caller still gets a plain return value or exception. Input
to the window is blocked meanwhile (``BusyIndicator.begin`` disables the parts it is given), so a
second load cannot start on top of the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QStatusBar, QWidget

from mmgpvae_gui.background import run_live

T = TypeVar("T")

__all__ = ["BusyIndicator", "run_live"]  # run_live lives with the other background work


class BusyIndicator:
    """An indeterminate progress bar and a label in a status bar, shown while work runs."""

    def __init__(self, status_bar: QStatusBar) -> None:
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # indeterminate: the loaders cannot say how far they are
        self.bar.setMaximumWidth(160)
        self.bar.setToolTip("Working; the window stays usable when it is done")
        status_bar.addWidget(self.label)
        status_bar.addWidget(self.bar)
        self.label.hide()
        self.bar.hide()
        self._disabled: list[QWidget] = []
        self.active = False

    def begin(self, text: str, block: Sequence[QWidget] = ()) -> None:
        self.label.setText(text)
        self.label.show()
        self.bar.show()
        self._disabled = [w for w in block if w.isEnabled()]
        for w in self._disabled:
            w.setEnabled(False)
        self.active = True

    def end(self) -> None:
        self.label.hide()
        self.bar.hide()
        for w in self._disabled:
            w.setEnabled(True)
        self._disabled = []
        self.active = False

    def run(self, text: str, fn: Callable[[], T], block: Sequence[QWidget] = ()) -> T:
        """``fn()`` off the GUI thread (:func:`run_live`), this indicator and a busy cursor shown
        and ``block`` disabled meanwhile; its result, or its exception re-raised."""
        self.begin(text, block=block)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            return run_live(fn)
        finally:
            QApplication.restoreOverrideCursor()
            self.end()
