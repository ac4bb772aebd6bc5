"""Training off the GUI thread: a :class:`~mmgpvae_gui.background.BackgroundJob`.

The worker object lives in the GUI thread; only ``run`` executes in the training thread.
Signals out carry copies (EpochReport, Snapshot: plain floats and numpy arrays); in, two
``threading.Event`` flags: stop (checked by the core's ``should_stop``) and run (cleared to
pause: the worker blocks inside the ``on_epoch`` callback until it is set again). Display data
(posterior latents, reconstructions) is computed here, not in the GUI thread.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Signal

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.checkpoint import CHECKPOINT_EVERY_S, Checkpointer
from mmgpvae_core.data import DataError, Dataset
from mmgpvae_core.training import EpochReport, FitOutcome, TrainingFailed
from mmgpvae_gui.background import BackgroundJob


@dataclass
class Snapshot:
    """What the views show of a model at one epoch. latents: subspace → (trials, time, dim) in
    display coordinates; reconstruction: modality → (trials, time, channels)."""

    epoch: int
    latents: dict[str, np.ndarray]
    reconstruction: dict[str, np.ndarray]
    length_scales: np.ndarray


def take_snapshot(model: MMGPVAE) -> Snapshot:
    """Posterior-mean latents and reconstructions of the model's own data (copies)."""
    post = model.latent_posterior()
    rec = model.reconstruct()
    return Snapshot(
        epoch=len(model.history),
        latents={k: np.array(v["mean"], dtype=np.float32) for k, v in post.items()},
        reconstruction={k: np.array(v, dtype=np.float32) for k, v in rec.items()},
        length_scales=np.array(model.length_scales, dtype=float),
    )


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


class TrainingWorker(BackgroundJob):
    """Runs ``model.fit`` (which continues training if the model is already fitted) in a
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
    ) -> None:
        super().__init__(name="mmgpvae-training")
        self._model = model
        self._neural, self._behavior = neural, behavior
        self._epochs = epochs
        self._interval = snapshot_interval_s
        self._share = max_snapshot_share
        self._stop = threading.Event()
        self._run = threading.Event()
        self._run.set()
        self._last_snapshot = -np.inf
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
    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        self._stop.set()
        self._run.set()

    def pause(self) -> None:
        self._run.clear()

    def resume(self) -> None:
        self._run.set()

    @property
    def is_paused(self) -> bool:
        return not self._run.is_set()

    # ---------------------------------------------------------------- the work (worker thread)
    def work(self) -> None:
        # Leave a core to the GUI thread: torch's intra-op threads would otherwise compete with the
        # event loop for every core, and spinning OpenMP workers starve it.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        lower_thread_priority()
        try:
            interrupted = getattr(self._model, "fit_state", None)  # a restored, killed fit
            self._model.fit(
                self._neural,
                self._behavior,
                epochs=self._epochs,
                on_epoch=self._on_epoch,
                should_stop=self._stop.is_set,
                warmup=None if interrupted is None else interrupted.warmup,
            )
            outcome = self._model.outcome or FitOutcome("max_epochs", self._epochs)
            self._emit_snapshot()
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
        if not self._run.is_set():
            self.paused.emit(True)
            self._run.wait()
            self.paused.emit(False)

    def _on_autosave_error(self, exc: OSError) -> None:
        self.autosave_failed.emit(f"autosave to {self._autosave.path} failed: {exc}")

    def _autosave_final(self) -> None:
        """The session as the fit left it (a complete project), whatever the outcome."""
        if self._autosave is None:
            return
        try:
            if self._model.module is not None and len(self._model.history):
                self._model.save(self._autosave.path)
        except OSError as exc:
            self._on_autosave_error(exc)
        except Exception:  # the fit's own outcome matters more than its autosave
            traceback.print_exc()

    def _emit_snapshot(self) -> None:
        t0 = time.perf_counter()
        snap = take_snapshot(self._model)
        self._last_snapshot = time.perf_counter()
        self._snapshot_cost = self._last_snapshot - t0
        self.snapshot_ready.emit(snap)

    def _emit_snapshot_safely(self) -> None:
        try:
            if self._model.module is not None and len(self._model.history):
                self._emit_snapshot()
        except Exception:  # the failure message matters more than a last picture
            pass
