"""The app's background work, each a :class:`~mmgpvae_gui.background.CancellableJob` (the
lifetime rule is in ``background.py``): a fit (:class:`TrainingWorker`), a model-selection sweep
(:class:`SweepWorker`), a control, the null test or seed consistency (:class:`ControlsWorker`),
and the comparison with the baselines (:class:`CompareWorker`). Who starts them, one at a time
each, and tells the session: ``jobs.py``.

Each worker object lives in the GUI thread; only ``work`` executes in its thread. Signals out
carry copies (EpochReport, Snapshot, result rows: plain floats and numpy arrays); in, two
``threading.Event`` flags: ``stop_event`` (checked by the core's ``should_stop``) and, for a fit,
``run_event`` (cleared to pause: the worker blocks inside the ``on_epoch`` callback until it is
set again). A fit's display data (posterior latents, reconstructions) is computed in its thread,
not in the GUI thread.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import Signal

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.compare import CompareSettings, compare_folds, run_compare
from mmgpvae_core.config import DataConfig
from mmgpvae_core.data import DataError, Dataset
from mmgpvae_core.project.checkpoint import CHECKPOINT_EVERY_S, Checkpointer
from mmgpvae_core.sweep import SweepSettings, run_sweep
from mmgpvae_core.training import EpochReport, FitOutcome, TrainingFailed
from mmgpvae_gui.background import CancellableJob
from mmgpvae_gui.session import Snapshot, take_snapshot

__all__ = [
    "CompareWorker",
    "ControlsWorker",
    "Snapshot",
    "SweepWorker",
    "TrainingWorker",
    "lower_thread_priority",
    "take_snapshot",
]


BACKGROUND_NICE = 10


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Let the calling (training) thread yield the CPU to the GUI thread when both want it.

    On a 2-core laptop the training thread, the GUI thread and the display server share the
    cores; at equal priority a plot's repaint waits its turn behind training. On Linux the
    thread's nice value is raised (threads it starts, torch's intra-op pool, inherit it);
    elsewhere a Python thread has no portable priority and this does nothing. Training loses
    only the CPU time the GUI uses."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):  # no per-thread priority here: not worth failing a fit
        pass


class TrainingWorker(CancellableJob):
    """Runs ``model.partial_fit`` (which continues training if the model is already fitted) in a
    training thread: ``start()``, then ``finished`` (in the GUI thread) after ``done``."""

    progressed = Signal(object)  # EpochReport
    snapshot_ready = Signal(object)  # Snapshot
    paused = Signal(bool)
    succeeded = Signal(object)  # FitOutcome
    failed = Signal(str)  # a message for the user; the model keeps its last good state
    autosave_failed = Signal(str)  # the autosave could not be written (training goes on)
    # finished (BackgroundJob) comes last, success or not, once the thread has ended

    def __init__(
        self,
        model: MMGPVAE,
        neural: Dataset,
        behavior: Dataset | None,
        epochs: int,
        *,
        snapshot_interval_s: float = 1.0,
        max_snapshot_share: float = 0.25,
        autosave_path: Path | None = None,
        autosave_every_s: float = CHECKPOINT_EVERY_S,
        data_config: DataConfig | list[DataConfig] | None = None,
        names: list[str] | None = None,
    ) -> None:
        super().__init__(name="mmgpvae-training")
        self._data_config = data_config  # the files and read options, saved with the project
        # Several sessions (``neural``/``behavior`` lists): their names; the snapshots show
        # session ``session_index`` (the one the views show; the window may change it).
        self._names = names
        self.session_index = 0
        self._model = model
        self._neural, self._behavior = neural, behavior
        self._epochs = epochs
        self._interval = snapshot_interval_s
        self._share = max_snapshot_share
        self.run_event = threading.Event()  # cleared: pause after the current epoch
        self.run_event.set()
        self._last_snapshot = -np.inf
        self._final_inference: tuple[dict, dict] | None = None  # of the final snapshot
        self._snapshot_cost = 0.0
        # Written from this thread between epochs (autosave.py): a crash loses a minute at most.
        interrupted = getattr(model, "fit_state", None)  # a restored session of a killed fit
        resumes = None
        if interrupted is not None:
            resumes = dataclasses.replace(interrupted, epoch=len(model.history))
        self._autosave = None if autosave_path is None else Checkpointer(
            model, autosave_path, autosave_every_s, resumes=resumes,
            on_error=self._on_autosave_error,
        )

    # ---------------------------------------------------------------- control (any thread)
    def request_stop(self) -> None:
        super().request_stop()
        self.run_event.set()  # a paused fit wakes up to stop

    def pause(self) -> None:
        self.run_event.clear()

    def resume(self) -> None:
        self.run_event.set()

    @property
    def is_paused(self) -> bool:
        return not self.run_event.is_set()

    # ---------------------------------------------------------------- the work (worker thread)
    def work(self) -> None:
        # Leave a core to the GUI thread: torch's intra-op threads would otherwise compete with the
        # event loop for every core, and spinning OpenMP workers starve it.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        lower_thread_priority()
        try:
            interrupted = getattr(self._model, "fit_state", None)  # a restored, killed fit
            self._model.partial_fit(  # goes on with a trained model
                self._neural,
                self._behavior,
                epochs=self._epochs,
                on_epoch=self._on_epoch,
                should_stop=self.stop_event.is_set,
                warmup=None if interrupted is None else interrupted.warmup,
                data_config=self._data_config,
                **({"names": self._names} if self._names else {}),
            )
            outcome = self._model.outcome or FitOutcome("max_epochs", self._epochs)
            self._emit_snapshot_safely()  # a fit that ran stands, even without its last picture
            self.succeeded.emit(outcome)
        except TrainingFailed as exc:
            self._emit_snapshot_safely()
            self.failed.emit(str(exc))
        except DataError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self._emit_snapshot_safely()
            self.failed.emit("out of memory: try fewer trials, a smaller batch or the CPU device")
        except RuntimeError as exc:
            msg = str(exc)
            if "out of memory" in msg.lower():
                msg = "out of memory on the device: try a smaller batch size or the CPU device"
            self._emit_snapshot_safely()
            self.failed.emit(msg.splitlines()[0] if msg else type(exc).__name__)
        except Exception as exc:  # never lose an exception: report it to the window
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        self._autosave_final()

    def _on_epoch(self, report: EpochReport) -> None:
        self.progressed.emit(report)
        now = time.perf_counter()
        # Snapshots cost a forward pass over all trials: keep them under a share of the time.
        wait = max(self._interval, self._snapshot_cost / self._share)
        if now - self._last_snapshot >= wait:
            self._emit_snapshot()
        if self._autosave is not None:
            self._autosave(report)  # between epochs, before a pause: the state is consistent
        if not self.run_event.is_set():
            self.paused.emit(True)
            self.run_event.wait()
            self.paused.emit(False)

    def _on_autosave_error(self, exc: OSError) -> None:
        self.autosave_failed.emit(f"autosave to {self._autosave.path} failed: {exc}")

    def _autosave_final(self) -> None:
        """The session as the fit left it (a complete project), whatever the outcome."""
        inferred, self._final_inference = self._final_inference, None
        if self._autosave is None:
            return
        try:
            if self._model.module is not None and len(self._model.history):
                # the last snapshot's inference, of the model as saved: not a second pass
                self._model.save(self._autosave.path, inferred=inferred)
        except OSError as exc:
            self._on_autosave_error(exc)
        except Exception:  # the fit's own outcome matters more than its autosave
            traceback.print_exc()

    def _emit_snapshot(self) -> tuple[dict, dict] | None:
        """Emit a snapshot of the model (of the session the views show) as it is now; return
        its ``infer`` result where saving the model may reuse it."""
        t0 = time.perf_counter()
        k = self.session_index
        view = self._model.for_session(k) if self._model.is_multi_session else self._model
        inferred = view.infer(dtype=np.float32)
        snap = take_snapshot(view, inferred)
        self._last_snapshot = time.perf_counter()
        self._snapshot_cost = self._last_snapshot - t0
        self.snapshot_ready.emit(snap)
        # what a save of the whole model may reuse: the first session's inference only
        return inferred if k == 0 or not self._model.is_multi_session else None

    def _emit_snapshot_safely(self) -> None:
        try:
            if self._model.module is not None and len(self._model.history):
                self._final_inference = self._emit_snapshot()
        except Exception:  # the fit's outcome matters more than a last picture
            traceback.print_exc()


class SweepWorker(CancellableJob):
    """Runs :func:`~mmgpvae_core.sweep.run_sweep` off the GUI thread (``start()``; ``finished``
    last, in the GUI thread). Signals carry plain copies."""

    progressed = Signal(int, int, object)  # done, total, row (dict)
    result_ready = Signal(object)  # SweepResult
    failed = Signal(str)

    def __init__(
        self,
        neural: Dataset,
        behavior: Dataset | None,
        configs: list[dict[str, Any]],
        settings: SweepSettings,
        n_jobs: int | None = 1,
    ) -> None:
        super().__init__(name="mmgpvae-sweep")
        self._neural, self._behavior = neural, behavior
        self._configs, self._settings, self._jobs = configs, settings, n_jobs

    def work(self) -> None:
        try:
            result = run_sweep(
                self._neural,
                self._behavior,
                self._configs,
                self._settings,
                n_jobs=self._jobs,
                should_stop=self.stop_event.is_set,
                on_result=lambda d, n, r: self.progressed.emit(d, n, copy.deepcopy(r)),
            )
            self.result_ready.emit(result)
        except Exception as exc:  # never lose an exception: report it to the panel
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")


class ControlsWorker(CancellableJob):
    """Runs one control, ``run(on_result, should_stop) -> result`` (the null test or seed
    consistency of ``mmgpvae_core.controls``), off the GUI thread. Signals carry plain copies."""

    progressed = Signal(int, int, object)  # done, total, row (dict of plain values)
    result_ready = Signal(object)  # NullTestResult or ConsistencyResult
    failed = Signal(str)

    def __init__(self, run: Callable[[Callable, Callable], Any], name: str) -> None:
        super().__init__(name=name)
        self._control = run

    def work(self) -> None:
        def on_result(done: int, total: int, row: dict) -> None:
            plain = {k: v for k, v in row.items() if not isinstance(v, (np.ndarray, list))}
            self.progressed.emit(done, total, plain)

        try:
            self.result_ready.emit(self._control(on_result, self.stop_event.is_set))
        except Exception as exc:  # never lose an exception: report it to the panel
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")


class CompareWorker(CancellableJob):
    """Runs :func:`~mmgpvae_core.compare.run_compare` (the model against the Wiener filters and
    the GLM on the same held-out data) off the GUI thread; ``request_stop()`` ends it at the
    model's next epoch or before the next fit (the baselines' own fits run to their end).
    Signals carry plain values; the :class:`~mmgpvae_core.compare.Comparison` is built in the
    thread and never touched there again."""

    progressed = Signal(int, int)  # epochs done, epochs planned over every fit
    reported = Signal(str)  # a line as each fit ends ("fold 1/1, seed 0: mmgpvae fitted in …")
    result_ready = Signal(object)  # Comparison (``cancelled`` when stopped)
    failed = Signal(str)

    def __init__(self, neural: Dataset, behavior: Dataset, settings: CompareSettings) -> None:
        super().__init__(name="mmgpvae-compare")
        self._neural, self._behavior, self._settings = neural, behavior, settings

    def work(self) -> None:
        lower_thread_priority()  # the window stays responsive while the fits run
        done = 0

        def on_epoch(_report: EpochReport) -> None:
            nonlocal done
            done += 1
            self.progressed.emit(done, total)

        try:
            epochs = int(self._settings.model_kwargs.get("epochs", 1))
            total = len(compare_folds(self._neural, self._settings)) * self._settings.seeds * epochs
            self.progressed.emit(0, total)
            result = run_compare(
                self._neural,
                self._behavior,
                self._settings,
                report=self.reported.emit,
                on_epoch=on_epoch,
                should_stop=self.stop_event.is_set,
            )
            self.result_ready.emit(result)
        except Exception as exc:  # never lose an exception: report it to the panel
            expected = isinstance(exc, (DataError, ValueError))  # bad data or settings: say why
            if not expected:
                traceback.print_exc()
            self.failed.emit(str(exc) if expected else f"{type(exc).__name__}: {exc}")
