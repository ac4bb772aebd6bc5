"""suite2p plane folders: ``F.npy``, ``Fneu.npy``, ``spks.npy`` ``(ROIs, frames)``, ``iscell.npy``
``(ROIs, 2)`` (label, probability) and ``ops.npy`` / ``settings.npy`` (pickled dict with ``fs``).

Signals: ``"neuropil"`` F − c·Fneu (c = 0.7), ``"dff"`` (F − c·Fneu − F0) / F0 with F0 a per-ROI
percentile of the whole trace (ROIs whose F0 is not positive are dropped, with one warning), or
``"spks"`` (deconvolved). The arrays are memory-mapped and the chosen signal is computed in ROI
chunks into one float32 ``(frames, ROIs)`` array.
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

    values_t = np.empty((idx.size, n_frames), dtype=np.float32)  # (ROIs, frames); returned .T
    for j in range(0, idx.size, _ROI_CHUNK):
        rows = idx[j : j + _ROI_CHUNK]
        if signal == "spks":
            values_t[j : j + len(rows)] = arrays["spks"][rows]
        else:
            values_t[j : j + len(rows)] = arrays["F"][rows]
            values_t[j : j + len(rows)] -= neuropil_coefficient * arrays["Fneu"][rows].astype(
                np.float32
            )
    prep: dict = {
        "signal": signal,
        "roi_selection": rule,
        "rois_kept": int(idx.size),
        "rois_total": int(n_roi),
    }
    if signal != "spks":
        prep["neuropil_coefficient"] = neuropil_coefficient
    if signal == "dff":
        base = np.empty(idx.size, dtype=np.float32)
        for j in range(0, idx.size, _ROI_CHUNK):
            base[j : j + _ROI_CHUNK] = np.nanpercentile(
                values_t[j : j + _ROI_CHUNK], dff_percentile, axis=1
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
            idx, base, values_t = idx[good], base[good], values_t[good]
            prep["rois_kept"] = int(idx.size)
        values_t -= base[:, None]
        values_t /= base[:, None]
        prep["dff_baseline_percentile"] = dff_percentile
    rate, rate_from = _rate(plane)
    fld = {"spks": "spks", "neuropil": "F", "dff": "F"}[signal]
    return Recording(
        values=values_t.T,
        channel_names=[f"roi{i}" for i in idx],
        source=str(plane),
        field=fld,
        kind="suite2p",
        rate_hz=rate,
        rate_from=rate_from,
        checksum=_folder_checksum(plane, tuple(f"{n}.npy" for n in arrays) + ("iscell.npy",)),
        preprocessing=prep,
    )


def _folder_checksum(plane: Path, names: tuple[str, ...]) -> str:
    """A cheap fingerprint: names, sizes and modification times (hashing GBs is too slow)."""
    import hashlib

    h = hashlib.sha256()
    for n in names:
        st = (plane / n).stat()
        h.update(f"{n}:{st.st_size}:{st.st_mtime_ns};".encode())
    return "stat:" + h.hexdigest()
