"""NWB files via pynwb.

Series read (name one with ``series``, or the first found for the role):

- neural: ``RoiResponseSeries`` (``processing/ophys/Fluorescence`` or ``DfOverF``), ``data``
  ``(times, ROIs)``; then ``/units`` spike times (binned to counts later);
- behavior: ndx-pose ``PoseEstimation`` (points with confidence under ``likelihood_threshold``
  become missing), ``SpatialSeries`` (``processing/behavior``), then any other ``TimeSeries``.

Times are seconds from the session start. ``/intervals/trials`` (``start_time``, ``stop_time``,
optional ``condition``) is kept as the recording's trials table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, file_checksum
from mmgpvae_core.loaders.checks import read_h5
from mmgpvae_core.loaders.recording import Recording, TrialTable, pose_names
from mmgpvae_core.loaders.tabular import timestamps_recording
from mmgpvae_core.loaders.trials import validate_trials

_PREFERENCE = {
    "neural": ("RoiResponseSeries", "Units"),
    "behavior": ("PoseEstimation", "SpatialSeries", "TimeSeries"),
    None: ("RoiResponseSeries", "Units", "PoseEstimation", "SpatialSeries", "TimeSeries"),
}
_WHERE = {
    "neural": ("processing/ophys", "RoiResponseSeries (Fluorescence / DfOverF) or /units"),
    "behavior": ("processing/behavior", "PoseEstimation, SpatialSeries or TimeSeries"),
    None: ("-", "RoiResponseSeries, /units, PoseEstimation, SpatialSeries or TimeSeries"),
}
_SKIP_TS = {"PoseEstimationSeries", "ImageSeries", "TwoPhotonSeries", "OnePhotonSeries"}


def _catalog(nwb) -> list[tuple[str, str, Any]]:
    """(type, name, object) of every readable series in the file, in a stable order."""
    from pynwb import TimeSeries

    found = []
    for obj in nwb.objects.values():
        t = type(obj).__name__
        if t in ("RoiResponseSeries", "Units", "PoseEstimation", "SpatialSeries"):
            found.append((t, obj.name, obj))
        elif isinstance(obj, TimeSeries) and t not in _SKIP_TS:
            found.append(("TimeSeries", obj.name, obj))
    return sorted(found, key=lambda x: (x[0], x[1]))


def _timing(rec: Recording, ts, name: str) -> None:
    if ts.timestamps is not None:
        timestamps_recording(rec, np.asarray(ts.timestamps[:]), f"{name}.timestamps")
    else:
        rec.rate_hz = float(ts.rate)
        rec.start_s = float(ts.starting_time or 0.0)
        rec.rate_from = f"{name}.rate"


def _series(path: Path, kind: str, ts) -> Recording:
    import h5py

    if isinstance(ts.data, h5py.Dataset):
        data = read_h5(path, ts.data, ts.name)
    else:
        data = np.asarray(ts.data[:])
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0 or data.dtype.kind not in "fiub":
        raise DataError(
            path,
            ts.name,
            f"data of shape {data.shape}, dtype {data.dtype}; expected (times, channels) numbers",
        )
    data = data.astype(np.float64 if data.dtype.itemsize > 4 else np.float32, copy=False)
    conv = float(getattr(ts, "conversion", 1.0) or 1.0)
    off = float(getattr(ts, "offset", 0.0) or 0.0)
    if conv != 1.0 or off != 0.0:
        data = data * conv + off
    if kind == "RoiResponseSeries":
        try:
            ids = np.asarray(ts.rois.table.id[:])[np.asarray(ts.rois.data[:])]
        except Exception:  # noqa: BLE001 - fall back to positions
            ids = np.arange(data.shape[1])
        names = [f"roi{int(i)}" for i in ids]
    elif kind == "SpatialSeries":
        names = [f"{ts.name}_{c}" for c in "xyz"[: data.shape[1]]] if data.shape[1] <= 3 else []
    else:
        names = (
            [ts.name] if data.shape[1] == 1 else [f"{ts.name}_{i}" for i in range(data.shape[1])]
        )
    if len(names) != data.shape[1]:
        names = [f"{ts.name}_{i}" for i in range(data.shape[1])]
    rec = Recording(
        values=data, channel_names=names, source=str(path), field=ts.name, kind=f"nwb:{kind}"
    )
    _timing(rec, ts, ts.name)
    if rec.timestamps is not None and len(rec.timestamps) != data.shape[0]:
        raise DataError(
            path,
            f"{ts.name}.timestamps",
            f"{len(rec.timestamps)} timestamps for {data.shape[0]} samples",
        )
    return rec


def _units(path: Path, units) -> Recording:
    times = np.asarray(units.spike_times.data[:], dtype=np.float64)
    ends = np.asarray(units.spike_times_index.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    spikes = [np.sort(times[a:b]) for a, b in zip(starts, ends)]
    ids = np.asarray(units.id[:])
    return Recording(
        values=None,
        channel_names=[f"unit{int(i)}" for i in ids],
        source=str(path),
        field="units/spike_times",
        kind="nwb:Units",
        spike_times=spikes,
    )


def _pose(path: Path, pe, threshold: float) -> Recording:
    series = list(pe.pose_estimation_series.values())
    if not series:
        raise DataError(path, pe.name, "no PoseEstimationSeries; expected one per body part")
    first = series[0]
    cols, layout = [], []
    n_masked = 0
    for s in series:
        d = np.asarray(s.data[:], dtype=np.float64)
        if d.ndim != 2 or d.shape[0] != np.asarray(first.data).shape[0]:
            raise DataError(
                path,
                f"{pe.name}/{s.name}",
                f"data of shape {d.shape}; expected (frames, 2|3) like {first.name}",
            )
        if s.confidence is not None:
            conf = np.asarray(s.confidence[:], dtype=np.float64)
            low = conf < threshold
            n_masked += int(low.sum())
            d[low] = np.nan
        for j, c in enumerate("xyz"[: d.shape[1]]):
            cols.append(d[:, j])
            layout.append(("", s.name, c))
    rec = Recording(
        values=np.stack(cols, axis=1),
        channel_names=pose_names(layout),
        source=str(path),
        field=pe.name,
        kind="nwb:PoseEstimation",
        pose_layout=layout,
        preprocessing={"likelihood_threshold": threshold, "points_masked_low_likelihood": n_masked},
    )
    _timing(rec, first, f"{pe.name}/{first.name}")
    return rec


def _trials(path: Path, nwb) -> TrialTable | None:
    tr = nwb.trials
    if tr is None or len(tr) == 0:
        return None
    cond = None
    if "condition" in tr.colnames:
        cond = np.asarray(tr["condition"][:])
        if cond.dtype.kind in "OS":
            cond = np.array([c.decode() if isinstance(c, bytes) else str(c) for c in cond])
    table = TrialTable(
        np.asarray(tr["start_time"][:], dtype=np.float64),
        np.asarray(tr["stop_time"][:], dtype=np.float64),
        cond,
        f"{path}:intervals/trials",
        "intervals/trials",
    )
    validate_trials(table)
    return table


def list_series(path: str | Path) -> list[str]:
    """'type name' of every series the loader can read from an NWB file."""
    with _open(Path(path)) as (nwb, _):
        return [f"{t} {n}" for t, n, _ in _catalog(nwb)]


class _open:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        import h5py

        try:
            with h5py.File(self.path, "r"):
                pass
        except OSError as exc:
            raise DataError(
                self.path, "-", f"not a readable HDF5/NWB file ({exc}); expected an NWB file"
            ) from None
        try:
            import ndx_pose  # noqa: F401 - registers the pose extension if installed
        except ImportError:
            pass
        from pynwb import NWBHDF5IO

        self.io = None
        try:
            self.io = NWBHDF5IO(str(self.path), "r", load_namespaces=True)
            nwb = self.io.read()
        except Exception as exc:  # noqa: BLE001 - pynwb raises many types on bad files
            if self.io is not None:
                self.io.close()
            raise DataError(
                self.path, "-", f"not a readable NWB file ({type(exc).__name__}: {exc})"
            ) from None
        return nwb, self.io

    def __exit__(self, *exc) -> None:
        self.io.close()


def load_nwb(
    path: str | Path,
    *,
    series: str | None = None,
    role: str | None = None,
    likelihood_threshold: float = 0.6,
    **_: Any,
) -> Recording:
    """One series of an NWB file as a Recording, with the file's trials table if it has one."""
    path = Path(path)
    with _open(path) as (nwb, _io):
        cat = _catalog(nwb)
        have = [f"{t} '{n}'" for t, n, _ in cat] or ["no series"]
        if series is not None:
            hits = [(t, o) for t, n, o in cat if n == series]
            if not hits:
                raise DataError(path, series, f"no series named '{series}'; the file has {have}")
            kind, obj = hits[0]
        else:
            pick = [(t, o) for pref in _PREFERENCE[role] for t, n, o in cat if t == pref]
            if not pick:
                where, what = _WHERE[role]
                raise DataError(
                    path, where, f"no {what} found; the file has {have}; expected {what}"
                )
            kind, obj = pick[0]
        if kind == "Units":
            rec = _units(path, obj)
        elif kind == "PoseEstimation":
            rec = _pose(path, obj, likelihood_threshold)
        else:
            rec = _series(path, kind, obj)
        rec.trials = _trials(path, nwb)
    rec.checksum = file_checksum(path)
    rec.preprocessing["nwb_series"] = f"{kind} '{obj.name}'"
    return rec
