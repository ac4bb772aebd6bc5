"""MATLAB ``.mat``: v5 via scipy.io, v7.3 (HDF5) via h5py with arrays transposed back to MATLAB's
order.

Variables read: ``data`` (or the one given by ``variable``, or the only numeric matrix):
``(trials, time, channels)`` becomes a trial tensor; ``(time, channels)`` (or a vector) a
continuous recording whose rate comes from a scalar ``fs`` / ``rate_hz`` / ``sampling_rate`` (or
``bin_size_s``); a cell array ``spike_times`` (one vector of seconds per unit) spike times.
Optional ``conditions``, ``channel_names``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, Dataset, file_checksum, real_dtype_problem
from mmgpvae_core.loaders.checks import read_h5
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


def load_matlab(path: str | Path, *, variable: str | None = None, **_) -> Dataset | Recording:
    import h5py

    path = Path(path)
    vars = _read_v73(path) if h5py.is_hdf5(path) else _read_v5(path)
    numeric = {
        k: v
        for k, v in vars.items()
        if isinstance(v, np.ndarray) and v.dtype.kind in "fiub" and v.size > 1
    }
    checksum = file_checksum(path)
    if variable is None:
        if "data" in vars:
            variable = "data"
        elif "spike_times" in vars:
            variable = "spike_times"
        elif len(numeric) == 1:
            variable = next(iter(numeric))
        else:
            raise DataError(
                path,
                "data",
                f"not found; the file has {sorted(vars) or 'no variables'}; "
                "expected a variable 'data' (trials×time×channels or time×channels) or "
                "'spike_times' (a cell of spike-time vectors), or name one",
            )
    if variable not in vars:
        raise DataError(path, variable, f"no such variable; the file has {sorted(vars)}")
    value = vars[variable]
    names = _names(vars["channel_names"]) if "channel_names" in vars else []
    if variable == "spike_times" or (isinstance(value, np.ndarray) and value.dtype == object):
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
    arr = np.asarray(value)
    problem = real_dtype_problem(arr.dtype)
    if problem:
        raise DataError(path, variable, problem)
    if arr.ndim == 3:
        bin_size, _ = _scalar(path, vars, ("bin_size_s",))
        cond = vars.get("conditions")
        if cond is not None:
            cond = np.asarray(cond)
            cond = np.array(_names(cond)) if cond.dtype.kind in "OUS" else cond.ravel()
        return Dataset(
            data=arr,
            conditions=cond,
            channel_names=names,
            bin_size_s=bin_size,
            source=str(path),
            field=variable,
            checksum=checksum,
            kind="matlab",
        )
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(
            path,
            variable,
            f"shape {arr.shape}; expected (time, channels) or (trials, time, channels)",
        )
    rate, rate_from = _scalar(path, vars, RATE_VARS)
    if rate is None:
        bin_size, key = _scalar(path, vars, ("bin_size_s",))
        rate, rate_from = (1.0 / bin_size, key) if bin_size else (None, None)
    return Recording(
        values=arr.astype(np.float64, copy=False),
        channel_names=names or [f"ch{i}" for i in range(arr.shape[1])],
        source=str(path),
        field=variable,
        kind="matlab",
        rate_hz=rate,
        rate_from=rate_from,
        checksum=checksum,
    )
