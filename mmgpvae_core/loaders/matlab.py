"""MATLAB ``.mat``: v5 via scipy.io, v7.3 (HDF5) via h5py with arrays transposed back to MATLAB's
order.

Variables read: ``data`` (or those named by ``field``: ``"spikes"``, ``"pos,vel"`` joined as
channels, see :mod:`~mmgpvae_core.loaders.fields`; or the only numeric matrix that is not a time
vector): ``(trials, time, channels)`` becomes a trial tensor; ``(time, channels)`` (or a vector) a
continuous recording, a matrix stored (channels × time) turned the right way round when a time
vector ``time``/``t``/``timestamps`` or the other modality's length tells which axis is time;
its rate comes from a scalar ``fs`` / ``rate_hz`` / ``sampling_rate`` (or ``bin_size_s``), else
from the evenly stepped time vector;
a cell array ``spike_times`` (one vector of seconds per unit) spike times. Optional ``conditions``, ``channel_names``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, Dataset, file_checksum, real_dtype_problem
from mmgpvae_core.loaders.checks import read_h5
from mmgpvae_core.loaders.fields import (
    TIME_VARS,
    TRANSPOSE_SUFFIX,
    channel_names,
    check_same_ndim,
    choose_error,
    field_names,
    join_channels,
    orient,
    rate_from_times,
    resolve,
    samples_shape_error,
    time_vector,
)
from mmgpvae_core.loaders.recording import Recording

RATE_VARS = ("fs", "Fs", "rate_hz", "sampling_rate")


def _read_v5(path: Path) -> dict[str, Any]:
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        raw = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=False)
    except (ValueError, OSError, TypeError, NotImplementedError, MatReadError) as exc:
        raise DataError(path, "-", f"not a readable MATLAB file ({exc})") from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def _read_v73(path: Path) -> dict[str, Any]:
    import h5py

    def deref(f, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.dtype == h5py.ref_dtype:
                refs = obj[()]
                return np.array([deref(f, f[r]) for r in refs.T.ravel()], dtype=object).reshape(
                    refs.T.shape
                )
            arr = read_h5(path, obj)
            if obj.attrs.get("MATLAB_class", b"") in (b"char", "char"):
                return np.array(["".join(map(chr, np.asarray(arr).T.ravel()))])
            return np.asarray(arr).T
        return None

    try:
        with h5py.File(path, "r") as f:
            return {k: deref(f, f[k]) for k in f.keys() if not k.startswith("#")}
    except (OSError, KeyError) as exc:
        raise DataError(path, "-", f"not a readable MATLAB v7.3 file ({exc})") from None


def matlab_shapes(path: Path) -> dict[str, tuple]:
    """A MAT file's numeric and cell variables, name → shape in MATLAB's order, from the
    headers (text and structs are left out)."""
    import h5py
    import scipy.io

    if not h5py.is_hdf5(path):
        try:
            found = scipy.io.whosmat(path)
        except Exception as exc:  # noqa: BLE001 - scipy raises many types on a damaged file
            raise DataError(path, "-", f"not a readable MATLAB file ({exc})") from None
        return {n: tuple(s) for n, s, c in found if c not in ("char", "struct", "object")}
    out: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:
        for k in f.keys():
            obj = f.get(k)
            cls = obj.attrs.get("MATLAB_class", b"") if obj is not None else b""
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if k.startswith("#") or not isinstance(obj, h5py.Dataset) or cls == "char":
                continue
            out[k] = tuple(reversed(obj.shape or ()))
    return out


def _names(v: Any) -> list[str]:
    out = []
    for x in np.asarray(v, dtype=object).ravel():
        if isinstance(x, np.ndarray):
            x = x.ravel()
            if x.dtype.kind == "U":
                x = "".join(x.tolist())
            elif x.size == 1:
                x = x[0]
        out.append(x.decode() if isinstance(x, bytes) else str(x).strip())
    return out


def _scalar(path: Path, vars: dict, keys) -> tuple[float, str] | tuple[None, None]:
    for k in keys:
        if k in vars:
            try:
                v = np.asarray(vars[k], dtype=np.float64).ravel()
            except (TypeError, ValueError):
                v = np.array([np.nan])
            if v.size != 1 or not v[0] > 0:
                raise DataError(path, k, f"{vars[k]!r}; expected one positive number")
            return float(v[0]), k
    return None, None


def _default_variable(path: Path, vars: dict[str, Any], role: str | None) -> str:
    """``data``, else ``spike_times``, else the only numeric matrix that is not a time vector
    or labels; several: a FieldChoiceError listing them."""
    if "data" in vars:
        return "data"
    if "spike_times" in vars:
        return "spike_times"
    candidates = [
        k
        for k, v in vars.items()
        if isinstance(v, np.ndarray)
        and v.dtype.kind in "fiub"
        and v.size > 1
        and k not in TIME_VARS + ("conditions", "channel_names")
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise choose_error(
        path,
        {k: np.shape(v) for k, v in vars.items()},
        role,
        "expected a variable 'data' ((trials, time, channels) or (time, channels)) or "
        "'spike_times' (a cell of spike-time vectors)",
    )


def _spike_recording(
    path: Path, variable: str, value: Any, names: list[str], checksum: str
) -> Recording:
    """A cell array with one vector of spike times (seconds) per unit."""
    cells = np.asarray(value, dtype=object).ravel()
    spikes = []
    for i, c in enumerate(cells):
        try:
            st = np.sort(np.asarray(c, dtype=np.float64).ravel())
        except (TypeError, ValueError):
            raise DataError(
                path,
                variable,
                f"unit {i + 1}: {np.asarray(c).ravel()[:3]!r}; expected a vector of spike "
                "times in seconds (one cell per unit)",
            ) from None
        if not np.isfinite(st).all():
            raise DataError(path, variable, f"unit {i + 1}: non-finite spike times")
        spikes.append(st)
    return Recording(
        values=None,
        channel_names=names or [f"unit{i}" for i in range(len(spikes))],
        source=str(path),
        field=variable,
        kind="matlab",
        spike_times=spikes,
        checksum=checksum,
    )


def _arrays(
    path: Path,
    vars: dict[str, Any],
    names: list[str],
    role: str | None,
    other_samples: int | None,
) -> list[tuple[str, np.ndarray]]:
    """The named variables as ``(time, channels)`` matrices (or 3-D trial tensors), each read
    the right way round (see :func:`fields.orient`)."""
    shapes = {k: np.shape(v) for k, v in vars.items()}
    out = []
    for name in names:
        key, transposed = resolve(path, name, shapes, role)
        arr = np.asarray(vars[key])
        problem = real_dtype_problem(arr.dtype)
        if problem:
            raise DataError(path, key, problem)
        if transposed and arr.ndim > 2:
            raise DataError(path, name, f"shape {arr.shape}; {TRANSPOSE_SUFFIX} is for a matrix")
        if arr.ndim == 1 or (arr.ndim == 2 and 1 in arr.shape):
            arr = arr.reshape(-1, 1)
        elif arr.ndim == 2 and transposed:
            arr = arr.T
        elif arr.ndim == 2:
            hints = []
            if (tv := time_vector(vars)) is not None and tv[1] != key:
                hints.append((tv[0], f"the time vector '{tv[1]}'"))
            if other_samples:
                hints.append((int(other_samples), "the other modality"))
            arr = orient(path, key, arr, hints, role, shapes)
        elif arr.ndim != 3:
            raise samples_shape_error(path, key, arr)
        out.append((key, arr))
    check_same_ndim(path, names, out)
    return out


def load_matlab(
    path: str | Path,
    *,
    field: str | list[str] | None = None,
    role: str | None = None,
    other_samples: int | None = None,
    **_: Any,
) -> Dataset | Recording:
    """A MATLAB file's ``field`` (one variable, or ``"A,B"`` joined as channels; default:
    see the module's docstring) as a Dataset (3-D) or a Recording. ``role`` (neural or
    behavior) names the option in messages; ``other_samples``: the other modality's length,
    which may tell the time axis of a matrix wider than tall."""
    import h5py

    path = Path(path)
    vars = _read_v73(path) if h5py.is_hdf5(path) else _read_v5(path)
    checksum = file_checksum(path)
    named = field_names(path, field)
    names = named or [_default_variable(path, vars, role)]
    file_names = _names(vars["channel_names"]) if "channel_names" in vars else []
    value = vars.get(names[0])
    if len(names) == 1 and (
        names[0] == "spike_times" or (isinstance(value, np.ndarray) and value.dtype == object)
    ):
        return _spike_recording(path, names[0], value, file_names, checksum)
    arrays = _arrays(path, vars, names, role, other_samples)
    arr = join_channels(path, arrays)
    if named and len(file_names) != arr.shape[-1]:
        file_names = channel_names(arrays)
    label = ",".join(names)
    if arr.ndim == 3:
        bin_size, _ = _scalar(path, vars, ("bin_size_s",))
        cond = vars.get("conditions")
        if cond is not None:
            cond = np.asarray(cond)
            cond = np.array(_names(cond)) if cond.dtype.kind in "OUS" else cond.ravel()
        return Dataset(
            data=arr,
            conditions=cond,
            channel_names=file_names,
            bin_size_s=bin_size,
            source=str(path),
            field=label,
            checksum=checksum,
            kind="matlab",
        )
    rate, rate_from = _scalar(path, vars, RATE_VARS)
    if rate is None:
        bin_size, key = _scalar(path, vars, ("bin_size_s",))
        rate, rate_from = (1.0 / bin_size, key) if bin_size else rate_from_times(vars, len(arr))
    return Recording(
        values=arr.astype(np.float64, copy=False),
        channel_names=file_names or [f"ch{i}" for i in range(arr.shape[1])],
        source=str(path),
        field=label,
        kind="matlab",
        rate_hz=rate,
        rate_from=rate_from,
        checksum=checksum,
    )
