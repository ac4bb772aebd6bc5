"""Generic trial tensors: HDF5 / NPZ with ``data`` (+ ``conditions``, ``channel_names``,
``bin_size_s``), a bare NPY, or the lfads-torch ``train_encod_data``/``valid_encod_data`` layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, Dataset, file_checksum, real_dtype_problem
from mmgpvae_core.loaders.checks import load_npy, npz_array, npz_header, open_npz, read_h5

HDF5_SUFFIXES = (".h5", ".hdf5", ".nwb")


def _strings(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def _from_mapping(path: Path, get, keys: set[str], attrs: dict[str, Any]) -> Dataset:
    if "data" in keys:
        data, fld = get("data"), "data"
    elif "train_encod_data" in keys:
        train = np.asarray(get("train_encod_data"))
        data, fld = train, "train_encod_data"
        if "valid_encod_data" in keys:
            valid = np.asarray(get("valid_encod_data"))
            if train.ndim != 3 or valid.shape[1:] != train.shape[1:]:
                raise DataError(
                    path,
                    "valid_encod_data",
                    f"shape {valid.shape}, train_encod_data {train.shape}; expected both "
                    "(samples, time, channels) with the same time bins and channels",
                )
            data = np.concatenate([train, valid], axis=0)
    else:
        raise DataError(
            path,
            "data",
            f"not found; the file has {sorted(keys) or 'no arrays'}; expected an array "
            "'data' of shape (trials, time, channels)",
        )
    data = np.asarray(data)
    if data.ndim != 3:
        raise DataError(
            path, fld, f"expected a 3-D array (trials, time, channels), found shape {data.shape}"
        )
    bin_size = attrs.get("bin_size_s")
    if bin_size is None and "bin_size_s" in keys:
        bin_size = get("bin_size_s")
    if bin_size is not None:
        bin_size = _positive(path, "bin_size_s", bin_size, "a positive number of seconds")
    conditions = get("conditions") if "conditions" in keys else None
    names = _strings(get("channel_names")) if "channel_names" in keys else []
    return Dataset(
        data=data,
        conditions=None if conditions is None else np.asarray(conditions),
        channel_names=names,
        bin_size_s=bin_size,
        source=str(path),
        field=fld,
        checksum=file_checksum(path),
        kind="generic",
    )


def _positive(path: Path, key: str, value: Any, what: str) -> float:
    """A scalar attribute or array as a float, or a DataError naming it."""
    v = np.asarray(value).ravel()
    try:
        x = float(v[0]) if v.size == 1 else float("nan")
    except (TypeError, ValueError):
        x = float("nan")
    if not x > 0:
        shown = v[0].item() if v.size == 1 else f"{v.size} values"
        raise DataError(path, key, f"{shown!r}; expected {what}")
    return x


def _open_h5(path: Path):
    """Open an HDF5 file for reading, or raise DataError naming it."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, "-", f"not a readable HDF5 file ({exc})") from None


def _h5_arrays(f) -> set[str]:
    import h5py

    out = set()
    for k in f.keys():
        try:
            obj = f[k]
        except KeyError as exc:  # a soft or external link to nothing
            raise DataError(
                f.filename, k, f"a link that leads nowhere ({exc}); expected an array in the file"
            ) from None
        if isinstance(obj, h5py.Dataset):
            out.add(k)
    return out


def load_generic(path: str | Path, **_: Any) -> Dataset:
    """Read a generic trial tensor file. Raises DataError naming the file and field."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "-", "file not found")
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        with _open_h5(path) as f:
            keys = _h5_arrays(f)
            attrs = {k: f.attrs[k] for k in f.attrs}
            return _from_mapping(path, lambda k: read_h5(path, f[k]), keys, attrs)
    if suffix == ".npz":
        with open_npz(path) as z:
            return _from_mapping(path, lambda k: npz_array(path, z, k), set(z.files), {})
    if suffix == ".npy":
        arr = load_npy(path, "data", mmap=False)
        return _from_mapping(path, lambda k: arr, {"data"}, {})
    raise DataError(path, "-", f"unknown file type '{suffix}'; expected .h5, .hdf5, .npz or .npy")


def save_generic(path: str | Path, ds: Dataset) -> None:
    """Write a Dataset in the generic HDF5 layout (what `mmgpvae simulate` writes)."""
    import h5py

    with h5py.File(path, "w") as f:
        data = ds.data
        finite = data[~np.isnan(data)]
        if (
            finite.size
            and (finite == np.round(finite)).all()
            and finite.min() >= 0
            and finite.max() < 65535
            and not np.isnan(data).any()
        ):
            data = data.astype(np.uint16)  # counts: exact and compact
        else:
            data = data.astype(np.float32)
        f.create_dataset("data", data=data, compression="gzip", compression_opts=4, shuffle=True)
        if ds.conditions is not None:
            cond = ds.conditions
            if cond.dtype.kind in "UO":
                cond = cond.astype("S")
            f.create_dataset("conditions", data=cond)
        f.create_dataset("channel_names", data=np.array(ds.channel_names, dtype="S"))
        if ds.bin_size_s is not None:
            f.attrs["bin_size_s"] = float(ds.bin_size_s)


# ---------------------------------------------------------------------------- continuous
RATE_KEYS = ("rate_hz", "fs", "sampling_rate")


def _recording_from_mapping(path: Path, get, keys: set[str], attrs: dict[str, Any]):
    """``data`` ``(time, channels)`` or ``spike_times`` + ``spike_times_index`` as a Recording."""
    from mmgpvae_core.loaders.recording import Recording

    names = _strings(get("channel_names")) if "channel_names" in keys else []
    checksum = file_checksum(path)
    if "spike_times" in keys:
        times = np.asarray(get("spike_times"))
        problem = real_dtype_problem(times.dtype)
        if problem:
            raise DataError(path, "spike_times", f"{problem} (seconds)")
        times = times.astype(np.float64, copy=False).ravel()
        if "spike_times_index" not in keys:
            raise DataError(
                path,
                "spike_times_index",
                "missing; expected the end index of each unit's "
                "spikes in 'spike_times' (the NWB ragged layout)",
            )
        ends = np.asarray(get("spike_times_index"), dtype=np.int64).ravel()
        if ends.size == 0 or (np.diff(ends) < 0).any() or ends[-1] != times.size:
            raise DataError(
                path,
                "spike_times_index",
                f"ends {ends[:5]}...; expected increasing end "
                f"indices, the last equal to the {times.size} spike times",
            )
        starts = np.concatenate([[0], ends[:-1]])
        spikes = [np.sort(times[a:b]) for a, b in zip(starts, ends)]
        return Recording(
            values=None,
            channel_names=names or [f"unit{i}" for i in range(len(spikes))],
            source=str(path),
            field="spike_times",
            kind="generic",
            spike_times=spikes,
            checksum=checksum,
        )
    data = np.asarray(get("data"))
    if data.ndim == 1:
        data = data[:, None]
    problem = real_dtype_problem(data.dtype)
    if problem:
        raise DataError(path, "data", problem)
    rate, rate_from = None, None
    for k in RATE_KEYS + ("bin_size_s",):
        v = attrs.get(k)
        if v is None and k in keys:
            v = get(k)
        if v is not None:
            v = _positive(path, k, v, "a positive number")
            rate, rate_from = (1.0 / v if k == "bin_size_s" else v), k
            break
    start = float(np.asarray(get("start_time")).ravel()[0]) if "start_time" in keys else 0.0
    return Recording(
        values=data if data.dtype.kind == "f" else data.astype(np.float64),
        channel_names=names or [f"ch{i}" for i in range(data.shape[1])],
        source=str(path),
        field="data",
        kind="generic",
        rate_hz=rate,
        start_s=start,
        rate_from=rate_from,
        checksum=checksum,
    )


def read_generic(path: str | Path, **options: Any):
    """A generic file as a Dataset (3-D ``data``) or a Recording (2-D ``data``, spike times)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        with _open_h5(path) as f:
            keys = _h5_arrays(f)
            if "spike_times" in keys or ("data" in keys and f["data"].ndim in (1, 2)):
                attrs = {k: f.attrs[k] for k in f.attrs}
                return _recording_from_mapping(path, lambda k: read_h5(path, f[k]), keys, attrs)
        return load_generic(path, **options)
    if suffix == ".npz":
        with open_npz(path) as z:
            if "spike_times" in z.files or (
                "data" in z.files and len(npz_header(path, z, "data")[0]) in (1, 2)
            ):
                get = lambda k: npz_array(path, z, k)
                return _recording_from_mapping(path, get, set(z.files), {})
        return load_generic(path, **options)
    if suffix == ".npy":
        arr = load_npy(path, "data", mmap=True)
        if arr.ndim in (1, 2):
            return _recording_from_mapping(path, lambda k: arr, {"data"}, {})
    return load_generic(path, **options)
