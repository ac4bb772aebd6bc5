"""The trial tensor every loader produces, and the checks a likelihood puts on it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np


class DataError(ValueError):
    """Bad input. The message names the file, the field, what was found and what was expected."""

    def __init__(self, source: str | Path, field_name: str, problem: str) -> None:
        self.source = str(source)
        self.field = field_name
        self.problem = problem
        super().__init__(f"{source}: field '{field_name}': {problem}")


FLOAT32_MAX = float(np.finfo(np.float32).max)
#: values a chunked pass over a Dataset holds at a time (8 MiB of float64: its temporaries
#: stay small beside an hour-long session, and the pass as fast)
CHUNK_ELEMENTS = 1 << 20
#: largest magnitude a data value may have: sums of squares of such values stay finite in float32
MAX_ABS = 1e15


def data_blocks(
    shape: tuple[int, ...], elements: int | None = None
) -> list[tuple[slice, slice]]:
    """(trials, time) slices of a ``(trials, time, channels)`` array, about ``elements``
    (default ``CHUNK_ELEMENTS``) values each: whole trials when they are short, else pieces of
    one trial. A pass over an hour-long session holds one block at a time, not a temporary of
    the session's size."""
    elements = CHUNK_ELEMENTS if elements is None else int(elements)
    n, t, c = shape[0], shape[1], max(1, shape[2])
    if t * c <= elements:
        per = max(1, elements // (t * c))
        return [(slice(i, min(i + per, n)), slice(0, t)) for i in range(0, n, per)]
    step = max(1, elements // c)
    return [(slice(i, i + 1), slice(j, min(j + step, t))) for i in range(n) for j in range(0, t, step)]


def real_dtype_problem(dtype: np.dtype) -> str | None:
    """Why an array of ``dtype`` does not hold real numbers (None if it does: ints, floats,
    bools)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fiub":
        return None
    if dtype.kind == "c":
        return f"dtype {dtype} (complex numbers); expected real numbers"
    if dtype.hasobject:
        return f"dtype {dtype} (Python objects); expected real numbers"
    return f"dtype {dtype}; expected real numbers"


@dataclass
class Dataset:
    """One modality of one session as trials.

    data: ``(trials, time, channels)`` float64, or float32 when given float32 (the model's
    dtype: loaders bin long float32 recordings and spike counts into it, so a session is held
    once); NaN marks a missing sample. Trials shorter than ``time`` are padded with NaN at the
    end.
    conditions: ``(trials,)`` labels (ints or strings), or None.
    """

    data: np.ndarray
    conditions: np.ndarray | None = None
    channel_names: list[str] = dc_field(default_factory=list)
    bin_size_s: float | None = None
    source: str = "<memory>"
    field: str = "data"
    checksum: str = ""
    kind: str = "generic"
    preprocessing: dict[str, Any] = dc_field(default_factory=dict)
    #: what the reader knows the signal is (``config.SIGNALS``: "spikes", "calcium", "pose",
    #: "position"), whatever its values; "" when it cannot tell
    signal: str = ""

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if data.ndim != 3:
            raise DataError(
                self.source,
                self.field,
                f"expected a 3-D array (trials, time, channels), found shape {data.shape}",
            )
        problem = real_dtype_problem(data.dtype)
        if problem:
            raise DataError(self.source, self.field, problem)
        if data.shape[0] == 0 or data.shape[1] == 0 or data.shape[2] == 0:
            raise DataError(
                self.source,
                self.field,
                f"empty array of shape {data.shape}; expected at least one trial, one time bin "
                "and one channel",
            )
        # float32 (the dtype the model computes in) stays float32: a loader that bins into it
        # makes the one copy of the session the fit uses (torch shares it); the rest as float64.
        self.data = data if data.dtype == np.float32 else data.astype(np.float64, copy=False)
        n_inf, n_big, largest, observed = self._scan()
        if n_inf:
            raise DataError(
                self.source,
                self.field,
                f"{n_inf} infinite values; expected finite numbers (NaN marks a missing sample)",
            )
        if n_big:
            where = (
                "overflow float32" if largest > FLOAT32_MAX else "overflow once squared in float32"
            )
            raise DataError(
                self.source,
                self.field,
                f"{n_big} value(s) as large as {largest:.3g}, which {where} (the model "
                f"computes in float32); expected magnitudes below {MAX_ABS:.0e} (rescale the data)",
            )
        if not self.channel_names:
            self.channel_names = [f"ch{i}" for i in range(self.n_channels)]
        if len(self.channel_names) != self.n_channels:
            raise DataError(
                self.source,
                "channel_names",
                f"{len(self.channel_names)} names for {self.n_channels} channels",
            )
        if self.conditions is not None:
            cond = np.asarray(self.conditions)
            if cond.dtype.kind in "SO":
                cond = np.array(
                    [c.decode() if isinstance(c, bytes) else str(c) for c in cond.ravel()]
                )
            if cond.shape != (self.n_trials,):
                raise DataError(
                    self.source,
                    "conditions",
                    f"expected shape ({self.n_trials},) (one label per trial), found {cond.shape}",
                )
            self.conditions = cond
        all_nan = ~observed
        if all_nan.any():
            names = [self.channel_names[i] for i in np.flatnonzero(all_nan)[:5]]
            raise DataError(
                self.source,
                self.field,
                f"{int(all_nan.sum())} channel(s) are entirely missing (NaN), e.g. {names}; "
                "drop them before fitting",
            )

    def blocks(self) -> list[tuple[slice, slice]]:
        """(trials, time) slices covering the data, about ``CHUNK_ELEMENTS`` values each."""
        return data_blocks(self.data.shape)

    def _scan(self) -> tuple[int, int, float, np.ndarray]:
        """One chunked pass: infinite values, values above MAX_ABS and the largest of them, and
        (channels,) whether each channel has an observed sample."""
        n_inf = n_big = 0
        largest = 0.0
        observed = np.zeros(self.data.shape[2], dtype=bool)
        for sl in self.blocks():
            x = self.data[sl]
            n_inf += int(np.isinf(x).sum())
            big = np.abs(x) > MAX_ABS  # NaN compares False
            if big.any():
                n_big += int(big.sum())
                largest = max(largest, float(np.abs(x[big]).max()))
            observed |= ~np.isnan(x).all(axis=(0, 1))
        return n_inf, n_big, largest, observed

    @property
    def n_trials(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.data.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[2])

    @property
    def missing_fraction(self) -> float:
        n = sum(int(np.isnan(self.data[sl]).sum()) for sl in self.blocks())
        return n / self.data.size

    @property
    def trial_lengths(self) -> np.ndarray:
        """(trials,) number of bins up to the last bin with any observed channel."""
        observed = np.empty(self.data.shape[:2], dtype=bool)
        for sl in self.blocks():
            observed[sl] = ~np.isnan(self.data[sl]).all(axis=2)
        rev = observed[:, ::-1]
        last = self.n_time - np.argmax(rev, axis=1)
        return np.where(observed.any(axis=1), last, 0)

    def condition_labels(self) -> list[str]:
        if self.conditions is None:
            return []
        return sorted({str(c) for c in self.conditions})

    def summary(self) -> dict[str, Any]:
        lengths = self.trial_lengths
        return {
            "source": self.source,
            "kind": self.kind,
            "signal": self.signal,
            "trials": self.n_trials,
            "bins": self.n_time,
            "trial_length_range": [int(lengths.min()), int(lengths.max())],
            "channels": self.n_channels,
            "bin_size_s": self.bin_size_s,
            "conditions": self.condition_labels(),
            "missing_fraction": round(self.missing_fraction, 4),
            "dropped_channels": list(self.preprocessing.get("dropped_channels", [])),
        }

    def subset(self, trials: np.ndarray) -> Dataset:
        """A copy with only the given trial indices (their recorded trial times too)."""
        prep = dict(self.preprocessing)
        info = dict(prep.get("trials") or {})
        for key in ("start_s", "stop_s"):
            if len(info.get(key, ())) == self.n_trials:
                info[key] = [info[key][int(i)] for i in np.arange(self.n_trials)[trials]]
        if info:
            prep["trials"] = info
        return replace(
            self,
            data=self.data[trials],
            conditions=None if self.conditions is None else self.conditions[trials],
            channel_names=list(self.channel_names),
            preprocessing=prep,
        )


def check_for_likelihood(ds: Dataset, likelihood: str) -> None:
    """Raise DataError if ``ds`` cannot be modelled with ``likelihood`` (a registered name; the
    check itself is the likelihood class's ``data_problem``)."""
    from mmgpvae_core.model.likelihoods import (  # torch: only where a model is fitted
        ValueSummary,
        likelihood_class,
    )

    cls = likelihood_class(likelihood)
    if not cls.checks_values():
        return
    # one pass, block by block (no copy of the whole session); the message counts over it all
    problem = cls.data_problem(ValueSummary.of(ds.data))
    if problem:
        raise DataError(ds.source, ds.field, problem)


def check_pair(neural: Dataset, behavior: Dataset | None) -> None:
    """Both modalities must describe the same trials on the same time grid."""
    if behavior is None:
        return
    same_trials = "both modalities must have the same trials"
    same_grid = "bin both modalities on one time grid"
    for n_neural, n_behavior, what, fix in (
        (neural.n_trials, behavior.n_trials, "trials", same_trials),
        (neural.n_time, behavior.n_time, "time bins per trial", same_grid),
    ):
        if n_neural != n_behavior:
            raise DataError(
                behavior.source,
                behavior.field,
                f"{n_behavior} {what}, but the neural data ({neural.source}) has {n_neural}; {fix}",
            )
    if (
        neural.bin_size_s is not None
        and behavior.bin_size_s is not None
        and not np.isclose(neural.bin_size_s, behavior.bin_size_s, rtol=1e-3)
    ):
        raise DataError(
            behavior.source,
            "bin_size_s",
            f"{behavior.bin_size_s} s, but the neural data has {neural.bin_size_s} s",
        )


def file_checksum(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_session_names(n: int) -> list[str]:
    """The names of ``n`` sessions given none: session0, session1, …"""
    return [f"session{k}" for k in range(n)]


def stack_sessions(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per key, every session's ``(trials, time, …)`` array in turn along the trials, each
    padded with NaN to the longest trials (sessions may differ in length)."""
    T = max(p[k].shape[1] for p in parts for k in p)
    return {
        k: np.concatenate([
            np.pad(p[k], [(0, 0), (0, T - p[k].shape[1])] + [(0, 0)] * (p[k].ndim - 2),
                   constant_values=np.nan)
            for p in parts
        ])
        for k in parts[0]
    }
