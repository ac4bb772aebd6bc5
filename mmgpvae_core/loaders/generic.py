"""Generic trial tensors: HDF5 / NPZ with ``data`` (+ ``conditions``, ``channel_names``,
``bin_size_s``), a bare NPY, or the lfads-torch ``train_encod_data``/``valid_encod_data`` layout.

``field`` names other arrays of an HDF5 / NPZ file to read instead of ``data`` (``"spikes"``,
``"pos,vel"`` joined as channels, ``"group/x"`` in HDF5; see :mod:`~mmgpvae_core.loaders.fields`):
3-D arrays are trial tensors, 1-/2-D arrays ``(time, channels)`` recordings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, Dataset, file_checksum, real_dtype_problem
from mmgpvae_core.loaders import fields
from mmgpvae_core.loaders.checks import load_npy, npz_array, npz_header, open_npz, read_h5

HDF5_SUFFIXES = (".h5", ".hdf5", ".nwb")


def _strings(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


@dataclass
class _Contents:
    """An open HDF5 / NPZ / NPY file as the readers below see it: ``get(key)`` reads an array,
    ``keys`` names the arrays there are, ``attrs`` holds the file's attributes (HDF5 only)."""

    path: Path
    get: Callable[[str], Any]
    keys: set[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    def channel_names(self) -> list[str]:
        """The file's ``channel_names`` as strings; [] where it has none."""
        return _strings(self.get("channel_names")) if "channel_names" in self.keys else []

    def setting(self, key: str, what: str) -> float | None:
        """The file's ``key`` (an attribute, else an array of that name) as a positive float
        (else a DataError saying it is not ``what``), or None where the file has none."""
        value = self.attrs.get(key)
        if value is None and key in self.keys:
            value = self.get(key)
        return None if value is None else _positive(self.path, key, value, what)


def _from_mapping(src: _Contents, shapes=None, role: str | None = None) -> Dataset:
    """``data`` (or the lfads-torch layout) as a Dataset; ``shapes()``: the file's arrays and
    their shapes, listed when there is no ``data``."""
    path, get, keys = src.path, src.get, src.keys
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
        found = shapes() if shapes else {k: () for k in sorted(keys)}
        raise fields.choose_error(
            path, found, role, "expected an array 'data' of shape (trials, time, channels)"
        )
    data = np.asarray(data)
    if data.ndim != 3:
        raise DataError(
            path, fld, f"expected a 3-D array (trials, time, channels), found shape {data.shape}"
        )
    return _tensor(src, data, fld)


def _tensor(src: _Contents, data: np.ndarray, fld: str, names: list[str] | None = None) -> Dataset:
    """A trial tensor with the file's ``bin_size_s``, ``conditions`` and ``channel_names``."""
    bin_size = src.setting("bin_size_s", "a positive number of seconds")
    conditions = src.get("conditions") if "conditions" in src.keys else None
    return Dataset(
        data=data,
        conditions=None if conditions is None else np.asarray(conditions),
        channel_names=src.channel_names() if names is None else names,
        bin_size_s=bin_size,
        source=str(src.path),
        field=fld,
        checksum=file_checksum(src.path),
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


def h5_shapes(f) -> dict[str, tuple]:
    """Every array (dataset) of an open HDF5 file, path → shape, groups walked."""
    import h5py

    out: dict[str, tuple] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.shape is not None:
            out[name] = tuple(obj.shape)

    f.visititems(visit)
    return out


def npz_shapes(path: Path, z) -> dict[str, tuple]:
    """Every member of an open NPZ archive, name → shape, from the headers (unreadable: ())."""
    out: dict[str, tuple] = {}
    for k in z.files:
        try:
            out[k] = tuple(npz_header(path, z, k)[0])
        except DataError:
            out[k] = ()
    return out


def load_generic(path: str | Path, *, role: str | None = None, **_: Any) -> Dataset:
    """Read a generic trial tensor file. Raises DataError naming the file and field."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "-", "file not found")
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        with _open_h5(path) as f:
            keys = _h5_arrays(f)
            attrs = {k: f.attrs[k] for k in f.attrs}
            src = _Contents(path, lambda k: read_h5(path, f[k]), keys, attrs)
            return _from_mapping(src, lambda: h5_shapes(f), role)
    if suffix == ".npz":
        with open_npz(path) as z:
            src = _Contents(path, lambda k: npz_array(path, z, k), set(z.files))
            return _from_mapping(src, lambda: npz_shapes(path, z), role)
    if suffix == ".npy":
        arr = load_npy(path, "data", mmap=False)
        return _from_mapping(_Contents(path, lambda k: arr, {"data"}))
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


def _recording_from_mapping(src: _Contents):
    """``data`` ``(time, channels)`` or ``spike_times`` + ``spike_times_index`` as a Recording."""
    if "spike_times" in src.keys:
        return _spike_recording(src)
    names = src.channel_names()
    return _values_recording(src, np.asarray(src.get("data")), "data", names)


def _spike_recording(src: _Contents):
    """The NWB ragged layout: ``spike_times`` and the end index of each unit's spikes."""
    from mmgpvae_core.loaders.recording import Recording

    path, get, keys = src.path, src.get, src.keys
    names = src.channel_names()
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
        checksum=file_checksum(path),
    )


def _values_recording(src: _Contents, data: np.ndarray, fld: str, names: list[str]):
    """Samples ``(time, channels)`` (a vector: one channel) with the file's rate and start."""
    from mmgpvae_core.loaders.recording import Recording

    path, get, keys = src.path, src.get, src.keys
    if data.ndim == 1:
        data = data[:, None]
    problem = real_dtype_problem(data.dtype)
    if problem:
        raise DataError(path, fld, problem)
    rate, rate_from = None, None
    for k in RATE_KEYS + ("bin_size_s",):
        v = src.setting(k, "a positive number")
        if v is not None:
            rate, rate_from = (1.0 / v if k == "bin_size_s" else v), k
            break
    if rate is None:
        times = {k: np.asarray(get(k)) for k in fields.TIME_VARS if k in keys}
        rate, rate_from = fields.rate_from_times(times, len(data))
    start = float(np.asarray(get("start_time")).ravel()[0]) if "start_time" in keys else 0.0
    return Recording(
        values=data if data.dtype.kind == "f" else data.astype(np.float64),
        channel_names=names or [f"ch{i}" for i in range(data.shape[1])],
        source=str(path),
        field=fld,
        kind="generic",
        rate_hz=rate,
        start_s=start,
        rate_from=rate_from,
        checksum=file_checksum(path),
    )


def _named_arrays(
    src: _Contents, shapes: dict[str, tuple], names: list[str], role: str | None
) -> list[tuple[str, np.ndarray]]:
    """The arrays ``names`` call for, as ``(time, channels)`` or ``(trials, time, channels)``."""
    path, get = src.path, src.get
    out = []
    for name in names:
        key, transposed = fields.resolve(path, name, shapes, role)
        arr = np.asarray(get(key))
        problem = real_dtype_problem(arr.dtype)
        if problem:
            raise DataError(path, key, problem)
        if transposed:
            if arr.ndim != 2:
                raise DataError(
                    path, name, f"shape {arr.shape}; {fields.TRANSPOSE_SUFFIX} is for a matrix"
                )
            arr = arr.T
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim not in (2, 3):
            raise fields.samples_shape_error(path, key, arr)
        out.append((key, arr))
    fields.check_same_ndim(path, names, out)
    return out


def _read_fields(src: _Contents, shapes: dict[str, tuple], names, role):
    """Named arrays of an HDF5 / NPZ file joined as channels: a Dataset (3-D) or a Recording."""
    arrays = _named_arrays(src, shapes, names, role)
    data = fields.join_channels(src.path, arrays)
    in_file = src.channel_names()
    ch = in_file if len(in_file) == data.shape[-1] else fields.channel_names(arrays)
    label = ",".join(names)
    if data.ndim == 3:
        return _tensor(src, data, label, ch)
    return _values_recording(src, data, label, ch)


def read_generic(
    path: str | Path, *, field: str | list[str] | None = None, role: str | None = None, **options
):
    """A generic file as a Dataset (3-D ``data``) or a Recording (2-D ``data``, spike times);
    ``field`` names the arrays to read instead (HDF5, NPZ)."""
    path = Path(path)
    suffix = path.suffix.lower()
    names = fields.field_names(path, field)
    if names and suffix in HDF5_SUFFIXES:
        with _open_h5(path) as f:
            shapes = h5_shapes(f)
            attrs = {k: f.attrs[k] for k in f.attrs}
            src = _Contents(path, lambda k: read_h5(path, f[k]), set(shapes), attrs)
            return _read_fields(src, shapes, names, role)
    if names and suffix == ".npz":
        with open_npz(path) as z:
            shapes = npz_shapes(path, z)
            src = _Contents(path, lambda k: npz_array(path, z, k), set(shapes))
            return _read_fields(src, shapes, names, role)
    if names:
        raise DataError(
            path, ",".join(names), "an .npy file holds one array; expected no array name"
        )
    if suffix in HDF5_SUFFIXES:
        with _open_h5(path) as f:
            keys = _h5_arrays(f)
            if "spike_times" in keys or ("data" in keys and f["data"].ndim in (1, 2)):
                attrs = {k: f.attrs[k] for k in f.attrs}
                src = _Contents(path, lambda k: read_h5(path, f[k]), keys, attrs)
                return _recording_from_mapping(src)
        return load_generic(path, role=role, **options)
    if suffix == ".npz":
        with open_npz(path) as z:
            if "spike_times" in z.files or (
                "data" in z.files and len(npz_header(path, z, "data")[0]) in (1, 2)
            ):
                get = lambda k: npz_array(path, z, k)
                return _recording_from_mapping(_Contents(path, get, set(z.files)))
        return load_generic(path, role=role, **options)
    if suffix == ".npy":
        arr = load_npy(path, "data", mmap=True)
        if arr.ndim in (1, 2):
            return _recording_from_mapping(_Contents(path, lambda k: arr, {"data"}))
    return load_generic(path, role=role, **options)
