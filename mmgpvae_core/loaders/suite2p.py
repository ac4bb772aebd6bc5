"""suite2p plane folders: ``F.npy``, ``Fneu.npy``, ``spks.npy`` ``(ROIs, frames)``, ``iscell.npy``
``(ROIs, 2)`` (label, probability) and ``ops.npy`` / ``settings.npy`` (pickled dict with ``fs``).

Signals: ``"neuropil"`` F − c·Fneu (c = 0.7), ``"dff"`` (F − c·Fneu − F0) / F0 with F0 a per-ROI
percentile of the whole trace (ROIs whose F0 is not positive are dropped, with one warning), or
``"spks"`` (deconvolved). The arrays are memory-mapped and never read whole: the Recording's
``values`` is a :class:`Traces`, a ``(frames, ROIs)`` float32 array-like that computes the chosen
signal from the mapped files for the frames asked for, so binning an hour of 5,000 ROIs (2 GB per
file) holds only the binned result and one chunk of frames. The ΔF/F baselines are computed
first, in chunks of ROIs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgpvae_core.data import DataError, real_dtype_problem
from mmgpvae_core.loaders.checks import check_file, load_npy, warn_data
from mmgpvae_core.loaders.recording import Recording

SIGNALS = ("neuropil", "dff", "spks")
_REQUIRED = ("F.npy", "Fneu.npy", "spks.npy", "iscell.npy")
_ROI_CHUNK = 128


class Traces:
    """``(frames, ROIs)`` float32 signal of a suite2p plane, computed on access.

    ``rows``: the ROIs kept (indices into the files' first axis). ``F``, ``Fneu`` or ``spks``:
    memory-mapped ``(ROIs, frames)`` arrays. ``values[i0:i1]`` reads frames i0…i1 of the kept
    ROIs and returns them as a float32 ``(frames, ROIs)`` array: F − c·Fneu (``"neuropil"``),
    that minus F0 over F0 (``"dff"``, ``base`` (ROIs,)), or spks — the arithmetic of reading the
    whole arrays, chunk by chunk. Any other index reads the frames it needs the same way.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, arrays, rows, signal, coefficient, base=None) -> None:
        self.arrays, self.rows, self.signal = arrays, np.asarray(rows), signal
        self.coefficient, self.base = coefficient, base
        self.n_frames = next(iter(arrays.values())).shape[1]
        self._all = self.rows.size == next(iter(arrays.values())).shape[0] and (
            np.array_equal(self.rows, np.arange(self.rows.size))
        )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_frames, int(self.rows.size))

    @property
    def size(self) -> int:
        return self.n_frames * int(self.rows.size)

    @property
    def nbytes(self) -> int:
        return self.size * 4

    def __len__(self) -> int:
        return self.n_frames

    def _take(self, name: str, rows: np.ndarray | slice, cols: slice) -> np.ndarray:
        """A float32 copy (the mapped files are read-only) of ``name[rows, cols]``."""
        return np.array(self.arrays[name][rows, cols], dtype=np.float32)

    def frames(self, i0: int, i1: int, rows=None) -> np.ndarray:
        """(i1 − i0, ROIs) float32: frames i0…i1 of the kept ROIs (or of ``rows`` of them)."""
        sel = np.arange(self.rows.size) if rows is None else np.asarray(rows)
        file_rows = slice(None) if rows is None and self._all else self.rows[sel]
        cols = slice(int(i0), int(i1))
        if self.signal == "spks":
            out = self._take("spks", file_rows, cols)
        else:
            out = self._take("F", file_rows, cols)
            out -= self.coefficient * self._take("Fneu", file_rows, cols)
            if self.base is not None:
                b = self.base[sel][:, None]
                out -= b
                out /= b
        return out.T

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) > 2:
            raise IndexError(f"too many indices for a 2-D array: {key}")
        key = key if isinstance(key, tuple) else (key,)
        rows, cols = key if len(key) == 2 else (key[0], slice(None))

        def everything(k) -> bool:
            return isinstance(k, slice) and k == slice(None)

        if everything(rows) and not everything(cols):
            keep = np.arange(self.rows.size)[cols]  # a channel selection stays lazy
            if keep.ndim == 1:
                base = None if self.base is None else self.base[keep]
                return Traces(self.arrays, self.rows[keep], self.signal, self.coefficient, base)
        if isinstance(rows, slice) and rows.step in (None, 1):
            i0, i1, _ = rows.indices(self.n_frames)
            return self.frames(i0, max(i0, i1))[:, cols]
        if isinstance(rows, (int, np.integer)):
            i = int(rows) + (self.n_frames if rows < 0 else 0)
            return self.frames(i, i + 1)[0][cols]
        return np.asarray(self)[rows, cols]

    def __array__(self, dtype=None, copy=None):
        out = self.frames(0, self.n_frames)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Traces({self.signal}, shape={self.shape})"


def find_plane(path: str | Path) -> Path | None:
    """The plane folder under ``path`` (itself, ``plane0`` or ``suite2p/plane0``), or None."""
    path = Path(path)
    for cand in (path, path / "plane0", path / "suite2p" / "plane0"):
        if (cand / "F.npy").is_file() or (cand / "spks.npy").is_file():
            return cand
    return None


def _not_suite2p(path: Path) -> DataError:
    found = sorted(p.name for p in path.iterdir())[:8] if path.is_dir() else []
    return DataError(
        path,
        "F.npy",
        f"not a suite2p output folder (found {found or 'nothing'}); expected a plane folder "
        "(suite2p/plane0) with F.npy, Fneu.npy, spks.npy, iscell.npy and ops.npy",
    )


def _load_npy(plane: Path, name: str) -> np.ndarray:
    """A memory-mapped ``(ROIs, …)`` array, checked (empty, truncated, pickled) first."""
    p = plane / name
    check_file(p)
    arr = load_npy(p, name.removesuffix(".npy"), mmap=True)
    problem = real_dtype_problem(arr.dtype)
    if problem:
        raise DataError(p, name.removesuffix(".npy"), problem)
    return arr


def _rate(plane: Path) -> tuple[float | None, str | None]:
    for name in ("ops.npy", "settings.npy"):
        p = plane / name
        if not p.is_file():
            continue
        try:
            ops = np.load(p, allow_pickle=True).item()
        except Exception as exc:  # noqa: BLE001 - unpickling a damaged file raises anything
            raise DataError(
                p,
                "fs",
                f"not a readable pickled dict ({type(exc).__name__}: {exc}); expected "
                "suite2p's ops dict with the frame rate 'fs'",
            ) from None
        if not isinstance(ops, dict):
            raise DataError(p, "fs", f"found a {type(ops).__name__}; expected a dict")
        fs = ops.get("fs")
        if fs is None and isinstance(ops.get("fs_Hz"), (int, float)):
            fs = ops["fs_Hz"]
        if fs is None:
            return None, None
        if not float(fs) > 0:
            raise DataError(p, "fs", f"{fs}; expected a positive frame rate in Hz")
        return float(fs), f"{name.removesuffix('.npy')}.fs"
    return None, None


def load_suite2p(
    path: str | Path,
    *,
    signal: str = "neuropil",
    neuropil_coefficient: float = 0.7,
    use_iscell: bool = True,
    iscell_threshold: float | None = None,
    dff_percentile: float = 8.0,
    **_: object,
) -> Recording:
    """A suite2p plane folder as a Recording ``(frames, ROIs)``.

    use_iscell keeps only ROIs labelled cells (iscell[:, 0] == 1); iscell_threshold, if given,
    keeps ROIs whose cell probability (iscell[:, 1]) is at least that value instead.
    """
    path = Path(path)
    plane = find_plane(path)
    if plane is None:
        raise _not_suite2p(path)
    if signal not in SIGNALS:
        raise DataError(plane, "signal", f"'{signal}'; expected one of {SIGNALS}")
    needed = ("spks.npy", "iscell.npy") if signal == "spks" else _REQUIRED
    missing = [n for n in needed if not (plane / n).is_file()]
    if missing:
        raise DataError(
            plane,
            missing[0].removesuffix(".npy"),
            f"{missing} missing from the suite2p folder; expected {list(needed)}",
        )
    iscell, arrays, (n_roi, n_frames) = _read_plane(plane, signal)
    idx, rule = _select_rois(plane, iscell, n_roi, use_iscell, iscell_threshold)
    prep: dict = {
        "signal": signal,
        "roi_selection": rule,
        "rois_kept": int(idx.size),
        "rois_total": int(n_roi),
    }
    if signal != "spks":
        prep["neuropil_coefficient"] = neuropil_coefficient
    values = Traces(arrays, idx, signal, neuropil_coefficient)
    if signal == "dff":
        values, idx = _dff(plane, arrays, idx, n_frames, neuropil_coefficient, dff_percentile,
                           prep)
    rate, rate_from = _rate(plane)
    fld = {"spks": "spks", "neuropil": "F", "dff": "F"}[signal]
    return Recording(
        values=values,
        channel_names=[f"roi{i}" for i in idx],
        source=str(plane),
        field=fld,
        kind="suite2p",
        signal="calcium",
        rate_hz=rate,
        rate_from=rate_from,
        checksum=_folder_checksum(plane, tuple(f"{n}.npy" for n in arrays) + ("iscell.npy",)),
        preprocessing=prep,
    )


def _read_plane(plane: Path, signal: str) -> tuple[np.ndarray, dict, tuple[int, int]]:
    """iscell, the traces ``signal`` needs (spks, or F and Fneu; memory-mapped), and their
    (ROIs, frames), checked against each other."""
    iscell = np.asarray(_load_npy(plane, "iscell.npy"))
    arrays = {
        n: _load_npy(plane, f"{n}.npy") for n in (("spks",) if signal == "spks" else ("F", "Fneu"))
    }
    n_roi, n_frames = (
        next(iter(arrays.values())).shape if next(iter(arrays.values())).ndim == 2 else (0, 0)
    )
    for name, arr in arrays.items():
        if arr.ndim != 2 or arr.shape != (n_roi, n_frames) or n_roi == 0:
            raise DataError(
                plane / f"{name}.npy",
                name,
                f"shape {arr.shape}; expected (ROIs, frames) = ({n_roi}, {n_frames}), non-empty",
            )
    if iscell.ndim != 2 or iscell.shape[0] != n_roi or iscell.shape[1] < 1:
        raise DataError(
            plane / "iscell.npy", "iscell", f"shape {iscell.shape}; expected ({n_roi}, 2)"
        )
    return iscell, arrays, (n_roi, n_frames)


def _select_rois(plane: Path, iscell: np.ndarray, n_roi: int, use_iscell: bool,
                 iscell_threshold: float | None) -> tuple[np.ndarray, str]:
    """The indices of the ROIs kept, and the rule that kept them."""
    if iscell_threshold is not None:
        if iscell.shape[1] < 2:
            raise DataError(plane / "iscell.npy", "iscell", "no probability column (column 1)")
        keep = iscell[:, 1] >= iscell_threshold
        rule = f"iscell probability >= {iscell_threshold:g}"
    elif use_iscell:
        keep = iscell[:, 0] > 0.5
        rule = "iscell label == 1"
    else:
        keep = np.ones(n_roi, dtype=bool)
        rule = "all ROIs"
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise DataError(
            plane / "iscell.npy",
            "iscell",
            f"no ROI passes '{rule}' (of {n_roi}); expected at least one",
        )
    return idx, rule


def _dff(plane: Path, arrays: dict, idx: np.ndarray, n_frames: int,
         neuropil_coefficient: float, dff_percentile: float,
         prep: dict) -> tuple[Traces, np.ndarray]:
    """ΔF/F traces of the ROIs ``idx`` whose baseline F0 is positive (the others dropped, said,
    and listed in ``prep``), and the ROIs kept."""
    values = Traces(arrays, idx, "dff", neuropil_coefficient)  # F - c·Fneu, for F0
    base = np.empty(idx.size, dtype=np.float32)
    for j in range(0, idx.size, _ROI_CHUNK):  # whole traces of a few ROIs at a time
        rows = np.arange(j, min(j + _ROI_CHUNK, idx.size))
        base[rows] = np.nanpercentile(
            values.frames(0, n_frames, rows), dff_percentile, axis=0
        )
    bad = np.flatnonzero(~(base > 0))
    if bad.size == idx.size:
        raise DataError(
            plane / "F.npy",
            "F",
            f"baseline F0 ({dff_percentile:g}th percentile of F - {neuropil_coefficient:g}"
            f"*Fneu) is not positive for any of the {idx.size} ROI(s) (e.g. roi{idx[0]}: "
            f"{base[0]:g}); ΔF/F needs a positive baseline; use signal 'neuropil' or 'spks'",
        )
    if bad.size:
        # One cell with a baseline at or under zero (real suite2p output has such cells)
        # would divide by ~0: drop it, say so, and keep the plane.
        shown = ", ".join(f"roi{idx[b]} ({base[b]:.3g})" for b in bad[:5])
        more = f" and {bad.size - 5} more" if bad.size > 5 else ""
        warn_data(
            plane / "F.npy",
            "F",
            f"{bad.size} of {idx.size} ROI(s) dropped from ΔF/F: baseline F0 "
            f"({dff_percentile:g}th percentile of F - {neuropil_coefficient:g}*Fneu) is not "
            f"positive for {shown}{more}",
        )
        prep["dff_dropped_rois"] = [int(idx[b]) for b in bad]
        good = base > 0
        idx, base = idx[good], base[good]
        prep["rois_kept"] = int(idx.size)
    prep["dff_baseline_percentile"] = dff_percentile
    return Traces(arrays, idx, "dff", neuropil_coefficient, base), idx


def _folder_checksum(plane: Path, names: tuple[str, ...]) -> str:
    """A cheap fingerprint: names, sizes and modification times (hashing GBs is too slow)."""
    import hashlib

    h = hashlib.sha256()
    for n in names:
        st = (plane / n).stat()
        h.update(f"{n}:{st.st_size}:{st.st_mtime_ns};".encode())
    return "stat:" + h.hexdigest()
