"""NWB files via pynwb.

Series read (name one with ``series``, or the first found for the role):

- neural: ``RoiResponseSeries`` (``processing/ophys/Fluorescence`` or ``DfOverF``), ``data``
  ``(times, ROIs)``; then ``/units`` spike times (binned to counts later);
- behavior: ndx-pose ``PoseEstimation`` (points with confidence under ``likelihood_threshold``
  become missing), ``SpatialSeries`` (``processing/behavior``), then any other ``TimeSeries``.

Series are told apart by neurodata type, subtypes included: an ``OpticalSeries`` is an
``ImageSeries`` (images, never read); a ``PoseEstimationSeries`` is a ``SpatialSeries`` read with
its ``PoseEstimation``; electrophysiology (``ElectricalSeries``) is read only when named.
pynwb/hdmf warnings about the file (an older extension version, …) are shown as one line.
ndx-pose is read here with pynwb, not with sleap-io's NWB reader, which turns timestamps into
frame numbers (the times are what aligns pose to the neural data) and reads nothing else.

Times are seconds from the session start. ``/intervals/trials`` (``start_time``, ``stop_time``,
optional ``condition``) is kept as the recording's trials table.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, file_checksum
from mmgpvae_core.loaders.checks import read_h5, warn_data
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
_FLAG = {"neural": "--neural-series", "behavior": "--behavior-series", None: "--series"}
#: series that are not ``(times, channels)`` numbers: images (OpticalSeries, TwoPhotonSeries, …
#: all ImageSeries), text, intervals, ``(times, channels, bands)``; a PoseEstimationSeries is read
#: with its PoseEstimation
_NOT_READ = {
    "ImageSeries": "images",
    "AnnotationSeries": "text",
    "IntervalSeries": "intervals",
    "DecompositionSeries": "3-D bands",
    "PoseEstimationSeries": "part of a PoseEstimation",
}
#: electrophysiology: read when named, never the default behavior series
_EPHYS = ("ElectricalSeries", "PatchClampSeries")

#: the signal each NWB series type holds, whatever its values (``Dataset.signal``)
NWB_SIGNALS = {"RoiResponseSeries": "calcium", "SpatialSeries": "position"}


def _types(obj) -> set[str]:
    """The neurodata types of ``obj`` and of every type it extends (OpticalSeries →
    {OpticalSeries, ImageSeries, TimeSeries, …}), from the classes pynwb maps them to."""
    return {t for c in type(obj).__mro__ if isinstance(t := c.__dict__.get("neurodata_type"), str)}


def _kind(obj) -> str | None:
    """How the loader reads ``obj``: RoiResponseSeries, Units, PoseEstimation, SpatialSeries,
    TimeSeries (any other series of numbers), or None (not a series the loader reads)."""
    types = _types(obj)
    for kind in ("Units", "PoseEstimation"):
        if kind in types:
            return kind
    if "TimeSeries" not in types or types & _NOT_READ.keys():
        return None
    for kind in ("RoiResponseSeries", "SpatialSeries"):
        if kind in types:
            return kind
    return "TimeSeries"


def _type_name(obj) -> str:
    return getattr(obj, "neurodata_type", None) or type(obj).__name__


def _catalog(nwb) -> list[tuple[str, str, Any]]:
    """(how it is read, name, object) of every readable series in the file, in a stable order."""
    found = [(_kind(obj), obj.name, obj) for obj in nwb.objects.values()]
    return sorted(((k, n, o) for k, n, o in found if k), key=lambda x: (x[0], x[1]))


def _existing(nwb) -> list[str]:
    """Every series of the file, as ``OpticalSeries 'video' (images, not read)`` — for errors."""
    out = []
    for obj in nwb.objects.values():
        types = _types(obj)
        if not types & {"TimeSeries", "Units", "PoseEstimation"}:
            continue
        why = next((w for t, w in _NOT_READ.items() if t in types), None)
        if why == _NOT_READ["PoseEstimationSeries"]:
            continue
        out.append(f"{_type_name(obj)} '{obj.name}'" + (f" ({why}, not read)" if why else ""))
    return sorted(out) or ["no series"]


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
        values=data, channel_names=names, source=str(path), field=ts.name, kind=f"nwb:{kind}",
        signal=NWB_SIGNALS.get(kind, ""),
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
        signal="spikes",
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
        signal="pose",
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


def _about_the_file(w: warnings.WarningMessage) -> bool:
    """A warning raised in pynwb, hdmf or an ndx-* extension about the file being read (not a
    deprecation in the libraries themselves, which goes through the usual filters)."""
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
        return False
    parts = Path(w.filename).parts
    return bool({"hdmf", "pynwb"} & set(parts)) or any(p.startswith("ndx_") for p in parts)


class _open:
    """The NWB file read with pynwb; what pynwb/hdmf warn about the file (e.g. "Ignoring cached
    namespace ndx-pose 0.3.0 because 0.4.0 is loaded", several lines each) becomes one
    DataWarning line at most; other warnings pass through."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.io = None
        self._caught = None

    def __enter__(self):
        import h5py

        try:
            with h5py.File(self.path, "r"):
                pass
        except OSError as exc:
            raise DataError(
                self.path, "-", f"not a readable HDF5/NWB file ({exc}); expected an NWB file"
            ) from None
        self._caught = warnings.catch_warnings(record=True)
        self._log = self._caught.__enter__()
        warnings.simplefilter("always")
        try:
            return self._read()
        except BaseException:
            self._release(report=False)
            raise

    def _read(self):
        try:
            import ndx_pose  # noqa: F401 - registers the pose extension if installed
        except ImportError:
            pass
        from pynwb import NWBHDF5IO

        try:
            self.io = NWBHDF5IO(str(self.path), "r", load_namespaces=True)
            nwb = self.io.read()
        except Exception as exc:  # noqa: BLE001 - pynwb raises many types on bad files
            raise DataError(
                self.path, "-", f"not a readable NWB file ({type(exc).__name__}: {exc})"
            ) from None
        return nwb, self.io

    def _release(self, report: bool) -> None:
        if self.io is not None:
            self.io.close()
            self.io = None
        self._caught.__exit__(None, None, None)
        ours = [w for w in self._log if _about_the_file(w)]
        theirs = [w for w in self._log if not _about_the_file(w)]
        for w in theirs:  # not about the file: as if never caught
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if ours and report:
            lines = [ln.strip() for ln in str(ours[0].message).splitlines() if ln.strip()]
            first = " ".join(lines[:2])  # hdmf's first two lines say what; the rest is advice
            first = first if len(first) <= 240 else first[:239] + "…"
            more = f" (and {len(ours) - 1} more)" if len(ours) > 1 else ""
            warn_data(self.path, "-", f"pynwb: {first}{more}")

    def __exit__(self, *exc) -> None:
        self._release(report=True)


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
        flag = _FLAG.get(role, "--series")
        if series is not None:
            hits = [(k, o) for k, n, o in cat if n == series]
            if not hits:
                raise DataError(
                    path,
                    series,
                    f"no series named '{series}' that can be read; the file has "
                    f"{_existing(nwb)}; pick one with {flag} NAME",
                )
            kind, obj = hits[0]
        else:
            pick = [
                (k, o)
                for pref in _PREFERENCE[role]
                for k, n, o in cat
                if k == pref and not (k == "TimeSeries" and _types(o) & set(_EPHYS))
            ]
            if not pick:
                where, what = _WHERE[role]
                raise DataError(
                    path,
                    where,
                    f"no {what} found; the file has {_existing(nwb)}; expected {what}, or "
                    f"pick a series with {flag} NAME",
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
