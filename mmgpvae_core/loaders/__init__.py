"""Readers that turn lab files into :class:`mmgpvae_core.data.Dataset` trial tensors.

Each format module reads a file into either a trial tensor (:class:`Dataset`, generic files) or a
continuous :class:`Recording` ``(time, channels)`` / spike times. Recordings are aligned on absolute
time, cut into trials (a trials table, the NWB trials, or consecutive windows) and binned onto one
bin size by :mod:`mmgpvae_core.loaders.trials`.

Formats, chosen from the path:

- a folder: suite2p plane folder (``F.npy`` …, also ``suite2p/plane0`` below it);
- ``.nwb``: NWB (RoiResponseSeries, Units, PoseEstimation, SpatialSeries, TimeSeries);
- ``.csv``: DeepLabCut (first cell ``scorer`` or ``DLC_`` in the name), else time + columns;
- ``.h5`` / ``.hdf5``: DeepLabCut (``df_with_missing``), SLEAP analysis (``tracks`` +
  ``node_names``), NWB (``nwb_version``), else generic (3-D ``data`` = trials, 2-D = recording);
- ``.slp``: SLEAP project or predictions (read with sleap-io);
- ``.mat``: MATLAB v5 or v7.3; ``.npz`` / ``.npy``: generic.

``field`` names the array(s) to read in MAT, NPZ and HDF5 files that hold several
(``"spikes"``; ``"pos,vel"`` joined as channels); :func:`list_arrays` says what a file holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core import heap
from mmgpvae_core.data import DataError, Dataset, check_pair
from mmgpvae_core.loaders.checks import DataWarning, check_file
from mmgpvae_core.loaders.fields import AxisChoiceError, FieldChoiceError, array_choices
from mmgpvae_core.loaders.generic import load_generic, read_generic
from mmgpvae_core.loaders.recording import Recording, TrialTable, center_pose
from mmgpvae_core.loaders.trials import (
    DEFAULT_SPIKE_BIN_S,
    DEFAULT_WINDOW_S,
    channels_to_drop,
    check_within,
    missing_channels,
    overlap,
    read_trials_table,
    to_dataset,
    windows,
    without_channels,
    zscore_channels,
)

__all__ = [
    "AxisChoiceError",
    "DataWarning",
    "FieldChoiceError",
    "Recording",
    "array_choices",
    "inspect_file",
    "list_arrays",
    "load_dataset",
    "load_generic",
    "load_pair",
    "read_source",
]

#: the endings of the data files read (a folder is a suite2p output folder)
FILE_SUFFIXES = (".nwb", ".csv", ".h5", ".hdf5", ".mat", ".npz", ".npy", ".slp")

#: options a modality may take besides the reader's own (signal, series, likelihood_threshold, …)
MODALITY_OPTIONS = ("zscore", "egocentric", "drop_missing_channels", "drop_constant_channels")
#: the formats whose arrays ``field`` names
FIELD_KINDS = ("matlab", "generic")


def read_source(
    path: str | Path, *, kind: str | None = None, **options: Any
) -> Dataset | Recording:
    """Read a file as it is: a trial tensor (Dataset) or a continuous Recording.

    kind forces a format: ``suite2p``, ``nwb``, ``dlc``, ``sleap``, ``matlab``, ``csv``, ``generic``.
    Other options go to the format's reader (e.g. ``signal="dff"``, ``series="DfOverF"``);
    ``field`` (MAT, NPZ, HDF5) names the arrays to read, ``other_samples`` the other modality's
    length (which may tell the time axis of a MATLAB matrix).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            path, "-", "file not found; expected an existing data file or suite2p output folder"
        )
    if not path.is_dir():
        check_file(path)
    kind = kind or _detect(path)
    if kind not in FIELD_KINDS:
        _no_field(path, kind, options)
    try:
        src = _read(path, kind, options)
    except DataError:
        raise
    except MemoryError as exc:
        raise DataError(
            path, "-", f"does not fit in memory ({exc}); expected a file that fits in memory"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a reader's unforeseen failure on a damaged file
        raise DataError(
            path,
            "-",
            f"could not be read as a {kind} file ({type(exc).__name__}: {exc}); the file may "
            "be damaged or of another type",
        ) from None
    if isinstance(src, Recording) and len(src.channel_names) != (
        len(src.spike_times) if src.is_events else src.values.shape[1]
    ):
        raise DataError(path, "channel_names", f"{len(src.channel_names)} names for the channels")
    return src


def _no_field(path: Path, kind: str, options: dict[str, Any]) -> None:
    """Drop the array options a format without named arrays ignores; refuse a named array."""
    options.pop("other_samples", None)
    field = options.pop("field", None)
    if field:
        series = "; an NWB series is named with --neural-series / --behavior-series"
        raise DataError(
            path,
            str(field),
            f"a {kind} file; an array is named (--neural-field, --behavior-field, --field) in "
            f"MAT, NPZ and HDF5 files{series if kind == 'nwb' else ''}",
        )


def list_arrays(path: str | Path) -> dict[str, tuple]:
    """The arrays of a MAT, NPZ or generic HDF5 file, name → shape (MATLAB's order), read from
    the headers; {} for other formats."""
    path = Path(path)
    if not path.is_file():
        return {}
    check_file(path)
    kind = _detect(path)
    if kind == "matlab":
        from mmgpvae_core.loaders.matlab import matlab_shapes

        return matlab_shapes(path)
    if kind != "generic" or path.suffix.lower() == ".npy":
        return {}
    from mmgpvae_core.loaders.generic import h5_shapes, npz_shapes, open_npz

    if path.suffix.lower() == ".npz":
        with open_npz(path) as z:
            return npz_shapes(path, z)
    import h5py

    with h5py.File(path, "r") as f:
        return h5_shapes(f)


def _read(path: Path, kind: str, options: dict[str, Any]) -> Dataset | Recording:
    """The format reader for ``kind``."""
    if kind == "suite2p":
        from mmgpvae_core.loaders.suite2p import load_suite2p

        return load_suite2p(path, **options)
    if kind == "nwb":
        from mmgpvae_core.loaders.nwb import load_nwb

        return load_nwb(path, **options)
    if kind == "dlc":
        from mmgpvae_core.loaders.dlc import load_dlc_csv, load_dlc_h5

        reader = load_dlc_csv if path.suffix.lower() == ".csv" else load_dlc_h5
        return reader(path, **options)
    if kind == "sleap":
        from mmgpvae_core.loaders.sleap import load_sleap, load_slp

        reader = load_slp if path.suffix.lower() == ".slp" else load_sleap
        return reader(path, **options)
    if kind == "matlab":
        from mmgpvae_core.loaders.matlab import load_matlab

        return load_matlab(path, **options)
    if kind == "csv":
        from mmgpvae_core.loaders.tabular import load_table

        return load_table(path, **options)
    if kind == "generic":
        return read_generic(path, **options)
    raise DataError(
        path, "kind", f"'{kind}'; expected suite2p, nwb, dlc, sleap, matlab, csv or generic"
    )


def _detect(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir():
        if suffix in FILE_SUFFIXES:
            raise DataError(
                path,
                "-",
                f"a folder, not a {suffix} file; expected a file (or a suite2p output folder)",
            )
        return "suite2p"
    if suffix == ".nwb":
        return "nwb"
    if suffix == ".mat":
        return "matlab"
    if suffix == ".csv":
        from mmgpvae_core.loaders.dlc import looks_like_dlc_csv

        return "dlc" if looks_like_dlc_csv(path) else "csv"
    if suffix in (".h5", ".hdf5"):
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(
                path,
                "-",
                f"not a readable HDF5 file ({exc}); the file may be truncated or of another type",
            ) from None
        with f:
            if "df_with_missing" in f:
                return "dlc"
            if ("tracks" in f and "node_names" in f) or (
                "data" not in f and ("tracks" in f or "node_names" in f)
            ):
                return "sleap"  # a SLEAP analysis file (the loader names a missing part)
            if "nwb_version" in f.attrs:
                return "nwb"
        return "generic"
    if suffix in (".npz", ".npy"):
        return "generic"
    if suffix == ".slp":
        return "sleap"
    raise DataError(
        path,
        "-",
        f"unknown file type '{suffix}'; expected a suite2p folder, .nwb, .csv, .h5, "
        ".hdf5, .slp, .mat, .npz or .npy",
    )


# ---------------------------------------------------------------------------- datasets
def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    mod = {k: options.pop(k) for k in MODALITY_OPTIONS if k in options}
    return options, mod


def _prepare(rec: Recording, rate_hz: float | None, flag: str, mod: dict[str, Any]) -> None:
    rec.apply_rate(rate_hz, flag)
    if mod.get("egocentric"):
        center_pose(rec, mod["egocentric"])


def _finish_tensor(ds: Dataset, rate_hz: float | None, flag: str, mod: dict[str, Any]) -> Dataset:
    """A trial tensor file: check a given rate against its bin size; z-score if asked."""
    if rate_hz is not None:
        if ds.bin_size_s is not None and not np.isclose(ds.bin_size_s * rate_hz, 1.0, rtol=1e-3):
            raise DataError(
                ds.source,
                "bin_size_s",
                f"the file says {ds.bin_size_s:g} s per bin but {flag} "
                f"says {rate_hz:g} Hz; leave out {flag} or make it agree with the file",
            )
        ds.bin_size_s = 1.0 / rate_hz
    if mod.get("egocentric"):
        raise DataError(
            ds.source, "egocentric", "centering needs a pose file, found a trial tensor"
        )
    if mod.get("zscore"):
        ds.data, mean, std = zscore_channels(ds.data)
        ds.preprocessing["zscore"] = {"mean": mean.tolist(), "std": std.tolist()}
    return ds


def _bin(
    recs: list[tuple[Recording, str, dict[str, Any]]],
    trials: str | Path | TrialTable | None,
    bin_size_s: float | None,
    window_s: float,
) -> list[Dataset]:
    """Align recordings on time, cut the trials, bin them onto one bin size."""
    for rec, flag, _ in recs:
        rec.require_rate("cutting trials and binning", flag)
    only = [r for r, _, _ in recs]
    t0, t1 = overlap(only) if len(only) > 1 else (only[0].t_start, only[0].t_stop)
    if bin_size_s is None:
        periods = [r.period_s for r in only if r.period_s is not None]
        bin_size_s = max(periods) if periods else DEFAULT_SPIKE_BIN_S
        bin_from = "sampling period of the slower modality" if periods else "default for spikes"
    else:
        if not bin_size_s > 0:
            raise DataError(only[0].source, "bin_size_s", f"{bin_size_s}; expected seconds > 0")
        bin_from = "given"
    if isinstance(trials, TrialTable):
        table = trials
    elif trials is not None:
        table = read_trials_table(trials)
    else:
        table = next((r.trials for r in only if r.trials is not None), None)
    if table is not None:
        for r in only:
            if not r.is_events:
                check_within(table, r)
        info = {"source": table.source, "field": table.field, "trials": len(table.start)}
    else:
        # Whole bins per window: consecutive windows then tile the session with no gap, and a
        # continuous export's clock stays exact (10 s at 29.97 Hz would hold 299 bins, 9.977 s).
        window_s = max(1, round(window_s / bin_size_s)) * float(bin_size_s)
        table = windows(t0, t1, window_s)
        info = {"source": "windows", "window_s": window_s, "span_s": [t0, t1]}
    info["bin_size_from"] = bin_from
    # The trials' times in the recording's clock (export-latents puts the latents back on it).
    info["start_s"] = [float(t) for t in table.start]
    info["stop_s"] = [float(t) for t in table.stop]
    out = []
    for rec, _, mod in recs:
        out.append(
            to_dataset(
                rec,
                table,
                float(bin_size_s),
                trials_info=info,
                drop_missing_channels=mod.get("drop_missing_channels", True),
                drop_constant_channels=mod.get("drop_constant_channels", False),
                zscore=bool(mod.get("zscore", False)),
            )
        )
    return out


def load_dataset(
    path: str | Path,
    *,
    trials: str | Path | TrialTable | None = None,
    bin_size_s: float | None = None,
    rate_hz: float | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    **options: Any,
) -> Dataset:
    """Open any supported file as a Dataset (format chosen from the file).

    A continuous recording is cut on ``trials`` (a CSV path), else the file's own trials table
    (NWB), else into consecutive ``window_s`` windows; binned at ``bin_size_s`` (default: its
    sampling period). A recording without a known rate, and nothing asking for time, becomes one
    trial with one bin per sample. Options: ``zscore``, ``egocentric`` (a body part),
    ``drop_missing_channels`` (default True), ``drop_constant_channels`` (default False) and the
    reader's own (``signal``, ``series``, …).
    """
    reader_opts, mod = _split(dict(options))
    src = read_source(path, **reader_opts)
    if isinstance(src, Dataset):
        if trials is not None:
            raise DataError(
                src.source,
                src.field,
                "already a trial tensor; a trials table is for continuous recordings",
            )
        if (
            bin_size_s is not None
            and src.bin_size_s is not None
            and not np.isclose(bin_size_s, src.bin_size_s, rtol=1e-3)
        ):
            raise DataError(
                src.source,
                "bin_size_s",
                f"the file's trials are binned at {src.bin_size_s:g} s, not {bin_size_s:g} s",
            )
        return _finish_tensor(src, rate_hz, "--rate", mod)
    _prepare(src, rate_hz, "--rate", mod)
    if (
        src.rate_hz is None
        and not src.is_events
        and trials is None
        and bin_size_s is None
        and src.trials is None
    ):
        return _whole(src, mod)
    return _bin([(src, "--rate", mod)], trials, bin_size_s, window_s)[0]


def _whole(rec: Recording, mod: dict[str, Any]) -> Dataset:
    """A recording of unknown rate as one trial, one bin per sample."""
    data = np.asarray(rec.values, dtype=np.float64)[None]
    names = list(rec.channel_names)
    prep = dict(rec.preprocessing)
    prep["trials"] = {"source": "whole recording (no sampling rate)"}
    all_nan = missing_channels(data)
    if mod.get("drop_missing_channels", True) and not all_nan.all():
        drop = channels_to_drop(data, all_nan, bool(mod.get("drop_constant_channels")))
        data, names = without_channels(data, names, prep, drop)
    ds = Dataset(data=data, channel_names=names, preprocessing=prep, **rec.provenance())
    return _finish_tensor(ds, None, "--rate", mod)


def modality_defaults(modality: str) -> dict[str, Any]:
    """The reading options a modality gets unless told otherwise (the CLI's and the app's):
    behavior leaves a constant channel out (an axis the tracker never moved along); the
    neurons keep a silent unit, so that every unit keeps its place."""
    return {"drop_constant_channels": True} if modality == "behavior" else {}


def load_pair(
    neural_path: str | Path,
    behavior_path: str | Path | None,
    *,
    trials: str | Path | None = None,
    bin_size_s: float | None = None,
    neural_rate_hz: float | None = None,
    behavior_rate_hz: float | None = None,
    neural_options: dict[str, Any] | None = None,
    behavior_options: dict[str, Any] | None = None,
    window_s: float = DEFAULT_WINDOW_S,
) -> tuple[Dataset, Dataset | None]:
    """Both modalities of one session as trial tensors on one time grid.

    Continuous recordings are aligned on absolute time (seconds in each file's clock), cut into
    the trials of ``trials`` (CSV), else of the NWB trials table, else into ``window_s`` windows
    of the time both cover, and binned at ``bin_size_s`` (default: the sampling period of the
    slower modality). ``neural_options`` / ``behavior_options`` go to each modality's reader
    (``signal``, ``series``, ``likelihood_threshold``, …) plus ``zscore``, ``egocentric``,
    ``drop_missing_channels``, ``drop_constant_channels`` (default: behavior only; a silent unit
    keeps its place among the neurons).
    """
    pair = _load_pair(neural_path, behavior_path, trials, bin_size_s, neural_rate_hz,
                      behavior_rate_hz, neural_options, behavior_options, window_s)
    heap.release()  # the recordings as read, dropped now that they are binned
    return pair


def _load_pair(neural_path, behavior_path, trials, bin_size_s, neural_rate_hz,
               behavior_rate_hz, neural_options, behavior_options, window_s):
    """:func:`load_pair`'s reading and binning."""
    n_reader, n_mod = _split({**modality_defaults("neural"), **(neural_options or {})})
    b_reader, b_mod = _split({**modality_defaults("behavior"), **(behavior_options or {})})
    neural, behavior = _read_both(neural_path, behavior_path, n_reader, b_reader)
    kinds = {type(x) for x in (neural, behavior) if x is not None}
    if len(kinds) > 1:
        other = behavior if isinstance(neural, Dataset) else neural
        raise DataError(
            other.source,
            other.field,
            "a continuous recording, but the other modality is a "
            "trial tensor; expected both as trial tensors or both as recordings",
        )
    if isinstance(neural, Dataset):
        if trials is not None:
            raise DataError(
                trials,
                "-",
                "the data files are already trial tensors; a trials table is for continuous recordings",
            )
        neural = _finish_tensor(neural, neural_rate_hz, "--neural-rate", n_mod)
        if behavior is not None:
            behavior = _finish_tensor(behavior, behavior_rate_hz, "--behavior-rate", b_mod)
        check_pair(neural, behavior)
        return neural, behavior
    recs = [(neural, "--neural-rate", n_mod)]
    _prepare(neural, neural_rate_hz, "--neural-rate", n_mod)
    if behavior is not None:
        _prepare(behavior, behavior_rate_hz, "--behavior-rate", b_mod)
        recs.append((behavior, "--behavior-rate", b_mod))
    out = _bin(recs, trials, bin_size_s, window_s)
    if behavior is None:
        return out[0], None
    check_pair(out[0], out[1])
    return out[0], out[1]


def _samples(src: Dataset | Recording | None) -> int | None:
    """A continuous recording's number of samples (what may tell the other's time axis)."""
    return src.n_samples if isinstance(src, Recording) and not src.is_events else None


def _read_both(
    neural_path: str | Path,
    behavior_path: str | Path | None,
    n_reader: dict[str, Any],
    b_reader: dict[str, Any],
) -> tuple[Dataset | Recording, Dataset | Recording | None]:
    """Both files as read; a MATLAB matrix whose time axis only the other modality's length
    tells (:class:`AxisChoiceError`) is read again with that length."""
    try:
        neural, pending = read_source(neural_path, role="neural", **n_reader), None
    except AxisChoiceError as exc:
        if not behavior_path:
            raise
        neural, pending = None, exc
    behavior = None
    if behavior_path:
        hint = _samples(neural)
        b_opts = {**b_reader, "other_samples": hint} if hint else b_reader
        behavior = read_source(behavior_path, role="behavior", **b_opts)
    if pending is not None:
        hint = _samples(behavior)
        if hint is None:
            raise pending
        neural = read_source(neural_path, role="neural", other_samples=hint, **n_reader)
    return neural, behavior


def inspect_file(path: str | Path, rate_hz: float | None = None, **options: Any) -> dict[str, Any]:
    """What a data file holds, as a JSON-able summary (kind, shapes, rate / bin size,
    conditions, missing fraction). Continuous recordings are described as recorded, unbinned.
    A MAT / NPZ / HDF5 file with several arrays lists them (``arrays``: name → shape); with no
    ``data`` and none named, that list and how to choose (``choose``) is the summary."""
    try:
        src = read_source(path, **options)
    except FieldChoiceError as exc:
        if not array_choices(exc.arrays):
            raise
        arrays = {k: list(v) for k, v in exc.arrays.items()}
        return {"source": str(path), "arrays": arrays, "choose": exc.problem}
    if isinstance(src, Dataset):
        info = _finish_tensor(src, rate_hz, "--rate", {}).summary()
    else:
        src.apply_rate(rate_hz, "--rate")
        info = src.summary()
    arrays = list_arrays(path)
    if len(array_choices(arrays)) > 1:
        info["arrays"] = {k: list(v) for k, v in arrays.items()}
    return info
