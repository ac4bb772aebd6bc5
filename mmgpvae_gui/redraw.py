"""One redraw per event-loop turn: the window's views share a queue of redraw jobs.

Qt paints every widget marked dirty in one pass. When a trial step, a snapshot and an epoch report
arrive together, the reconstructions, the 3D view and the training plots would all repaint in the
same turn of the event loop — with software rendering 100–200 ms during which clicks, keys and the
progress bar wait. Panels instead ``request`` one job per view (a function that updates one plot);
the queue runs one job, lets the event loop paint that plot and handle input, and runs the next
``gap_ms`` later. A job already waiting is not queued twice: it keeps its place and draws the
newest state when it runs, so a burst of updates costs one redraw, and no view is redrawn more
often than its ``min_interval_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QGraphicsView

GAP_MS = 12  # between two jobs: time for Qt to paint the last one and to handle input
MIN_INTERVAL_MS = 50  # per view: ≤ 20 redraws per second


def settle_before_paint(*plots: QGraphicsView) -> None:
    """Settle pyqtgraph ``plots`` so that Qt's next paint of them is their only one: pyqtgraph
    applies auto-range at paint time, which changes the view and makes it paint again in a later
    turn; applied here (and pending layout requests with it), the plot paints once. The paint
    itself runs in a turn of its own, after the job that changed the data."""
    for plot in plots:
        prepare = getattr(plot.scene(), "prepareForPaint", None)  # pyqtgraph's GraphicsScene
        if prepare is not None:
            prepare()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)


class RedrawQueue(QObject):
    """Runs redraw jobs one at a time, in request order, at most one per event-loop turn."""

    def __init__(self, gap_ms: int = GAP_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._gap_s = gap_ms / 1000.0
        self._jobs: dict[str, tuple[Callable[[], None], float]] = {}  # insertion-ordered
        self._last_run: dict[str, float] = {}
        self._last_job = -1e9
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._run_next)
        self.jobs_run = 0

    def request(
        self, key: str, job: Callable[[], None], min_interval_ms: float = MIN_INTERVAL_MS
    ) -> None:
        """Run ``job`` soon: after the jobs already waiting, and not sooner than
        ``min_interval_ms`` after the last run of ``key``. Re-requesting a waiting key replaces
        its job and keeps its place."""
        self._jobs[key] = (job, min_interval_ms / 1000.0)
        self._schedule()

    def cancel(self, key: str) -> None:
        self._jobs.pop(key, None)

    def pending(self) -> list[str]:
        return list(self._jobs)

    def flush(self) -> None:
        """Run every waiting job now, in order (before an export or a screenshot); a job that
        fails does not keep the others from running (the first error is raised after)."""
        error: BaseException | None = None
        while self._jobs:
            key = next(iter(self._jobs))
            try:
                self._run(key)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    # ------------------------------------------------------------------ helpers
    def _ready_at(self, key: str) -> float:
        interval = self._jobs[key][1]
        return max(self._last_run.get(key, -1e9) + interval, self._last_job + self._gap_s)

    def _schedule(self) -> None:
        if not self._jobs or self._timer.isActive():
            return
        now = time.perf_counter()
        wait = min(self._ready_at(k) for k in self._jobs) - now
        self._timer.start(max(0, int(round(wait * 1000))))

    def _run_next(self) -> None:
        now = time.perf_counter()
        ready = [k for k in self._jobs if self._ready_at(k) <= now + 0.001]
        try:
            if ready:
                self._run(ready[0])
        finally:  # a view that fails to draw must not stop the others
            self._schedule()

    def _run(self, key: str) -> None:
        job, _ = self._jobs.pop(key)
        try:
            job()
        finally:
            self._last_job = self._last_run[key] = time.perf_counter()
            self.jobs_run += 1
