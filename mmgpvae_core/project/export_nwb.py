"""Latents as NWB (read by pynwb and pynapple): the layout ``export_latents(..., "x.nwb")``
writes.

NWB (read by pynwb and pynapple)::

    /intervals/trials            start_time, stop_time, [condition], trial_index — the trials the
                                 model was fitted on, in time order (trial_index: row in the NPZ)
    /processing/mmgpvae          description: the fit as JSON (model, train, data, shape, where
                                 the trial times came from, source files, MM-GPVAE version)
        shared, private_neural, private_behavior           TimeSeries (samples, dim), unit "a.u."
        shared_var, private_neural_var, private_behavior_var  TimeSeries (samples, dim)

Trials that overlap (peri-event windows) have no single time axis, and NWB time series need
ascending times: then no series are written; each trial's latents are columns of its row of
``/intervals/trials`` — ``shared``, ``shared_var``, … (trials, time, dim), NaN past a trial's end,
bin ``b`` at ``start_time + (b + 0.5) * bin_size_s`` — and a DataWarning says so.

Samples are the bins of every trial, concatenated in time order, at the bin centres in session
seconds (``start_time + (b + 0.5) * bin_size_s``); padding bins are left out. When the bins are
evenly spaced the series store ``starting_time`` and ``rate`` instead of timestamps (NWB's
advice); ``TimeSeries.get_timestamps()`` gives the times either way. A subspace of no dimension
has no series. When the data came from an NWB file that still exists, its session start time,
description, session id, experimenter, lab, institution and subject are copied and the
identifier is the source's with ``-mmgpvae-latents`` added (an NWB identifier names one file).
Otherwise the session start time is the export time, and the file's ``notes`` say so.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError, Dataset
from mmgpvae_core.loaders.checks import warn_data

if TYPE_CHECKING:
    from mmgpvae_core.project.export import Latents

MODULE = "mmgpvae"
LABELS = {
    "shared": "shared latents (explain both modalities)",
    "private_neural": "latents private to the neural recording",
    "private_behavior": "latents private to the behavior",
}


# ---------------------------------------------------------------------------- trial times
@dataclass(frozen=True)
class TrialTimes:
    """Each trial's ``start`` and ``stop`` ``(trials,)`` in session seconds, and whence."""

    start: np.ndarray
    stop: np.ndarray
    origin: str


def trial_times(ds: Dataset) -> TrialTimes:
    """Where each trial of ``ds`` lies in its session: the trial times the loader recorded,
    else the windows it cut, else the trials table re-read (CSV or NWB), else trials laid end
    to end from 0 s, one bin apart (a trial tensor file carries no session clock)."""
    n = ds.n_trials
    dt = ds.bin_size_s or 1.0
    info = ds.preprocessing.get("trials") or {}
    if len(info.get("start_s", ())) == n and len(info.get("stop_s", ())) == n:
        start, stop = np.asarray(info["start_s"], float), np.asarray(info["stop_s"], float)
        return TrialTimes(start, stop, f"trials table ({info.get('source', '?')})")
    src = str(info.get("source", ""))
    if src == "windows" and "window_s" in info and "span_s" in info:
        w, (t0, t1) = float(info["window_s"]), info["span_s"]
        count = int(np.floor((t1 - t0) / w + 1e-9))
        if count == n and n > 0:
            edges = t0 + w * np.arange(n + 1)  # one window's stop is exactly the next's start
            return TrialTimes(edges[:-1], edges[1:], f"consecutive {w:g} s windows")
        if count < 1 and n == 1:
            return TrialTimes(np.array([t0]), np.array([t1]), "the whole recording")
    table = _reread_table(src)
    if table is not None and len(table[0]) == n:
        return TrialTimes(table[0], table[1], f"trials table ({src})")
    start = np.arange(n) * (ds.n_time + 1) * dt  # one bin apart: separate trials stay separate
    return TrialTimes(
        start,
        start + ds.trial_lengths * dt,
        "none recorded: trials laid end to end from 0 s, one bin apart",
    )


def _reread_table(src: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A trials table's (start, stop) from the file the loader read it from, if it exists."""
    try:
        if src.endswith(":intervals/trials"):
            import h5py

            with h5py.File(src[: -len(":intervals/trials")], "r") as f:
                g = f["intervals/trials"]
                return np.asarray(g["start_time"][()], float), np.asarray(g["stop_time"][()], float)
        if src.lower().endswith(".csv") and Path(src).is_file():
            from mmgpvae_core.loaders.trials import read_trials_table

            t = read_trials_table(src)
            return t.start, t.stop
    except (OSError, KeyError, DataError):
        return None
    return None


# ---------------------------------------------------------------------------- source session
_GENERAL = ("session_id", "experimenter", "lab", "institution", "experiment_description")
_SUBJECT = ("subject_id", "species", "sex", "age", "description", "genotype", "strain")


def _text(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_text(x) for x in v.tolist()]
    return v


def source_session(latents: Latents) -> dict[str, Any]:
    """The NWB session the data came from: ``{"path", "found", ...}`` with ``identifier``,
    ``session_start_time`` (datetime), ``session_description``, ``general`` and ``subject``
    (dicts) when the file still exists; ``{}`` when the data came from no NWB file."""
    data_cfg = latents.config.get("data", {})
    candidates = [data_cfg.get("neural_path", ""), latents.neural.source]
    candidates += [data_cfg.get("behavior_path", "")]
    candidates += [latents.behavior.source] if latents.behavior is not None else []
    nwb_kind = latents.neural.kind.startswith("nwb") or (
        latents.behavior is not None and latents.behavior.kind.startswith("nwb")
    )
    missing = None
    for c in candidates:
        if not c or not (c.lower().endswith(".nwb") or nwb_kind):
            continue
        for path in _places(Path(c), latents.project):
            info = _read_session(path)
            if info is not None:
                return info
        if c.lower().endswith(".nwb"):
            missing = missing or c
    return {"path": missing, "found": False} if missing else {}


def _places(path: Path, project: Path | None) -> list[Path]:
    out = [path]
    if not path.is_absolute() and project is not None:
        out.append(project.resolve().parent / path)
    return out


def _read_session(path: Path) -> dict[str, Any] | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "nwb_version" not in f.attrs:
                return None
            general = f.get("general", {})
            subject = general.get("subject", {}) if general else {}
            return {
                "path": str(path),
                "found": True,
                "identifier": str(_text(f["identifier"][()])),
                "session_start_time": datetime.fromisoformat(
                    str(_text(f["session_start_time"][()]))
                ),
                "session_description": str(_text(f["session_description"][()])),
                "general": {k: _text(general[k][()]) for k in _GENERAL if k in general},
                "subject": {k: _text(subject[k][()]) for k in _SUBJECT if k in subject},
            }
    except (OSError, KeyError, ValueError):
        return None


# ---------------------------------------------------------------------------- NWB
def _session_file(latents: Latents, session: dict[str, Any]):
    """An empty NWBFile for the latents: the source session's metadata when it was found."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    from mmgpvae_core.version import __version__

    common = {
        "was_generated_by": [("MM-GPVAE Studio", __version__)],
        "keywords": ["MM-GPVAE", "latent variable model", "Gaussian process"],
        "experiment_description": "Posterior latents of an MM-GPVAE fit (multi-modal "
        "Gaussian-process variational autoencoder) of paired neural and behavioral data",
    }
    if session.get("found"):
        general = {**common, **session["general"]}
        if isinstance(general.get("experimenter"), str):
            general["experimenter"] = [general["experimenter"]]
        general.setdefault("session_id", session["identifier"])
        subject = session["subject"]
        return NWBFile(
            session_description=session["session_description"],
            identifier=f"{session['identifier']}-mmgpvae-latents",
            session_start_time=session["session_start_time"],
            notes=f"MM-GPVAE posterior latents of the session in {session['path']}",
            subject=Subject(**subject) if subject else None,
            **general,
        )
    note = (
        f"the source NWB file {session['path']} was not found: the identifier is new and the "
        "session start time is the export time"
        if session
        else "the data came from no NWB file: the session start time is the export time"
    )
    return NWBFile(
        session_description=f"MM-GPVAE posterior latents of a fit of {latents.neural.source}",
        identifier=str(uuid.uuid4()),
        session_start_time=datetime.now(timezone.utc).astimezone(),
        notes=note,
        **common,
    )


def _samples(x: np.ndarray, order: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(trials, time, dim)`` → ``(samples, dim)``: each trial's bins, trials in ``order``."""
    return np.concatenate([x[k, : lengths[k]] for k in order], axis=0)


def _time_args(t: np.ndarray, dt: float) -> dict[str, Any]:
    """``starting_time`` + ``rate`` when the bins are evenly spaced, else ``timestamps``."""
    if len(t) > 1 and np.allclose(np.diff(t), dt, rtol=0, atol=1e-9 * max(1.0, abs(t[-1]))):
        return {"starting_time": float(t[0]), "rate": 1.0 / dt}
    if len(t) == 1:
        return {"starting_time": float(t[0]), "rate": 1.0 / dt}
    return {"timestamps": t}


def _first_overlap(t: np.ndarray, order: np.ndarray, lengths: np.ndarray) -> tuple[int, int]:
    """The two trials whose bins first fail to ascend in the samples ``t`` (trials in
    ``order``)."""
    trial = np.repeat(order, lengths[order])
    j = int(np.flatnonzero(np.diff(t) <= 0)[0])
    return int(trial[j]), int(trial[j + 1])


def _trial_columns(latents: Latents) -> list[tuple[str, np.ndarray, str]]:
    """(name, (trials, time, dim) data, description) of each non-empty subspace and its
    variances: the latents as columns of the trials table."""
    out = []
    for name in SUBSPACES:
        if latents.arrays[name].shape[-1] == 0:
            continue
        for series, what in ((name, "posterior mean of the"), (f"{name}_var", "posterior variance of the")):
            out.append((
                series,
                latents.arrays[series],
                f"{what} {LABELS[name]}, (time, dims) per trial at bin centres, NaN past the "
                "trial's end",
            ))
    return out


def write_nwb(latents: Latents, path: str | Path) -> Path:
    """Write ``latents`` as an NWB file at ``path`` (the layout in the module docstring).
    Trials that overlap get per-trial columns instead of time series (with a DataWarning)."""
    from pynwb import NWBHDF5IO, TimeSeries

    path = Path(path)
    neural = latents.neural
    lengths = neural.trial_lengths
    dt = float(neural.bin_size_s) if neural.bin_size_s else 1.0
    times = trial_times(neural)
    session = source_session(latents)
    nwb = _session_file(latents, session)

    order = np.argsort(times.start, kind="stable")
    t = np.concatenate([times.start[k] + (np.arange(lengths[k]) + 0.5) * dt for k in order])
    # Overlapping trials (peri-event windows) have no single time axis: a TimeSeries needs
    # ascending timestamps, so each trial's latents go in a row of the trials table instead.
    per_trial = len(t) > 1 and bool((np.diff(t) <= 0).any())
    if per_trial:
        a, b = _first_overlap(t, order, lengths)
        warn_data(
            neural.source,
            "trials",
            f"trials {a + 1} ({times.start[a]:g}-{times.stop[a]:g} s) and {b + 1} "
            f"({times.start[b]:g}-{times.stop[b]:g} s) overlap, so the latents have no single "
            "time axis (NWB time series need ascending times): written per trial as columns "
            "of /intervals/trials, (trials, time, dim) each, NaN past a trial's end",
        )
    _add_trials(nwb, latents, times, order, per_trial)
    about = _about(latents, session, times, per_trial)
    mod = nwb.create_processing_module(MODULE, json.dumps(about, default=str))
    timing = _time_args(t, dt)
    for name in SUBSPACES if not per_trial else ():
        mean, var = latents.arrays[name], latents.arrays[f"{name}_var"]
        if mean.shape[-1] == 0:
            continue
        for series, data, unit, what in (
            (name, mean, "a.u.", "posterior mean of the"),
            (f"{name}_var", var, "a.u.^2", "posterior variance of the"),
        ):
            mod.add(
                TimeSeries(
                    name=series,
                    data=_samples(data, order, lengths),
                    unit=unit,
                    description=f"{what} {LABELS[name]}, (samples, dims), at bin centres",
                    comments=f"trial times: {times.origin}",
                    **timing,
                )
            )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.nwb")  # no half-written file left
    try:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _add_trials(nwb, latents: Latents, times, order: np.ndarray, per_trial: bool) -> None:
    """The trials table, in time order: times, condition, the row in the trial tensor, and,
    for overlapping trials, each trial's latents as columns."""
    cond = latents.neural.conditions
    if cond is not None:
        nwb.add_trial_column("condition", "condition label of the trial")
    nwb.add_trial_column("trial_index", "row of the trial in the fitted trial tensor (and NPZ)")
    columns = _trial_columns(latents) if per_trial else []
    for series, _, what in columns:
        nwb.add_trial_column(series, what)
    for k in order:
        row = {"start_time": float(times.start[k]), "stop_time": float(times.stop[k])}
        if cond is not None:
            row["condition"] = cond[k].item() if hasattr(cond[k], "item") else cond[k]
        for series, data, _ in columns:
            row[series] = data[k]
        nwb.add_trial(**row, trial_index=int(k))


def _about(latents: Latents, session: dict, times, per_trial: bool) -> dict[str, Any]:
    """The processing module's description: what it holds, how, and where it came from."""
    from mmgpvae_core.version import __version__

    neural = latents.neural
    return {
        "about": "MM-GPVAE posterior latents (orthonormalized display coordinates), one "
        "TimeSeries per subspace with its posterior variances (<name>_var)"
        if not per_trial
        else "MM-GPVAE posterior latents (orthonormalized display coordinates) of overlapping "
        "trials: columns <name> and <name>_var of /intervals/trials, (trials, time, dim), bin "
        "b of a trial at start_time + (b + 0.5) * bin_size_s",
        "layout": "per-trial columns of /intervals/trials" if per_trial else "time series",
        "mmgpvae_version": __version__,
        "project": None if latents.project is None else str(latents.project),
        "neural_source": neural.source,
        "behavior_source": None if latents.behavior is None else latents.behavior.source,
        "source_nwb": session.get("path"),
        "trial_times": times.origin,
        "bin_size_s": neural.bin_size_s,
        **{k: latents.config.get(k) for k in ("model", "train", "data", "shape")},
    }
