"""Checkpoints of a fit in progress, so that a killed fit loses at most a few minutes.

A checkpoint is the whole ``.mmgp`` project (same layout, written atomically by ``file.py``)
plus a ``/fit_state`` group saying the fit was still running: which epoch it had reached, where
it began and where it was going, and its KL warm-up. Its outcome status is "running" (or
"interrupted" when the fit saved on its way out, after Ctrl+C or SIGTERM). A project written at
the end of a fit has no ``/fit_state``; :func:`interrupted_fit` tells the two apart.

:class:`Checkpointer` is an ``on_epoch`` callback: ``fit`` calls it between epochs, on the
training thread, when the model and optimizer are consistent. It knows nothing of threads,
progress bars or Qt, so the CLI and the app's training worker use it the same way.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.training import EpochReport

CHECKPOINT_EVERY_S = 60.0
"""Default seconds between checkpoints (``mmgpvae fit --checkpoint-every``)."""
CHECKPOINT_SHARE = 0.2
"""At most this share of a fit's time goes to its periodic checkpoints: after a save that took
``s`` seconds the next one waits at least ``s × (1 − share) / share`` (an hour of 5,000
channels takes ~90 s to write; every 60 s it would spend more time saving than training)."""


@dataclass(frozen=True)
class FitState:
    """A fit in progress, as its latest checkpoint recorded it (epochs count history rows).

    ``session_start_epoch``: epochs the model had when this fit began; ``target_epoch``: the
    epoch it was to reach (it may stop earlier, on a plateau); ``warmup_epochs``: the length of its
    KL warm-up, counted from ``session_start_epoch`` — 0 once the KL weight has reached 1."""

    epoch: int
    session_start_epoch: int
    target_epoch: int
    warmup_epochs: int = 0

    @property
    def remaining_epochs(self) -> int:
        return max(0, self.target_epoch - self.epoch)

    @property
    def warmup(self) -> tuple[int, int] | None:
        """``(first epoch, length)`` for ``fit(..., warmup=)``: None when no warm-up is left."""
        return (self.session_start_epoch, self.warmup_epochs) if self.warmup_epochs else None

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: int(v) for k, v in d.items() if k in names})


def interrupted_fit(path: str | Path) -> FitState | None:
    """The fit a project's checkpoint recorded as in progress, or None for a project written at
    the end of a fit. Not None means the fit was killed or interrupted (or is still running in
    another process): ``mmgpvae fit --resume`` continues it to its target epoch. Reads no arrays."""
    from mmgpvae_core.project.file import read_fit_state

    d = read_fit_state(path)
    return None if d is None else FitState.from_dict(d)


class Checkpointer:
    """Saves ``model`` to ``path`` as a checkpoint every ``every_s`` seconds of training.

    Make one before a fit starts and call it with each of its :class:`EpochReport` (from
    ``on_epoch``): it returns True when it saved. Calling it from a later fit as well is fine
    (it starts a new session when the epochs it sees do not follow on).
    ``every_s`` <= 0: no periodic saves, only explicit :meth:`save` calls. ``clock`` gives
    seconds (monotonic). ``resumes``: the :class:`FitState` of the interrupted fit this one
    continues (its start and warm-up carry over); by default each fit it sees begins a session.
    ``on_error``: called with an ``OSError`` from a periodic save (disk full, folder gone), and
    training goes on (the next try comes an interval later); by default the error propagates.

    Writing rewrites the whole project (data, posterior, reconstructions), so the interval
    grows with the time one save takes (``CHECKPOINT_SHARE``): large data are saved less often.
    """

    def __init__(
        self,
        model: MMGPVAE,
        path: str | Path,
        every_s: float = CHECKPOINT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        *,
        resumes: FitState | None = None,
        on_error: Callable[[OSError], None] | None = None,
    ) -> None:
        self.model = model
        self.path = Path(path)
        self.every_s = float(every_s)
        self.saves = 0
        self._clock = clock
        self._resumes = resumes
        self._on_error = on_error
        self._last_save = clock()
        self._save_took = 0.0  # seconds the last save took
        self._report: EpochReport | None = None
        self._start = len(getattr(model, "history", ()))
        self._warmup: int | None = None  # the session's warm-up length, when known from `resumes`

    # ------------------------------------------------------------------ state
    def _observe(self, r: EpochReport) -> None:
        prev = self._report
        if prev is None or r.epoch != prev.epoch + 1 or r.n_epochs != prev.n_epochs:
            res = self._resumes
            if prev is None and res is not None and r.epoch == res.epoch + 1:
                self._start, self._warmup = res.session_start_epoch, res.warmup_epochs
            else:  # a new fit: it began before its first report (or when this was made)
                self._start = r.epoch - 1 if prev is not None else min(self._start, r.epoch - 1)
                self._warmup = None
        self._report = r

    @property
    def state(self) -> FitState | None:
        """What a save now would record; None before the first epoch of a fresh fit."""
        r = self._report
        if r is None:
            return self._resumes
        if r.beta >= 1.0:
            warm = 0
        elif self._warmup:
            warm = self._warmup
        else:  # a linear warm-up: beta = (epochs into the session) / length
            warm = round((r.epoch - self._start) / r.beta)
        return FitState(r.epoch, self._start, r.n_epochs, warm)

    # ------------------------------------------------------------------ saving
    def __call__(self, report: EpochReport) -> bool:
        self._observe(report)
        wait = max(self.every_s, self._save_took * (1 - CHECKPOINT_SHARE) / CHECKPOINT_SHARE)
        if self.every_s <= 0 or self._clock() - self._last_save < wait:
            return False
        try:
            return self.save()
        except OSError as exc:
            if self._on_error is None:
                raise
            self._last_save = self._clock()
            self._on_error(exc)
            return False

    def save(self, status: str = "running") -> bool:
        """Write the checkpoint now; False (nothing written) before the first epoch of a fresh
        fit. ``status``: "running", or "interrupted" for the save of a fit on its way out."""
        from mmgpvae_core.training import FitOutcome

        state = self.state
        if state is None:
            return False
        what = "fit in progress" if status == "running" else f"fit {status}"
        outcome = FitOutcome(
            status,
            state.epoch - state.session_start_epoch,
            f"{what}: checkpoint at epoch {state.epoch} of {state.target_epoch}; "
            "`mmgpvae fit --resume` continues it",
        )
        start = self._clock()
        self.model.save(self.path, outcome=outcome, fit_state=state)
        self._last_save = self._clock()
        self._save_took = self._last_save - start
        self.saves += 1
        return True
