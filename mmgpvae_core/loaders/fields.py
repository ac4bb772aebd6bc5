"""Naming the arrays to read in a file that holds several (MATLAB, NPZ, HDF5).

``field="spikes"`` reads one array; ``field="pos,vel"`` reads several and joins them as channels
(their samples must agree). Channels of named arrays are named ``<array>_<column>``: ``x``, ``y``
(and ``z``) when an array has two (three) columns, else the column's index from 0
(``spikes_0`` …); a single column keeps the array's name. ``NAME.T`` reads the array transposed.

A MATLAB matrix is often stored (channels × time). Which axis is time is told by a time vector
in the file (``time``, ``t`` or ``timestamps``) whose length matches one axis, or by the other
modality's number of samples; a matrix wider than tall with nothing to tell is refused with the
shapes found and how to choose (:class:`AxisChoiceError`), never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError

#: names of a vector of sample times that tells which axis of a matrix is time
TIME_VARS = ("time", "t", "timestamps")
#: a field name ending so reads the array transposed, when no array has that name
TRANSPOSE_SUFFIX = ".T"
#: arrays named in a message before "…"
MAX_LISTED = 20
_AXES = {2: ("x", "y"), 3: ("x", "y", "z")}


class FieldChoiceError(DataError):
    """The file holds several arrays and none was named; ``arrays`` maps name → shape."""

    def __init__(
        self, source: str | Path, field_name: str, problem: str, arrays: dict[str, tuple]
    ) -> None:
        super().__init__(source, field_name, problem)
        self.arrays = dict(arrays)


class AxisChoiceError(DataError):
    """A matrix wider than tall whose time axis nothing in the files tells."""


def field_flag(role: str | None) -> str:
    """The command-line option that names the array to read for this modality."""
    return {"neural": "--neural-field", "behavior": "--behavior-field"}.get(role or "", "--field")


def field_names(source: str | Path, field: str | Sequence[str] | None) -> list[str]:
    """``"pos,vel"`` (or a list) as ``["pos", "vel"]``; [] when no field is named."""
    if field is None:
        return []
    parts = field.split(",") if isinstance(field, str) else [str(f) for f in field]
    names = [p.strip() for p in parts if p.strip()]
    if not names:
        raise DataError(source, "field", f"{field!r}; expected an array's name, or names A,B")
    if len(set(names)) < len(names):
        raise DataError(source, "field", f"{field!r} names an array twice; expected each once")
    return names


def resolve(
    source: str | Path, name: str, shapes: dict[str, tuple], role: str | None
) -> tuple[str, bool]:
    """The array a field name reads and whether transposed (``NAME.T``), or a DataError
    listing the arrays the file has."""
    if name in shapes:
        return name, False
    base = name[: -len(TRANSPOSE_SUFFIX)]
    if name.endswith(TRANSPOSE_SUFFIX) and base in shapes:
        return base, True
    raise DataError(
        source,
        name,
        f"no such array; the file has {shapes_text(shapes)}; expected one of these names with "
        f"{field_flag(role)} (several joined as channels: A,B; NAME{TRANSPOSE_SUFFIX} reads one "
        "transposed)",
    )


def shapes_text(shapes: dict[str, tuple]) -> str:
    """``pos (35129, 2), spikes (35129, 52)`` (by name, the first ``MAX_LISTED``), or
    ``no arrays``."""
    if not shapes:
        return "no arrays"
    listed = sorted(shapes.items())[:MAX_LISTED]
    shown = [f"{k} {tuple(int(n) for n in s)}" for k, s in listed]
    more = len(shapes) - MAX_LISTED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def choose_error(
    source: str | Path, shapes: dict[str, tuple], role: str | None, expected: str
) -> FieldChoiceError:
    """No ``data`` and no array named: say what the file holds and the option that chooses."""
    flag = field_flag(role)
    how = (
        f"; or name the array to read with {flag} NAME (several, joined as channels: {flag} A,B)"
        if shapes
        else ""
    )
    return FieldChoiceError(
        source, "data", f"not found; the file has {shapes_text(shapes)}; {expected}{how}", shapes
    )


def channel_names(arrays: list[tuple[str, np.ndarray]]) -> list[str]:
    """Channel names of named arrays joined as channels: ``pos_x``, ``pos_y``, ``spikes_0``…"""
    out: list[str] = []
    for name, arr in arrays:
        k = arr.shape[-1]
        cols = _AXES.get(k, tuple(str(i) for i in range(k)))
        out += [name] if k == 1 else [f"{name}_{c}" for c in cols]
    return out


def samples_shape_error(source: str | Path, key: str, arr: np.ndarray) -> DataError:
    """The error for a named array that is neither ``(time, channels)`` nor a trial tensor."""
    return DataError(
        source, key, f"shape {arr.shape}; expected (time, channels) or (trials, time, channels)"
    )


def check_same_ndim(
    source: str | Path, names: Sequence[str], arrays: list[tuple[str, np.ndarray]]
) -> None:
    """Arrays joined as channels must be all 2-D or all 3-D."""
    if len({a.ndim for _, a in arrays}) > 1:
        found = ", ".join(f"{n} {a.shape}" for n, a in arrays)
        raise DataError(source, ",".join(names), f"{found}; expected all 2-D or all 3-D to join")


def join_channels(source: str | Path, arrays: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Arrays ``(…, channels)`` side by side along channels; their other axes must agree."""
    if len(arrays) == 1:
        return arrays[0][1]
    lead = {a.shape[:-1] for _, a in arrays}
    if len(lead) > 1:
        found = ", ".join(f"{n} {a.shape}" for n, a in arrays)
        raise DataError(
            source,
            ",".join(n for n, _ in arrays),
            f"shapes {found}; expected the same samples (all axes but the channels) in each "
            "array joined as channels",
        )
    dtype = np.result_type(*(a.dtype for _, a in arrays), np.float32)
    return np.concatenate([a.astype(dtype, copy=False) for _, a in arrays], axis=-1)


def time_vector(values: dict[str, Any]) -> tuple[int, str] | None:
    """``(length, name)`` of a vector of sample times in the file, if there is one."""
    for k in TIME_VARS:
        v = values.get(k)
        if isinstance(v, np.ndarray) and v.dtype.kind in "fiu" and v.size > 1:
            if v.ndim == 1 or sorted(v.shape)[-2] == 1:
                return v.size, k
    return None


def rate_from_times(values: dict[str, Any], n: int) -> tuple[float, str] | tuple[None, None]:
    """``(rate in Hz, "time vector 'NAME'")`` from the file's vector of sample times
    (:func:`time_vector`) when it has one entry per each of the ``n`` samples and even steps
    (within 5 %), else ``(None, None)``: a file that carries its times tells its rate."""
    tv = time_vector(values)  # the vector that tells a matrix's time axis
    if tv is None or tv[0] != n:
        return None, None
    t = np.asarray(values[tv[1]], dtype=np.float64).ravel()
    step = (t[-1] - t[0]) / (n - 1)
    # times rounded to the millisecond jitter a 50 ms step by 1 %; a dropped sample is 100 %
    if step > 0 and np.all(np.abs(np.diff(t) - step) <= 0.05 * step):
        return 1.0 / step, f"time vector '{tv[1]}'"
    return None, None


def orient(
    source: str | Path,
    name: str,
    arr: np.ndarray,
    hints: list[tuple[int, str]],
    role: str | None,
    shapes: dict[str, tuple],
) -> np.ndarray:
    """A 2-D MATLAB matrix as ``(time, channels)``: the first hint (a length of the time axis,
    and what says so) that matches one axis decides; else a matrix no wider than tall is read
    as stored, and a wider one raises :class:`AxisChoiceError`."""
    rows, cols = arr.shape
    for n, _ in hints:
        if rows == n:
            return arr
        if cols == n:
            return arr.T
    if cols <= rows:
        return arr
    told = "; ".join(f"{what} has {n} samples, matching neither axis" for n, what in hints)
    flag = field_flag(role)
    raise AxisChoiceError(
        source,
        name,
        f"shape ({rows}, {cols}) is wider than tall, so time may run along its {cols} columns "
        f"(MATLAB's channels × time) or down its {rows} rows, and "
        f"{told or 'no time vector (' + ', '.join(TIME_VARS) + ') says which'}; the file has "
        f"{shapes_text(shapes)}. Expected (time, channels): name {flag} "
        f"{name}{TRANSPOSE_SUFFIX} to read it transposed, add a vector 'time' with one entry "
        "per sample to the file, or save the matrix as time × channels",
    )


#: arrays that describe others (times, labels, rates), never offered as data to read
METADATA = TIME_VARS + (
    "conditions",
    "channel_names",
    "bin_size_s",
    "fs",
    "Fs",
    "rate_hz",
    "sampling_rate",
    "start_time",
    "spike_times_index",
)


def array_choices(shapes: dict[str, tuple]) -> list[str]:
    """The arrays of a file a user may name as data: more than one value, not metadata."""
    return [
        k
        for k, s in shapes.items()
        if k.rsplit("/", 1)[-1] not in METADATA and int(np.prod(s, dtype=np.int64)) > 1
    ]
