"""Work off the GUI thread, with one lifetime rule that keeps Qt and Python from crashing.

The rule: **every QObject is created, connected and destroyed in the GUI thread.** A background
job is a plain Python thread that runs a function and reports through the signals of a
:class:`BackgroundJob` — a QObject that never moves to that thread. Signals emitted from the
thread are queued to the GUI thread (the receiver's thread), so slots run there; the job's
``finished`` signal is emitted in the GUI thread only after the thread has been joined, so the
owner may drop the job in its slot.

Why not ``QThread`` + ``moveToThread`` + ``deleteLater``: the worker was then destroyed by the
training thread's event loop while the GUI thread dropped its last Python reference to the same
object — a double ``~QObject`` (SIGSEGV as a fit ended), and a deadlock when destroying a
Python-subclassed QObject in the worker waited for the GIL while holding Qt's connection lock.

Python's cyclic garbage collector can also destroy Qt wrappers in whatever thread happens to
allocate; :func:`collect_garbage_in_gui_thread` moves collection to a timer of the GUI thread.

Every background job of the app follows the rule: the long ones (a fit, a sweep, a control, a
comparison) are :class:`CancellableJob` subclasses in ``worker.py``, started one at a time each by
``jobs.py``; a short call the caller waits for (reading a file, saving a project) goes through
:func:`run_live`, which keeps the window repainting.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Signal, Slot

T = TypeVar("T")


class BackgroundJob(QObject):
    """Runs :meth:`work` (override it, or pass ``target``) in a Python thread.

    Subclasses declare their own signals and emit them from ``work``; ``finished`` comes last,
    in the GUI thread, once the thread has ended."""

    finished = Signal()
    _ended = Signal()  # emitted by the thread as its last act; delivered in the GUI thread

    def __init__(self, target: Callable[[], None] | None = None, name: str = "mmgpvae-job") -> None:
        super().__init__()  # no parent: the owner holds the only reference
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None
        self._finished = False
        self._ended.connect(self._on_ended)

    def work(self) -> None:
        if self._target is not None:
            self._target()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a BackgroundJob runs once")
        # Daemon: a thread the window failed to stop must not keep the process alive at exit.
        self._thread = threading.Thread(target=self._bootstrap, name=self._name, daemon=True)
        self._thread.start()

    def _bootstrap(self) -> None:
        try:
            self.work()
        finally:
            self._ended.emit()

    @property
    def is_running(self) -> bool:
        """True from ``start`` until ``finished`` has been emitted."""
        return self._thread is not None and not self._finished

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block the GUI thread until the thread ends (True) or ``timeout_s`` passes (False).

        On success the job's pending signals are delivered, in order, before this returns, so
        ``finished`` has been emitted too."""
        if self._thread is None or self._finished:
            return True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            return False
        # Queued signals (progress, results, _ended) wait in the GUI thread's queue: deliver them.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall.value)
        self._on_ended()
        return True

    @Slot()
    def _on_ended(self) -> None:
        if self._finished or self._thread is None:
            return
        self._thread.join()  # the thread's last act was to emit _ended: this returns at once
        self._finished = True
        self.finished.emit()


class CancellableJob(BackgroundJob):
    """A job its owner can ask to stop: ``request_stop()`` sets ``stop_event``, which ``work``
    passes on as the core's ``should_stop`` (it stops at its next check, never killed)."""

    def __init__(self, target: Callable[[], None] | None = None, name: str = "mmgpvae-job") -> None:
        super().__init__(target, name)
        self.stop_event = threading.Event()

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def request_stop(self) -> None:
        self.stop_event.set()


def stop_and_wait(job: BackgroundJob | None, stop: Callable[[], None], timeout_ms: int) -> bool:
    """Ask ``job`` to stop (``stop()``, its owner's way) and block until its thread has ended
    (True, ``finished`` emitted) or ``timeout_ms`` has passed (False). True without a job."""
    if job is None:
        return True
    stop()
    return job.wait(timeout_ms / 1000)


def run_live(fn: Callable[[], T]) -> T:
    """``fn()`` in a worker thread while this thread's event loop keeps turning (a nested
    ``QEventLoop``, as a modal dialog does); its result, or its exception re-raised here. The
    caller blocks the input it must (``busy.BusyIndicator``)."""
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


_collector = None


def collect_garbage_in_gui_thread(interval_s: float = 1.0) -> None:
    """Turn off automatic garbage collection and collect from a GUI-thread timer instead
    (pyqtgraph's ``GarbageCollector``), so that no Qt wrapper caught in a reference cycle is
    ever destroyed by a training or loading thread. Idempotent; needs a QApplication."""
    global _collector
    if _collector is not None:
        return
    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collector = GarbageCollector(interval=interval_s)
    app = QCoreApplication.instance()
    if app is not None:
        _collector.timer.setParent(app)  # stops with the application, in its thread
        app.aboutToQuit.connect(_restore_collection)


def _restore_collection() -> None:
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.enable()
