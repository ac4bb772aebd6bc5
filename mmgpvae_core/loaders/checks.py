"""Checks the readers share, run before an array is read: the file is there, readable and not
empty; an NPY / NPZ member / HDF5 dataset holds numbers (not pickled objects), is as long as its
header says, and fits in the memory that is free. Each failure is a DataError naming the file and
the field, with what was expected.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, real_dtype_problem

__all__ = [
    "DataWarning",
    "available_memory",
    "check_file",
    "check_fits_in_memory",
    "format_bytes",
    "load_npy",
    "npz_array",
    "npz_header",
    "open_npz",
    "read_h5",
    "real_dtype_problem",
    "data_warnings",
    "warn_data",
]


class DataWarning(UserWarning):
    """Something a reader changed, dropped or overrode, said in one line that names the file and
    the field (``mmgpvae`` prints it as ``mmgpvae: warning: …``); the data were still read."""


def warn_data(source: str | Path, field: str, message: str) -> None:
    """Issue a :class:`DataWarning` worded like a DataError: ``<file>: field '<f>': <message>``."""
    warnings.warn(DataWarning(f"{source}: field '{field}': {message}"), stacklevel=3)


@contextlib.contextmanager
def data_warnings(on_warning: Callable[[str], None]) -> Iterator[None]:
    """Hand every :class:`DataWarning` raised inside to ``on_warning(message)`` (once each,
    not filtered as repeats); other warnings are shown as before. ``warnings`` state is
    process-wide: other threads' warnings pass through here meanwhile, unchanged."""
    with warnings.catch_warnings():
        shown = warnings.showwarning
        warnings.simplefilter("always", DataWarning)

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, DataWarning):
                on_warning(str(message))
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(n: float) -> str:
    """``1.6e14`` → ``'146 TiB'``; ``3.4e9`` → ``'3.2 GiB'``."""
    i = 0
    while n >= 1024 and i < len(_UNITS) - 1:
        n /= 1024.0
        i += 1
    return f"{n:.0f} {_UNITS[i]}" if n >= 100 or i == 0 else f"{n:.1f} {_UNITS[i]}"


def available_memory() -> int | None:
    """Bytes of memory free for a new array (None if this system does not say)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # macOS and other Unixes: the physical memory (an upper bound)
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(
    source: str | Path, field: str, shape: tuple[int, ...], dtype: Any
) -> None:
    """Refuse to read an array of ``shape`` and ``dtype`` that needs more than the free memory."""
    need = math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize
    free = available_memory()
    if free is not None and need > free:
        raise DataError(
            source,
            field,
            f"shape {tuple(shape)} of {np.dtype(dtype)} needs {format_bytes(need)} of memory, "
            f"more than the {format_bytes(free)} available; expected an array that fits in "
            "memory (split the file, or keep fewer trials, channels or samples)",
        )


def check_file(path: Path) -> None:
    """A file (not a folder) that exists: readable and not empty."""
    try:
        with open(path, "rb") as f:
            first = f.read(1)
    except PermissionError:
        raise DataError(path, "-", "permission denied; expected a file you can read") from None
    except OSError as exc:
        raise DataError(path, "-", f"cannot be opened ({exc.strerror or exc})") from None
    if not first:
        raise DataError(
            path, "-", f"empty file (0 bytes); expected a {path.suffix or 'data'} file with data"
        )


# ---------------------------------------------------------------------------- NPY / NPZ
_PICKLED = (
    "holds Python objects (a pickled array, dtype object), which are not loaded (unpickling "
    "can run code); expected numbers saved with numpy.save / numpy.savez"
)


def _npy_header(f, source: str | Path, field: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = reader(f)
    except (ValueError, EOFError, OSError) as exc:
        raise DataError(
            source,
            field,
            f"not NPY data ({exc}); the file may be truncated or of another type; expected an "
            "array saved with numpy.save",
        ) from None
    return tuple(shape), dtype


def _check_npy(
    source: str | Path, field: str, shape: tuple[int, ...], dtype: np.dtype, have: int | None
) -> None:
    if dtype.hasobject:
        raise DataError(source, field, _PICKLED)
    need = math.prod(shape) * dtype.itemsize
    if have is not None and have < need:
        raise DataError(
            source,
            field,
            f"truncated: the header declares shape {shape} of {dtype} ({format_bytes(need)}) "
            f"but the file holds {format_bytes(have)} of data; expected the complete file",
        )


def load_npy(path: str | Path, field: str = "data", mmap: bool = True) -> np.ndarray:
    """An NPY file's array (memory-mapped unless ``mmap`` is False), checked before reading."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f, path, field)
            have = os.fstat(f.fileno()).st_size - f.tell()
    except OSError as exc:
        raise DataError(path, field, f"not a readable NPY file ({exc})") from None
    _check_npy(path, field, shape, dtype, have)
    if not mmap:
        check_fits_in_memory(path, field, shape, dtype)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, field, f"not a readable NPY file ({exc})") from None


def open_npz(path: str | Path):
    """An NPZ archive opened without pickles, or a DataError naming it."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise DataError(
            path,
            "-",
            "not an NPZ file (not a zip archive: truncated or of another type); expected "
            "arrays saved with numpy.savez",
        )
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path, "-", f"not a readable NPZ file ({exc})") from None


def npz_header(path: str | Path, z, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of member ``key`` of an open NPZ archive, read from its header only;
    refuses pickled and truncated members."""
    name = key if key in z.zip.namelist() else f"{key}.npy"
    try:
        have = z.zip.getinfo(name).file_size
        with z.zip.open(name) as f:
            shape, dtype = _npy_header(f, path, key)
            have -= f.tell()
    except (KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(path, key, f"not a readable NPZ member ({exc})") from None
    _check_npy(path, key, shape, dtype, have)
    return shape, dtype


def npz_array(path: str | Path, z, key: str) -> np.ndarray:
    """Member ``key`` of an open NPZ archive, checked (objects, truncation, size) first."""
    shape, dtype = npz_header(path, z, key)
    check_fits_in_memory(path, key, shape, dtype)
    try:
        return np.asarray(z[key])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path, key, f"not a readable NPZ member ({exc})") from None


# ---------------------------------------------------------------------------- HDF5
def read_h5(path: str | Path, dset, field: str | None = None) -> np.ndarray:
    """All of an h5py Dataset, after checking it fits in memory; read errors name it."""
    field = field or dset.name.lstrip("/")
    if dset.shape is None:  # an empty (null) dataspace
        raise DataError(path, field, "an empty dataset (no dataspace); expected an array")
    check_fits_in_memory(path, field, dset.shape, dset.dtype)
    try:
        return np.asarray(dset[()])
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(
            path,
            field,
            f"could not be read ({exc}); the file may be truncated or damaged",
        ) from None
