"""What every panel that shows a background job does the same way (the sweep, the controls,
the comparison): Cancel asks the job to stop, Run buttons are off while it runs, a progress bar
and a status line show what it says. The job itself lives in ``jobs.py``; panels only show it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton


class JobView:
    """A mixin for a panel with ``cancel_requested`` (a Signal), ``cancel_button``,
    ``progress``, ``status_label`` and the buttons :meth:`run_buttons` names."""

    _running = False

    def _build_job_row(self, run_text: str, unit: str) -> QHBoxLayout:
        """Run (``run_button``, to ``_on_run_clicked``), Cancel (``cancel_button``, off until a
        job runs) and a ``progress`` bar counting ``unit`` ("%v / %m epochs"), in a row: the
        controls of a view that runs one kind of job."""
        row = QHBoxLayout()
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat(f"%v / %m {unit}")
        self.run_button.clicked.connect(self._on_run_clicked)  # type: ignore[attr-defined]
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        return row

    def run_buttons(self) -> list:
        """The buttons that start a job (off while one runs)."""
        return [self.run_button]  # type: ignore[attr-defined]

    def cancel(self) -> None:
        self.cancel_requested.emit()  # type: ignore[attr-defined]

    def set_running(self, running: bool) -> None:
        self._running = running
        for b in self.run_buttons():
            b.setEnabled(not running)
        self.cancel_button.setEnabled(running)  # type: ignore[attr-defined]

    def begin_progress(self, total: int, message: str) -> None:
        """A job of ``total`` steps has started: the bar at 0, ``message`` shown."""
        self.progress.setRange(0, total)  # type: ignore[attr-defined]
        self.progress.setValue(0)  # type: ignore[attr-defined]
        self.status_label.setText(message)  # type: ignore[attr-defined]
        self.set_running(True)

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)  # type: ignore[attr-defined]

    def _on_cancel_clicked(self) -> None:
        self.cancel()
