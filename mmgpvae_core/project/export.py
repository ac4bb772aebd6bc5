"""Posterior latents out of a fit, as NPZ or NWB: one function for the CLI, the app and notebooks.

``export_latents(model_or_project, "latents.nwb")`` — the file's extension chooses the format.

NPZ (the keys scripts rely on; unchanged since the first release)::

    shared, private_neural, private_behavior              (trials, time, dim) posterior means
    shared_var, private_neural_var, private_behavior_var  (trials, time, dim) posterior variances
    conditions (trials,)    bin_size_s ()  (NaN if unknown)

Bins past a trial's end (NaN padding) are NaN; a subspace of no dimension is ``(trials, time, 0)``.

NWB: :mod:`mmgpvae_core.project.export_nwb` (its layout is described there).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError, Dataset

#: extension → what is written
FORMATS = {".npz": "NumPy archive (.npz)", ".nwb": "NWB (.nwb)"}


@dataclass
class Latents:
    """Everything an export writes.

    arrays: the NPZ contents (see the module docstring), latents ``(trials, time, dim)``.
    neural, behavior: the Datasets of the fit (trial lengths, conditions, trial times, sources).
    config: the project's ``/config`` (model, train, data, shape dicts).
    project: the project file it came from, if any (to find relative source paths).
    """

    arrays: dict[str, np.ndarray]
    neural: Dataset
    behavior: Dataset | None
    config: dict[str, Any]
    project: Path | None = None


def collect_latents(source: Any) -> Latents:
    """The latents of ``source``: a fitted :class:`~mmgpvae_core.api.MMGPVAE` or the path of a
    ``.mmgp`` project (read as saved, without rebuilding the model)."""
    if isinstance(source, (str, Path)):
        from mmgpvae_core.project.file import read_project

        p = read_project(source, reconstruction=False)
        if p["neural"] is None:
            raise DataError(source, "data/neural", "missing; expected a project of a fit")
        post, neural, behavior, config = p["posterior"], p["neural"], p["behavior"], p["config"]
        project: Path | None = Path(source)
    else:
        if source.module is None or source.neural is None:
            raise ValueError("the model is not fitted yet: nothing to export")
        from mmgpvae_core.training import rng_unchanged

        with rng_unchanged(source.device):  # exporting mid-fit leaves the fit's random draws
            post = source.latent_posterior()
        neural, behavior, project = source.neural, source.behavior, None
        config = {
            "model": source.model_config.to_dict(),
            "train": source.train_config.to_dict(),
            "data": source.data_config.to_dict(),
            "shape": source.shape.to_dict(),
        }
    return _latents(post, neural, behavior, config, project)


def _latents(post, neural: Dataset, behavior: Dataset | None, config, project) -> Latents:
    """:class:`Latents` from a posterior in display coordinates (per subspace mean, var)."""
    arrays: dict[str, np.ndarray] = {}
    n, t = neural.data.shape[:2]
    for name in SUBSPACES:
        if name in post:
            arrays[name] = np.array(post[name]["mean"], dtype=np.float64)
            arrays[f"{name}_var"] = np.array(post[name]["var"], dtype=np.float64)
        else:
            arrays[name] = np.zeros((n, t, 0))
            arrays[f"{name}_var"] = np.zeros((n, t, 0))
    # Bins past each trial's end (NaN padding) carry no data: mark them NaN, not a prior guess.
    pad = np.arange(t)[None, :] >= neural.trial_lengths[:, None]
    for v in arrays.values():
        v[pad] = np.nan
    cond = neural.conditions
    arrays["conditions"] = cond if cond is not None else np.zeros(n, dtype=int)
    dt = neural.bin_size_s
    arrays["bin_size_s"] = np.asarray(np.nan if dt is None else dt)
    return Latents(arrays, neural, behavior, config, project)


def session_stems(out_path: str | Path, names: list[str]) -> list[Path]:
    """Where each session of a multi-session project goes: ``X_<name>.npz`` beside ``X.npz``."""
    out = Path(out_path)
    return [out.with_name(f"{out.stem}_{name}{out.suffix}") for name in names]


def collect_session_latents(source: Any) -> list[tuple[str, Latents]]:
    """(name, :class:`Latents`) of every session of ``source`` (a fitted MMGPVAE or a
    ``.mmgp`` path); a single-session project: [(its neural file's stem, latents)]."""
    if not isinstance(source, (str, Path)):
        return [(name, collect_latents(view)) for name, view in source.sessions()]
    from mmgpvae_core.project.file import read_project

    p = read_project(source, reconstruction=False)
    names = p["config"].get("sessions", {}).get("names")
    first = collect_latents(source)
    if not names:
        stem = Path(p["config"].get("data", {}).get("neural_path") or "session").stem
        return [(stem or "session", first)]
    out = [(names[0], first)]
    for name in names[1:]:
        g = p["sessions"].get(name)
        if g is None or g["neural"] is None:
            raise DataError(source, f"sessions/{name}", "missing; the config lists this session")
        config = {**p["config"], **g["config"]}
        config.pop("sessions", None)
        out.append((name, _latents(g["posterior"], g["neural"], g["behavior"], config, Path(source))))
    return out


def collect_continuous(source: Any, on_progress=None) -> tuple[dict[str, np.ndarray], Latents]:
    """Session-long latents of a fit on consecutive windows (``continuous.py``): the NPZ
    arrays — ``time`` (bins,) in session seconds, ``shared`` … (bins, dim), ``*_var``,
    ``bin_size_s`` — and the same as :class:`Latents` of one trial spanning the session (for
    NWB). ``source``: a fitted MMGPVAE or a ``.mmgp`` path. A fit on trials: DataError."""
    from mmgpvae_core.continuous import continuous_latents, join_windows

    project = None
    if isinstance(source, (str, Path)):
        from mmgpvae_core.api import MMGPVAE

        project, source = Path(source), MMGPVAE.load(source, device="cpu")
    neural, behavior = source.neural, source.behavior
    lat = continuous_latents(source, on_progress=on_progress)
    dt = neural.bin_size_s or 1.0
    npz = {"time": lat["time"]}
    for name in SUBSPACES:
        for key in (name, f"{name}_var"):
            npz[key] = lat.get(key, np.zeros((lat["time"].size, 0)))
    npz["bin_size_s"] = np.asarray(np.nan if neural.bin_size_s is None else neural.bin_size_s)
    t0 = float(lat["time"][0] - dt / 2)
    session = {"source": "continuous session", "start_s": [t0], "stop_s": [t0 + lat["time"].size * dt]}

    def whole(ds: Dataset | None) -> Dataset | None:
        if ds is None:
            return None
        prep = {**ds.preprocessing, "trials": session}
        return dataclasses.replace(ds, data=join_windows(ds)[None], conditions=None, preprocessing=prep)

    arrays = {k: v[None] for k, v in npz.items() if k not in ("time", "bin_size_s")}
    arrays["conditions"] = np.zeros(1, dtype=int)
    arrays["bin_size_s"] = npz["bin_size_s"]
    config = {
        "model": source.model_config.to_dict(),
        "train": source.train_config.to_dict(),
        "data": source.data_config.to_dict(),
        "shape": source.shape.to_dict(),
    }
    return npz, Latents(arrays, whole(neural), whole(behavior), config, project)


def export_continuous(source: Any, out_path: str | Path, on_progress=None) -> Path:
    """Session-long latents (:func:`collect_continuous`) to ``.npz`` or ``.nwb``."""
    out = Path(out_path)
    suffix = latents_format(out)
    npz, latents = collect_continuous(source, on_progress=on_progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npz":
        np.savez(out, **npz)
    else:
        write_nwb(latents, out)
    return out


def latents_format(out_path: str | Path) -> str:
    """The format a path asks for: ``".npz"`` or ``".nwb"`` (its extension), else DataError."""
    suffix = Path(out_path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            out_path, "-", f"unknown extension '{Path(out_path).suffix}'; expected .npz or .nwb"
        )
    return suffix


def export_latents(source: Any, out_path: str | Path) -> Path:
    """Write the latents of ``source`` (a fitted MMGPVAE, a ``.mmgp`` path, or :class:`Latents`)
    to ``out_path``: ``.npz`` or ``.nwb`` by its extension. Returns the path written."""
    out = Path(out_path)
    suffix = latents_format(out)
    latents = source if isinstance(source, Latents) else collect_latents(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npz":
        np.savez(out, **latents.arrays)
    else:
        write_nwb(latents, out)
    return out


from mmgpvae_core.project.export_nwb import trial_times, write_nwb  # noqa: E402

__all__ = [
    "Latents", "collect_continuous", "collect_latents", "collect_session_latents",
    "export_continuous", "export_latents", "session_stems",
    "latents_format", "trial_times", "write_nwb",
]
