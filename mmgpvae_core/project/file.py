"""The ``.mmgp`` project file (HDF5): everything needed to reopen, continue or inspect a fit.

Layout (a contract: scripts read it)::

    /                      attrs: format="mmgpvae-project", format_version, mmgpvae_version
    /config                attrs: model, train, data, shape (JSON); display (JSON), only in one
                             session of a multi-session model saved alone: {"fixed_transforms":
                             subspace → (dim, dim)}, the shared and private-behavior display
                             maps of the model it came from
    /data/neural           data (trials, time, channels), conditions, channel_names;
    /data/behavior           attrs: source, field, checksum, kind, bin_size_s, preprocessing (JSON)
    /model/<name>          every tensor of the module's state_dict
    /optimizer             uint8: the optimizer state (torch.save bytes)
    /history/<term>        per-epoch epoch, elbo, ell_neural, ell_behavior, kl, length_scales, elapsed_s
    /posterior/<subspace>/mean, var   (trials, time, dim): orthonormalized posterior, time domain
    /posterior/raw_mean, raw_var      (trials, time, D): in the model's own latent coordinates
    /posterior/transform/<subspace>   (dim, dim): raw → orthonormalized
    /reconstruction/neural, behavior  (trials, time, channels): posterior-predictive means
    /outcome               attrs: status, epochs_run, message
    /fit_state             attrs: epoch, session_start_epoch, target_epoch, warmup_epochs —
                             only in a checkpoint of a fit in progress (``checkpoint.py``)
    /sessions/<name>/...   a model of several sessions (``fit --sessions``): the first session is
                             the top level above (its /model holds every shared tensor), each
                             other one a group with its own config (attrs: data, shape), data,
                             model (only its own tensors: neural read-in, the scale of its
                             precisions and read-out; a project without the scale opens with 1),
                             posterior and reconstruction; ``config`` attr ``sessions`` lists
                             the names in order, the first included

Writes go to a temporary file ``.<name>.<pid>.<random>.tmp`` in the same folder, flushed to disk,
then an atomic rename: a crash or a kill mid-write leaves the previous project whole. A write first
removes the temporary files of earlier writes to the same project whose process is gone.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mmgpvae_core.config import ModelConfig, TrainConfig
from mmgpvae_core.data import DataError, Dataset

FORMAT = "mmgpvae-project"
FORMAT_VERSION = 1


def _write_dataset(g: h5py.Group, ds: Dataset) -> None:
    g.create_dataset("data", data=ds.data, compression="gzip", compression_opts=4)
    if ds.conditions is not None:
        c = ds.conditions
        g.create_dataset("conditions", data=c.astype("S") if c.dtype.kind in "UO" else c)
    g.create_dataset("channel_names", data=np.array(ds.channel_names, dtype="S"))
    g.attrs["source"] = ds.source
    g.attrs["field"] = ds.field
    g.attrs["checksum"] = ds.checksum
    g.attrs["kind"] = ds.kind
    g.attrs["signal"] = ds.signal
    g.attrs["bin_size_s"] = np.nan if ds.bin_size_s is None else float(ds.bin_size_s)
    g.attrs["preprocessing"] = json.dumps(ds.preprocessing)


def _read_dataset(g: h5py.Group) -> Dataset:
    cond = g["conditions"][()] if "conditions" in g else None
    if cond is not None and cond.dtype.kind == "S":
        cond = cond.astype(str)
    bin_size = float(g.attrs["bin_size_s"])
    return Dataset(
        data=g["data"][()],
        conditions=cond,
        channel_names=[n.decode() for n in g["channel_names"][()]],
        bin_size_s=None if np.isnan(bin_size) else bin_size,
        source=str(g.attrs["source"]),
        field=str(g.attrs["field"]),
        checksum=str(g.attrs["checksum"]),
        kind=str(g.attrs["kind"]),
        signal=str(g.attrs.get("signal", "")),  # projects saved before it: unknown
        preprocessing=json.loads(g.attrs.get("preprocessing", "{}")),
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (unsure counts as alive)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        import ctypes

        k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        handle = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        ok = k32.GetExitCodeProcess(handle, ctypes.byref(code))
        k32.CloseHandle(handle)
        return not ok or code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def stale_temp_files(path: str | Path) -> list[Path]:
    """Temporary files of unfinished writes to ``path`` whose writing process is gone."""
    path = Path(path)
    prefix = _temp_prefix(path)
    out = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            out.append(path.parent / name)
    return out


def _fsync(path: Path, directory: bool = False) -> None:
    if directory and sys.platform == "win32":
        return  # folders cannot be opened for fsync there; the rename is durable enough
    try:
        fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # a file system without fsync (some network mounts): best effort
        pass
    finally:
        os.close(fd)


def write_project(path: str | Path, contents: dict[str, Any]) -> None:
    """Atomically write a project. ``contents`` keys: config (dict of dicts), neural, behavior
    (Dataset or None), state (name → array), optimizer (bytes), history (name → array),
    posterior (dict, or a callable giving it), reconstruction (name → array, or batches:
    ``_write_reconstruction``), outcome (dict), fit_state (dict or None).

    The data reach the disk (fsync) before the rename replaces the old file, so neither a kill
    nor a power cut can leave a project that is renamed but empty."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_files(path):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        from mmgpvae_core.version import __version__

        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["mmgpvae_version"] = __version__
            cfg = f.create_group("config")
            for k, v in contents["config"].items():
                cfg.attrs[k] = json.dumps(v)
            _write_fit(f, contents)
            if contents.get("optimizer") is not None:
                f.create_dataset("optimizer", data=np.frombuffer(contents["optimizer"], np.uint8))
            hist = f.create_group("history")
            for k, v in contents.get("history", {}).items():
                hist.create_dataset(k, data=np.asarray(v, dtype=float))
            for name, session in (contents.get("sessions") or {}).items():
                g = f.create_group(f"sessions/{name}")
                scfg = g.create_group("config")
                for k, v in session["config"].items():
                    scfg.attrs[k] = json.dumps(v)
                _write_fit(g, session)
            out = f.create_group("outcome")
            for k, v in contents.get("outcome", {}).items():
                out.attrs[k] = v
            if contents.get("fit_state") is not None:
                state = f.create_group("fit_state")
                for k, v in contents["fit_state"].items():
                    state.attrs[k] = v
        _fsync(Path(tmp))
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_fit(f: h5py.Group, contents: dict[str, Any]) -> None:
    """One session's groups under ``f``: data, model (state), posterior, reconstruction."""
    data = f.create_group("data")
    for name in ("neural", "behavior"):
        if contents.get(name) is not None:
            _write_dataset(data.create_group(name), contents[name])
    model = f.create_group("model")
    for k, v in contents.get("state", {}).items():
        model.create_dataset(k, data=np.asarray(v))
    _write_reconstruction(f.create_group("reconstruction"), contents.get("reconstruction") or {})
    posterior = contents.get("posterior") or {}
    post = f.create_group("posterior")
    for k, v in (posterior() if callable(posterior) else posterior).items():
        if isinstance(v, dict):
            sub = post.create_group(k)
            for k2, v2 in v.items():
                sub.create_dataset(k2, data=np.asarray(v2, dtype=np.float32))
        else:
            post.create_dataset(k, data=np.asarray(v, dtype=np.float32))


def _write_reconstruction(rec: h5py.Group, arrays: Any) -> None:
    """``arrays``: name → (trials, time, channels) array, or an object whose ``batches()``
    yields (rows, n_trials, {name: (rows' trials, time, channels)}): each batch is written
    into its float32 dataset as it comes, so a long session's reconstruction is never held
    whole. The posterior is written after it (``contents["posterior"]`` may be a callable that
    gives it once the batches, which gather it, are done)."""
    if not callable(getattr(arrays, "batches", None)):
        for k, v in arrays.items():
            rec.create_dataset(k, data=np.asarray(v, dtype=np.float32))
        return
    for rows, n, batch in arrays.batches():
        for k, v in batch.items():
            if k not in rec:
                rec.create_dataset(k, shape=(n, *v.shape[1:]), dtype=np.float32)
            rec[k][rows] = np.asarray(v, dtype=np.float32)
        del batch, v  # not held while the next batch is computed


def _read_fit(g: h5py.Group, posterior: bool, reconstruction: bool) -> dict[str, Any]:
    """The inverse of :func:`_write_fit`."""
    return {
        "neural": _read_dataset(g["data/neural"]) if "data/neural" in g else None,
        "behavior": _read_dataset(g["data/behavior"]) if "data/behavior" in g else None,
        "state": {k: v[()] for k, v in g["model"].items()},
        "posterior": _group_to_dict(g["posterior"]) if posterior else None,
        "reconstruction": (
            {k: v[()] for k, v in g["reconstruction"].items()} if reconstruction else None
        ),
    }


def _group_to_dict(g: h5py.Group) -> dict[str, Any]:
    return {
        k: (_group_to_dict(v) if isinstance(v, h5py.Group) else v[()]) for k, v in g.items()
    }


def _open_project(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise DataError(path, "-", "project file not found")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, "-", f"not a readable project file ({exc})") from None


def read_project(
    path: str | Path, posterior: bool = True, reconstruction: bool = True
) -> dict[str, Any]:
    """Read everything back (the inverse of ``write_project``). ``posterior`` / ``reconstruction``
    False leave those out (None): a model computes them again from its weights (they are saved
    for readers without torch), so reopening one needs neither."""
    path = Path(path)
    with _open_project(path) as f:
        if f.attrs.get("format") != FORMAT:
            raise DataError(path, "format", "not an MM-GPVAE project (.mmgp) file")
        out: dict[str, Any] = {
            "config": _read_config(f),
            **_read_fit(f, posterior, reconstruction),
            "optimizer": f["optimizer"][()].tobytes() if "optimizer" in f else None,
            "history": {k: v[()] for k, v in f["history"].items()},
            "outcome": dict(f["outcome"].attrs.items()),
            "fit_state": _fit_state(f),
            "sessions": {
                name: {
                    "config": {k: json.loads(v) for k, v in g["config"].attrs.items()},
                    **_read_fit(g, posterior, reconstruction),
                }
                for name, g in (f["sessions"].items() if "sessions" in f else [])
            },
        }
    return out


def _read_config(f: h5py.File) -> dict[str, Any]:
    config = {k: json.loads(v) for k, v in f["config"].attrs.items()}
    if "model" in config:
        config["model"] = ModelConfig.saved_dict(config["model"])
    if "train" in config:
        config["train"] = TrainConfig.saved_dict(config["train"])
    return config


def _fit_state(f: h5py.File) -> dict[str, int] | None:
    if "fit_state" not in f:
        return None
    return {k: int(v) for k, v in f["fit_state"].attrs.items()}


def read_project_config(path: str | Path) -> dict[str, Any]:
    """Only the ``/config`` of a project (cheap: reads no arrays)."""
    path = Path(path)
    with _open_project(path) as f:
        if f.attrs.get("format") != FORMAT:
            raise DataError(path, "format", "not an MM-GPVAE project (.mmgp) file")
        return _read_config(f)


def read_fit_state(path: str | Path) -> dict[str, int] | None:
    """Only the ``/fit_state`` of a project (cheap: reads no arrays); None when it has none."""
    with _open_project(path) as f:
        return _fit_state(f)


def torch_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def torch_from_bytes(b: bytes) -> Any:
    """What :func:`torch_bytes` wrote, its tensors in CPU memory wherever they were saved from
    (an optimizer state saved by a fit on a GPU reopens on a machine without one; its reader
    moves it onto the parameters' device)."""
    import torch

    return torch.load(io.BytesIO(b), weights_only=False, map_location="cpu")


def summarize_project(path: str | Path) -> dict[str, Any]:
    """A project at a glance, plain JSON types (``mmgpvae inspect RUN.mmgp``): its config, each
    modality's summary, and for a fit its epochs, final ELBO terms, length-scales and outcome."""
    p = read_project(path, posterior=False, reconstruction=False)
    info: dict[str, Any] = {"kind": "mmgpvae project", "config": p["config"]}
    for name in ("neural", "behavior"):
        if p[name] is not None:
            info[name] = p[name].summary()
    if p["sessions"] or "sessions" in p["config"]:
        names = p["config"].get("sessions", {}).get("names", [])
        info["sessions"] = {
            name: {
                m: part[m].summary()
                for m in ("neural", "behavior")
                if (part := (p if k == 0 else p["sessions"].get(name, {}))).get(m) is not None
            }
            for k, name in enumerate(names)
        }
    h = p["history"]
    if "elbo" in h and len(h["elbo"]):
        info["epochs"] = int(len(h["elbo"]))
        info["final"] = {k: float(h[k][-1]) for k in ("elbo", "ell_neural", "ell_behavior", "kl")}
        info["length_scales_bins"] = np.round(h["length_scales"][-1], 3).tolist()
    info["outcome"] = {k: (v.item() if hasattr(v, "item") else v) for k, v in p["outcome"].items()}
    return info
