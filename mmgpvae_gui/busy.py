"""Slow calls (reading a large file, opening a project) off the GUI thread, with the window live.

:func:`run_live` runs a function in a thread and, until it returns, turns the event loop of the
caller (a nested ``QEventLoop``, as a modal dialog does): the window repaints, its busy indicator
moves and the caller still gets a plain return value or exception. Input to the window is blocked
meanwhile (``BusyIndicator.begin`` disables the parts it is given), so a second load cannot start
on top of the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from mmgpvae_gui.background import BackgroundJob

T = TypeVar("T")


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


def run_live(fn: Callable[[], T]) -> T:
    """``fn()`` in a worker thread while this thread's event loop keeps turning; its result, or
    its exception re-raised here."""
    out: dict[str, object] = {}

    def work() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    job = BackgroundJob(work, name="mmgpvae-load")
    loop = QEventLoop()
    job.finished.connect(loop.quit)  # in this thread, once the worker has been joined
    job.start()
    loop.exec()
    job.wait()  # the loop may also end because the application quits: the job ends first
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]  # type: ignore[return-value]
