"""The trial tensor every loader produces, and the checks a likelihood puts on it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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
#: largest magnitude a data value may have: sums of squares of such values stay finite in float32
MAX_ABS = 1e15


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

    data: ``(trials, time, channels)`` float64; NaN marks a missing sample. Trials shorter than
    ``time`` are padded with NaN at the end.
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
        self.data = data.astype(np.float64, copy=False)
        if np.isinf(self.data).any():
            n = int(np.isinf(self.data).sum())
            raise DataError(
                self.source,
                self.field,
                f"{n} infinite values; expected finite numbers (NaN marks a missing sample)",
            )
        big = np.abs(self.data) > MAX_ABS  # NaN compares False
        if big.any():
            largest = float(np.nanmax(np.abs(self.data)))
            where = (
                "overflow float32" if largest > FLOAT32_MAX else "overflow once squared in float32"
            )
            raise DataError(
                self.source,
                self.field,
                f"{int(big.sum())} value(s) as large as {largest:.3g}, which {where} (the model "
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
        all_nan = np.isnan(self.data).all(axis=(0, 1))
        if all_nan.any():
            names = [self.channel_names[i] for i in np.flatnonzero(all_nan)[:5]]
            raise DataError(
                self.source,
                self.field,
                f"{int(all_nan.sum())} channel(s) are entirely missing (NaN), e.g. {names}; "
                "drop them before fitting",
            )

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
        return float(np.isnan(self.data).mean())

    @property
    def trial_lengths(self) -> np.ndarray:
        """(trials,) number of bins up to the last bin with any observed channel."""
        observed = ~np.isnan(self.data).all(axis=2)
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
            "trials": self.n_trials,
            "bins": self.n_time,
            "trial_length_range": [int(lengths.min()), int(lengths.max())],
            "channels": self.n_channels,
            "bin_size_s": self.bin_size_s,
            "conditions": self.condition_labels(),
            "missing_fraction": round(self.missing_fraction, 4),
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
        return Dataset(
            data=self.data[trials],
            conditions=None if self.conditions is None else self.conditions[trials],
            channel_names=list(self.channel_names),
            bin_size_s=self.bin_size_s,
            source=self.source,
            field=self.field,
            checksum=self.checksum,
            kind=self.kind,
            preprocessing=prep,
        )


def check_for_likelihood(ds: Dataset, likelihood: str) -> None:
    """Raise DataError if ``ds`` cannot be modelled with ``likelihood`` (a registered name; the
    check itself is the likelihood class's ``data_problem``)."""
    from mmgpvae_core.model.likelihoods import (
        likelihood_class,  # torch: only where a model is fitted
    )

    problem = likelihood_class(likelihood).data_problem(ds.data[~np.isnan(ds.data)])
    if problem:
        raise DataError(ds.source, ds.field, problem)


def check_pair(neural: Dataset, behavior: Dataset | None) -> None:
    """Both modalities must describe the same trials on the same time grid."""
    if behavior is None:
        return
    if neural.n_trials != behavior.n_trials:
        raise DataError(
            behavior.source,
            behavior.field,
            f"{behavior.n_trials} trials, but the neural data ({neural.source}) has "
            f"{neural.n_trials}; both modalities must have the same trials",
        )
    if neural.n_time != behavior.n_time:
        raise DataError(
            behavior.source,
            behavior.field,
            f"{behavior.n_time} time bins per trial, but the neural data ({neural.source}) has "
            f"{neural.n_time}; bin both modalities on one time grid",
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
