"""The app's background jobs, beside the :class:`~mmgpvae_gui.session.Session` they work for:
a fit (:class:`TrainingControl`), a model-selection sweep (:class:`SweepJob`), a control (the null
test or seed consistency, :class:`ControlsJob`) and the comparison with the baselines
(:class:`CompareJob`), each one at a time, each in a worker of ``worker.py``. :class:`Jobs` holds
them all: the window asks it what runs and stops it all at close.

Panels never start work: they emit a request (``run_requested``, ``null_test_requested``, …) with
the settings they show, and show what the job reports. :func:`connect_view` wires a job and its
panel, which offers the view's side (duck-typed, so panels import nothing of this module):
``begin(total, message)``, ``show_progress(done, total, item)``, ``show_status(text)``,
``show_result(result)``, ``show_failure(message)``; whether a job runs reaches the panel through
the session's :class:`~mmgpvae_gui.session.Enabled` (``set_running``). Every job tells the
session when it starts and ends (``Session.job_started`` / ``job_ended``), so the session knows
every running job and what that leaves enabled.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.compare import CompareSettings
from mmgpvae_core.config import SUBSPACES, ConfigError
from mmgpvae_core.controls import NullTestResult, null_kind, run_consistency, run_null_test
from mmgpvae_core.project.checkpoint import CHECKPOINT_EVERY_S
from mmgpvae_core.sweep import SweepSettings, with_readouts, with_resolved_likelihoods
from mmgpvae_core.training import EpochReport, FitOutcome
from mmgpvae_gui.background import CancellableJob, stop_and_wait
from mmgpvae_gui.host import Host
from mmgpvae_gui.session import Session, Snapshot
from mmgpvae_gui.worker import CompareWorker, ControlsWorker, SweepWorker, TrainingWorker

OUTCOME_WORDS = {"converged": "converged", "max_epochs": "done", "cancelled": "stopped"}
ModelKwargs = Callable[[], dict[str, Any]]


class TrainingControl(QObject):
    """The Training menu's commands for a :class:`~mmgpvae_gui.session.Session`: fits of its
    model, one at a time, each in a :class:`TrainingWorker`; it keeps the session's fit state
    (``session.fit``) and last snapshot. ``settings()`` gives the model's keyword arguments and
    the epochs to train; the window's ``host`` (:class:`~mmgpvae_gui.host.Host`) whether a file
    is being read or written (``is_busy``: a fit waits) and why a fit cannot start (``report``).
    Its signals come in the GUI thread: the worker's, ``message`` for the status bar, and
    ``ended(status)`` last, once the training thread has been joined (the worker is gone); what
    may be done now, the session tells."""

    started = Signal(object, bool, int)  # the model, whether it is new, the epochs to train
    progressed = Signal(object)  # EpochReport
    snapshot_ready = Signal(object)  # Snapshot (also session.last_snapshot)
    paused_changed = Signal(bool)  # the worker is (no longer) blocked between epochs
    succeeded = Signal(object)  # FitOutcome
    failed = Signal(str)
    message = Signal(str, int)  # for the status bar: text, milliseconds (0: until the next)
    ended = Signal(str)  # the outcome status: max_epochs, converged, cancelled, failed

    def __init__(
        self,
        session: Session,
        settings: Callable[[], tuple[dict[str, Any], int]],
        host: Host,
        autosave_path: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._settings, self._is_busy, self._report = settings, host.is_busy, host.report
        self.autosave_path = autosave_path
        self.autosave_every_s = CHECKPOINT_EVERY_S
        self.worker: TrainingWorker | None = None  # the fit running now

    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        """Fit the session's model (a new one, from ``settings()``, if it has none) for the
        epochs ``settings()`` gives; False (and why, if it is not busy) if it cannot."""
        s = self.session
        if self.worker is not None or self._is_busy():
            return False
        if s.neural is None:
            self._report("No data", "load a neural file first (File ▸ Open neural file…)")
            return False
        kwargs, epochs = self._settings()
        new = None
        if s.model is None:
            try:
                new = MMGPVAE(**kwargs)
            except (ConfigError, TypeError, ValueError) as exc:
                self._report("Invalid settings", str(exc))
                return False
        model = s.begin_fit(new, epochs)
        # What exists now (Qt, torch, the data, the model) lives as long as the app: move it
        # out of the garbage collector's sight. A full collection of it took 100–300 ms of the
        # GUI thread (or of the worker, holding the GIL) and froze the window during fits.
        gc.freeze()
        neural, behavior, fit_kw = s.training_data()
        w = self.worker = TrainingWorker(
            model, neural, behavior, epochs,
            autosave_path=self.autosave_path, autosave_every_s=self.autosave_every_s,
            data_config=fit_kw.get("data_config"), names=fit_kw.get("names"),
        )
        w.session_index = s.chosen
        w.progressed.connect(self._on_worker_progressed)
        w.autosave_failed.connect(self._on_worker_autosave_failed)
        w.snapshot_ready.connect(self._on_worker_snapshot_ready)
        w.paused.connect(self._on_worker_paused)
        w.succeeded.connect(self._on_worker_succeeded)
        w.failed.connect(self._on_worker_failed)
        w.finished.connect(self._on_worker_finished)  # in the GUI thread, the thread joined
        self.started.emit(model, new is not None, epochs)
        w.start()
        self.message.emit("Training…", 0)
        return True

    def toggle_pause(self) -> None:
        """Pause after the current epoch, or resume (not while a paused model is saved)."""
        if self.worker is None or self._is_busy():
            return
        pause = not self.session.fit.pause_requested
        (self.worker.pause if pause else self.worker.resume)()
        self.session.request_pause(pause)
        self.message.emit("Pausing after this epoch…" if pause else "Training…", 0)

    def start_or_pause(self) -> None:
        """Space: start training, or pause / resume it."""
        if self.worker is None:
            self.start()
        else:
            self.toggle_pause()

    def stop(self) -> None:
        """Stop after the current epoch."""
        if self.worker is not None:
            self.worker.request_stop()
            self.session.request_stop()
            self.message.emit("Stopping after this epoch…", 0)

    def stop_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Stop and block until the thread has finished (``ended`` has been emitted then)."""
        return stop_and_wait(self.worker, self.stop, timeout_ms)

    @Slot(object)
    def _on_worker_progressed(self, report: EpochReport) -> None:
        self.progressed.emit(report)

    @Slot(str)
    def _on_worker_autosave_failed(self, message: str) -> None:
        self.message.emit(message, 15000)

    @Slot(object)
    def _on_worker_snapshot_ready(self, snap: Snapshot) -> None:
        self.session.last_snapshot = snap
        self.snapshot_ready.emit(snap)

    @Slot(bool)
    def _on_worker_paused(self, paused: bool) -> None:
        self.session.worker_paused(paused)  # blocked now, not only asked to pause
        if paused:
            self.message.emit("Paused", 0)
        self.paused_changed.emit(paused)

    @Slot(object)
    def _on_worker_succeeded(self, outcome: FitOutcome) -> None:
        self.session.set_outcome(outcome.status)
        self.succeeded.emit(outcome)
        text = OUTCOME_WORDS.get(outcome.status, outcome.status)
        self.message.emit(outcome.message or f"Training {text}", 8000)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self.session.set_outcome("failed")
        self.failed.emit(message)

    @Slot()
    def _on_worker_finished(self) -> None:
        self.worker = None  # the thread has ended: the last reference to the worker goes, here
        self.session.end_fit()
        # The heap was frozen for the fit (start): give it back to the collector, and collect
        # now, as the fit ends, rather than in the middle of the next one. Without this, a
        # model dropped later (New model, new data) would never be freed.
        gc.unfreeze()
        QTimer.singleShot(0, gc.collect)
        self.ended.emit(self.session.fit.outcome)


class PanelJob(QObject):
    """One kind of long job a panel asks for, one at a time, in a
    :class:`~mmgpvae_gui.background.CancellableJob`; ``name`` is how the session knows it.
    Signals in the GUI thread: ``started(total, message)``, ``progressed(done, total, item)``,
    ``status(text)`` (why a request was refused, or a line of news), ``result_ready(result)``,
    ``failed(message)``, and ``ended()`` last, once the thread has been joined."""

    name = "job"
    cancelling = "Cancelling after the running fits…"
    started = Signal(int, str)
    progressed = Signal(int, int, object)
    status = Signal(str)
    result_ready = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, session: Session, model_kwargs: ModelKwargs | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._model_kwargs = model_kwargs or (lambda: {})
        self.worker: CancellableJob | None = None

    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def _refuse(self, text: str) -> bool:
        self.status.emit(text)
        return False

    def _both_modalities(self, purpose: str) -> tuple[Any, Any] | None:
        """The session's neural and behavior data, or None: a job runs already, or one of them
        is missing (refused: "Open neural and behavior data first: ``purpose``")."""
        neural, behavior = self.session.datasets()
        if self.worker is not None:
            return None
        if neural is None or behavior is None:
            self._refuse(f"Open neural and behavior data first: {purpose}")
            return None
        return neural, behavior

    def _run(self, worker: CancellableJob, total: int, message: str) -> bool:
        """Start ``worker`` (whose ``failed`` and ``finished`` this connects) and tell."""
        self.worker = worker
        worker.failed.connect(self.failed)
        worker.finished.connect(self._on_worker_finished)  # in the GUI thread, joined
        self.session.job_started(self.name)
        self.started.emit(total, message)
        worker.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.request_stop()
            self.status.emit(self.cancelling)

    def stop_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Cancel and block until the thread has ended (``ended`` emitted then)."""
        return stop_and_wait(self.worker, self.cancel, timeout_ms)

    @Slot()
    def _on_worker_finished(self) -> None:
        self.worker = None  # the thread has ended: the last reference goes, here
        self.session.job_ended(self.name)
        self.ended.emit()


class SweepJob(PanelJob):
    """Model selection: a cross-validated sweep over latent splits (``run_sweep``); each
    configuration's first-fold fit is saved in ``save_dir`` (rows then carry its ``project``).
    ``progressed`` carries each result row; ``result_ready`` the ``SweepResult``."""

    name = "sweep"

    def __init__(self, session: Session, model_kwargs: ModelKwargs | None = None,
                 save_dir: str | None = None, n_jobs: int | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(session, model_kwargs, parent)
        self.save_dir = save_dir
        self.n_jobs = n_jobs  # processes for the sweep (None: every core; 1: in the worker)

    def start(self, configs: list[dict[str, Any]], settings: SweepSettings) -> bool:
        """Sweep ``configs`` (splits, and any option they set) with ``settings`` (folds, epochs;
        the model panel's options and ``save_dir`` are added); on spike counts a configuration
        that names no neural read-out is tried with each (``sweep.with_readouts``, the CLI's
        rule). False (and why, in ``status``) if it cannot start."""
        neural, behavior = self.session.datasets()
        if self.worker is not None:
            return False
        if neural is None:
            return self._refuse("Open neural data first.")
        if behavior is None:
            configs = [c for c in configs if c["private_behavior"] == 0]
        if not configs:
            return self._refuse("The grid is empty.")
        settings = with_resolved_likelihoods(dataclasses.replace(
            settings, model_kwargs=dict(self._model_kwargs()), save_dir=self.save_dir
        ), neural, behavior)
        # spike counts and no read-out named: every split with each read-out, as the CLI does
        tried = with_readouts(configs, settings.model_kwargs.get("neural_likelihood"))
        how = ""
        if len(tried) > len(configs):
            how = " (spike counts: each split with a linear and an MLP neural read-out)"
        w = SweepWorker(neural, behavior, tried, settings, self.n_jobs)
        w.progressed.connect(self.progressed)
        w.result_ready.connect(self.result_ready)
        return self._run(w, len(tried), f"Running {len(tried)} configurations{how}…")


class ControlsJob(PanelJob):
    """A control of one split: the null test or seed consistency (``mmgpvae_core.controls``).
    ``progressed`` carries, for the null test, the partial ``NullTestResult`` so far (None for
    consistency); ``result_ready`` the ``NullTestResult`` or ``ConsistencyResult``."""

    name = "controls"

    def __init__(self, session: Session, model_kwargs: ModelKwargs | None = None,
                 n_jobs: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(session, model_kwargs, parent)
        self.n_jobs = n_jobs  # processes for the fits (None: every core; 1: in the worker)
        self._null_rows: list[dict[str, Any]] = []
        self._null: tuple[bool, str] | None = None  # within, null kind: of the null test running

    def _inputs(self, split: tuple[int, int, int], settings: SweepSettings):
        if (pair := self._both_modalities("the controls test how the two are paired.")) is None:
            return None
        neural, behavior = pair
        if sum(split) == 0:
            return self._refuse("The split has no latent dimensions.") or None
        return neural, behavior, dataclasses.replace(
            settings, model_kwargs=dict(self._model_kwargs())
        )

    def start_null_test(self, split: tuple[int, int, int], shuffles: int, within: bool,
                        settings: SweepSettings) -> bool:
        """Fit ``split`` to the real pairing and to ``shuffles`` re-pairings (``within`` each
        condition) or circular shifts (a continuous session); False (and why) if it cannot."""
        if (inputs := self._inputs(split, settings)) is None:
            return False
        neural, behavior, settings = inputs
        if within and neural.conditions is None:
            return self._refuse("Within-condition shuffles need trial conditions.")
        n_jobs, kind = self.n_jobs, null_kind(neural, "auto", within)

        def run(on_result, should_stop):
            return run_null_test(
                neural, behavior, split, shuffles, settings, within_condition=within,
                n_jobs=n_jobs, on_result=on_result, should_stop=should_stop,
            )

        self._null_rows, self._null = [], (within, kind)
        how = "within each condition" if within else "across trials"
        message = f"Null test: the real pairing and {shuffles} shuffles {how}…"
        if kind == "shift":  # a continuous session: its behavior shifted in time
            message = f"Null test: the real pairing and {shuffles} circular time shifts…"
        return self._start(run, shuffles + 1, message)

    def start_consistency(self, split: tuple[int, int, int], seeds: int,
                          settings: SweepSettings) -> bool:
        """Fit ``split`` with seeds 0 … ``seeds`` − 1 and compare each with seed 0's."""
        if (inputs := self._inputs(split, settings)) is None:
            return False
        neural, behavior, settings = inputs
        n_jobs, seed_list = self.n_jobs, list(range(seeds))

        def run(on_result, should_stop):
            return run_consistency(
                neural, behavior, split, seed_list, settings, n_jobs=n_jobs,
                on_result=on_result, should_stop=should_stop,
            )

        self._null = None
        return self._start(run, seeds, f"Consistency: {seeds} seeds…")

    def _start(self, run, total: int, message: str) -> bool:
        w = ControlsWorker(run, "mmgpvae-controls")
        w.progressed.connect(self._on_worker_progressed)
        w.result_ready.connect(self.result_ready)
        return self._run(w, total, message)

    @Slot(int, int, object)
    def _on_worker_progressed(self, done: int, total: int, row: dict) -> None:
        partial = None
        if self._null is not None and "shuffle" in row:  # a null-test fit: the null so far
            self._null_rows.append(row)
            within, kind = self._null
            partial = NullTestResult(list(self._null_rows), within, null=kind)
        self.progressed.emit(done, total, partial)


class CompareJob(PanelJob):
    """The model against the Wiener filters and the GLM on the same held-out data
    (``run_compare``); ``progressed`` counts epochs over every fit (item None), ``status`` says
    as each fit ends; ``result_ready`` carries the ``Comparison`` (``cancelled`` if stopped)."""

    name = "compare"
    cancelling = "Cancelling at the model's next epoch…"

    def start(self, settings: CompareSettings) -> bool:
        """Compare with ``settings`` (its ``model_kwargs``: the split and epochs, laid over the
        model panel's options); False (and why) if it cannot."""
        if (pair := self._both_modalities("the comparison predicts each from the other.")) is None:
            return False
        neural, behavior = pair
        kwargs = {**self._model_kwargs(), **settings.model_kwargs}
        if sum(int(kwargs.get(k, 0)) for k in SUBSPACES) == 0:
            return self._refuse("The split has no latent dimensions.")
        seed = int(kwargs.pop("seed", settings.seed) or 0)
        settings = dataclasses.replace(settings, model_kwargs=kwargs, seed=seed)
        w = CompareWorker(neural, behavior, settings)
        w.progressed.connect(self._on_worker_progressed)
        w.reported.connect(self._on_worker_reported)
        w.result_ready.connect(self.result_ready)
        s, a, b = (kwargs.get(k, 0) for k in SUBSPACES)
        return self._run(w, 1, f"Fitting the baselines and the split S={s} A={a} B={b}…")

    @Slot(int, int)
    def _on_worker_progressed(self, done: int, total: int) -> None:
        self.progressed.emit(done, total, None)

    @Slot(str)
    def _on_worker_reported(self, line: str) -> None:
        if self.worker is not None and not self.worker.stop_requested:
            self.status.emit(line)


def connect_view(job: PanelJob, view: Any) -> None:
    """Show ``job`` in ``view`` (a panel with ``begin``, ``show_progress``, ``show_status``,
    ``show_result`` and ``show_failure``) and start it on the view's requests: ``run_requested``
    (a sweep's or a comparison's), ``null_test_requested`` and ``consistency_requested`` (a
    control's), ``cancel_requested``."""
    job.started.connect(view.begin)
    job.progressed.connect(view.show_progress)
    job.status.connect(view.show_status)
    job.result_ready.connect(view.show_result)
    job.failed.connect(view.show_failure)
    view.cancel_requested.connect(job.cancel)
    for request, start in (
        ("run_requested", "start"),
        ("null_test_requested", "start_null_test"),
        ("consistency_requested", "start_consistency"),
    ):
        if hasattr(view, request) and hasattr(job, start):
            getattr(view, request).connect(getattr(job, start))


class Jobs(QObject):
    """Every background job of one window's session: ``training`` (a :class:`TrainingControl`,
    made by the window), ``sweep``, ``controls`` and ``compare`` (each tells the session when it
    starts and ends); :meth:`stop_and_wait` stops them all (closing the window)."""

    def __init__(self, training: TrainingControl, model_kwargs: ModelKwargs,
                 save_dir: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        session = training.session
        self.training = training
        self.sweep = SweepJob(session, model_kwargs, save_dir, parent=self)
        self.controls = ControlsJob(session, model_kwargs, parent=self)
        self.compare = CompareJob(session, model_kwargs, parent=self)

    def panel_jobs(self) -> tuple[PanelJob, ...]:
        return self.sweep, self.controls, self.compare

    def running(self) -> list[str]:
        """The names of the jobs running now ("training", "sweep", …)."""
        out = ["training"] if self.training.is_running else []
        return out + [j.name for j in self.panel_jobs() if j.is_running]

    def stop_panel_jobs_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Cancel the sweep, the control and the comparison, all at once, then wait for each."""
        for job in self.panel_jobs():
            job.cancel()
        return all([job.stop_and_wait(timeout_ms) for job in self.panel_jobs()])

    def stop_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Stop every job and block until each thread has ended."""
        panels = self.stop_panel_jobs_and_wait(timeout_ms)
        return self.training.stop_and_wait(timeout_ms) and panels
