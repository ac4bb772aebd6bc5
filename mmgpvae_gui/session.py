"""What the app knows, without Qt: the two datasets, the model, the project file, the fit.

The window observes a :class:`Session` and shows it; the session never calls the window (MNELAB's
``model.py``, napari's ``ViewerModel``). It can be built and driven in a test with no display::

    s = Session()
    s.load_data("neural.h5", "neural")
    s.begin_fit(MMGPVAE(shared=2), epochs=10)  # the window's worker then runs model.partial_fit
    s.end_fit("max_epochs")
    s.save("run.mmgp")

Slow steps (:meth:`read_data`, :meth:`read_project`, :meth:`save`) touch no GUI state and may run
off the GUI thread; :meth:`set_data` and :meth:`adopt_project` then make their result the
session's, in the GUI thread.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import SUBSPACES, DataConfig
from mmgpvae_core.continuous import is_continuous
from mmgpvae_core.data import Dataset, check_pair, stack_sessions
from mmgpvae_core.loaders import load_dataset, modality_defaults
from mmgpvae_core.loaders.checks import data_warnings
from mmgpvae_core.model.kernels import latent_kernel_labels
from mmgpvae_gui.subspaces import latent_name, split_of

MODALITIES = ("neural", "behavior")


@dataclass
class Snapshot:
    """What the views show of a model at one epoch. latents: subspace → (trials, time, dim) in
    display coordinates; reconstruction: modality → (trials, time, channels)."""

    epoch: int
    latents: dict[str, np.ndarray]
    reconstruction: dict[str, np.ndarray]
    length_scales: np.ndarray


def session_name(text: str) -> str:
    """``text`` made a valid session name (letters, digits, ``_ . -``)."""
    import re

    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return name if name and name[0].isalnum() else f"s{name}"


def data_summary(ds: Dataset) -> dict[str, Any]:
    """``Dataset.summary()``, with ``session_s`` (the session's length in seconds) for a
    continuous session cut into windows, whose "trials" are then windows."""
    summary = ds.summary()
    if is_continuous(ds):
        summary["session_s"] = ds.n_trials * ds.n_time * (ds.bin_size_s or 0.0)
    return summary


def saved_device(path: Path) -> str:
    """The device a project was trained on (``/config`` attribute ``train``, JSON); "cpu" when
    the file does not say (an unreadable file is left to ``MMGPVAE.load`` to report)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return str(json.loads(f["config"].attrs["train"]).get("device", "cpu"))
    except (OSError, KeyError, ValueError, AttributeError):
        return "cpu"


def device_usable(name: str) -> bool:
    """Whether this machine can hold tensors on ``name`` ("cpu", "cuda", "cuda:1", "mps",
    "auto"). A project saved on a GPU this machine lacks then opens on the CPU. torch says "no"
    by raising: AssertionError ("Torch not compiled with CUDA enabled") on a CPU-only build,
    RuntimeError without a driver, for a missing device number or an unknown backend."""
    import torch

    from mmgpvae_core.training import resolve_device

    try:
        torch.empty(0, device=resolve_device(name))
    except (AssertionError, RuntimeError):
        return False
    return True


def take_snapshot(model: MMGPVAE, inferred: tuple[dict, dict] | None = None) -> Snapshot:
    """Posterior-mean latents and reconstructions of the model's own data (copies).
    ``inferred``: ``model.infer(dtype=np.float32)``, where the caller has it already."""
    if inferred is None:
        inferred = model.infer(dtype=np.float32)  # one pass; no float64 session copy
    raw, rec = inferred
    post = model.display_latents(raw)
    return Snapshot(
        epoch=len(model.history),
        latents={k: np.array(v["mean"], dtype=np.float32) for k, v in post.items()},
        reconstruction=rec,
        length_scales=np.array(model.length_scales, dtype=float),
    )


def all_session_latents(model: MMGPVAE) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every session's posterior-mean latents in display coordinates (their one space),
    trials of each session in turn (padded with NaN to the longest), and each trial's session
    name: what the latent view draws with All sessions ticked."""
    parts, labels = [], []
    for name, view in model.sessions():
        post = view.latent_posterior()
        parts.append({k: np.asarray(v["mean"], dtype=np.float32) for k, v in post.items()})
        labels += [name] * view.neural.n_trials
    return stack_sessions(parts), np.asarray(labels)


@dataclass(frozen=True)
class Loaded:
    """A file read and checked against the other modality, not yet the session's.
    ``notes``: what the reader dropped or overrode (one line per ``DataWarning``);
    ``options``: what it was read with (``load_dataset``'s: ``field``, ``rate_hz``, …)."""

    path: Path
    modality: str
    dataset: Dataset
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    """One session of a multi-session fit, as the data panel lists it: its name, data and the
    files (and read options) it came from."""

    name: str
    neural: Dataset
    behavior: Dataset | None
    config: DataConfig


@dataclass(frozen=True)
class Opened:
    """A project read from its file (once): the model with its data, and the views of it."""

    path: Path
    model: MMGPVAE
    snapshot: Snapshot | None


@dataclass
class Fit:
    """The state of the fit in progress, as the window's controls left it."""

    running: bool = False
    pause_requested: bool = False  # asked to pause; the worker stops after its epoch
    worker_paused: bool = False  # the worker is blocked between epochs now
    stop_requested: bool = False
    outcome: str = "cancelled"  # the last fit's status: max_epochs, converged, cancelled, failed


@dataclass(frozen=True)
class Enabled:
    """What the window may offer now. ``state``: the training panel's (empty, ready, running,
    paused, stopping); ``edit``: data and settings may change; ``model_locked``: the
    architecture is fixed (a model exists); ``save``: File ▸ Save project; ``sweep``,
    ``controls``, ``compare``: that job may start (none of its kind runs; Cancel otherwise)."""

    state: str
    edit: bool
    model_locked: bool
    save: bool
    sweep: bool = True
    controls: bool = True
    compare: bool = True


F = TypeVar("F", bound=Callable[..., Any])


def tells(what: str) -> Callable[[F], F]:
    """Mark a :class:`Session` method that changes the state: once it returns, every subscriber
    hears ``what`` changed ("data", "model", "fit", "project", "jobs"); MNELAB's
    ``@data_changed``."""

    def mark(method: F) -> F:
        @functools.wraps(method)
        def changed(self: Session, *args: Any, **kwargs: Any) -> Any:
            out = method(self, *args, **kwargs)
            self.tell(what)
            return out

        return changed  # type: ignore[return-value]

    return mark


class Session:
    """The app's state. Public attributes are read freely; change them through the methods,
    which tell the subscribers (:meth:`subscribe`) what changed: the window listens, and shows."""

    def __init__(self) -> None:
        self.neural: Dataset | None = None
        self.behavior: Dataset | None = None
        self.model: MMGPVAE | None = None
        self.project_path: Path | None = None
        self.last_snapshot: Snapshot | None = None
        self.fit = Fit()
        self.jobs: set[str] = set()  # the background jobs running now, besides the fit
        self._listeners: list[Callable[[str], None]] = []
        self._saved_epochs: int | None = None  # the model's epochs when last saved or opened
        # How the next file of each modality is read (``load_dataset``'s ``rate_hz`` for a file
        # without a rate, ``window_s`` for a session without trials: the CLI's --neural-rate,
        # --behavior-rate, --window); and each file held, with the options it was read with.
        self.read_options: dict[str, dict[str, Any]] = {m: {} for m in MODALITIES}
        self.sources: dict[str, tuple[Path, dict[str, Any]]] = {}
        # Several sessions fitted in one latent space (``fit --sessions``): every one, in order;
        # ``neural``/``behavior`` are then the chosen one's, which the views show. [] = one.
        self.recordings: list[Recording] = []
        self.chosen = 0

    # ------------------------------------------------------------------ who listens
    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(what)`` after every change ("data", "model", "fit", "project",
        "jobs"), in the thread that made it (saving runs in a worker thread: a Qt listener
        queues it to its own, as a signal emitted from there does)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.remove(listener)

    def tell(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    # ------------------------------------------------------------------ state
    @property
    def is_training(self) -> bool:
        return self.fit.running

    @property
    def running_jobs(self) -> list[str]:
        """Every job running now: "training" (the fit), "sweep", "controls", "compare"."""
        return (["training"] if self.fit.running else []) + sorted(self.jobs)

    @property
    def epochs_trained(self) -> int:
        return 0 if self.model is None else len(self.model.history)

    @property
    def is_fitted(self) -> bool:
        return self.model is not None and self.model.module is not None

    @property
    def dirty(self) -> bool:
        """The model has trained since it was last saved (or opened)."""
        return self.model is not None and self.epochs_trained != self._saved_epochs

    @property
    def unsaved(self) -> bool:
        """A trained model that no project file holds as it is now (closing would lose it)."""
        return self.epochs_trained > 0 and (self.project_path is None or self.dirty)

    def enabled(self) -> Enabled:
        f = self.fit
        if f.running:
            state = "stopping" if f.stop_requested else "paused" if f.pause_requested else "running"
        else:
            state = "ready" if self.neural is not None else "empty"
        return Enabled(
            state=state,
            edit=not f.running,
            model_locked=self.model is not None,
            save=self.model is not None and (not f.running or f.pause_requested),
            sweep="sweep" not in self.jobs,
            controls="controls" not in self.jobs,
            compare="compare" not in self.jobs,
        )

    def data_summary(self) -> str:
        if self.neural is None:
            return "no data"
        b = "" if self.behavior is None else f" + behavior {self.behavior.n_channels} ch"
        one = f"{self.neural.n_trials} trials · neural {self.neural.n_channels} ch{b}"
        if not self.recordings:
            return one
        return f"{len(self.recordings)} sessions · {self.recordings[self.chosen].name}: {one}"

    def model_summary(self) -> str:
        return "no model" if self.model is None else f"model: {self.epochs_trained} epochs trained"

    def latent_names(self, kw: dict) -> list[str]:
        """Display names of the latents of a split ``kw`` (shared, private_neural, …), each
        with its kernel when ``kw`` has one: "shared 1 · Matérn ½"."""
        counts = list(split_of(kw))
        counts[2] *= self.behavior is not None  # no behavior: no private behavior latents
        out = [latent_name(sub, k) for sub, n in zip(SUBSPACES, counts) for k in range(n)]
        if kw.get("kernel"):
            labels = latent_kernel_labels(kw["kernel"], counts)
            out = [f"{name} · {label}" for name, label in zip(out, labels)]
        return out

    # ------------------------------------------------------------------ why not
    def busy_reason(self, doing: str) -> str | None:
        """Why ``doing`` ("loading data", "opening a project", …) must wait, or None."""
        return f"stop training before {doing}" if self.is_training else None

    def why_not_save(self) -> tuple[str, str] | None:
        """(title, text) of why the model cannot be saved now, or None."""
        if not self.is_fitted:
            return "Nothing to save", "train a model first"
        if self.is_training and not self.fit.worker_paused:
            text = "wait for the pause (after this epoch)" if self.fit.pause_requested else (
                "pause or stop"
            )
            return "Busy", f"{text} before saving"
        return None

    def why_not_export_latents(self) -> tuple[str, str] | None:
        if not self.is_fitted:
            return "Nothing to export", "train a model first"
        if self.is_training and not self.fit.worker_paused:
            return "Busy", "pause or stop training before exporting latents"
        return None

    # ------------------------------------------------------------------ data
    def read_data(self, path: str | Path, modality: str, **options: Any) -> Loaded:
        """Read ``path`` as ``modality`` with the loaders' checks (``options`` go to
        ``load_dataset``: ``field="pos,vel"``), and check it pairs with the other modality
        held; raises ``DataError`` (or the reader's error). Changes nothing."""
        if modality not in MODALITIES:
            raise ValueError(f"modality: expected one of {MODALITIES}, found {modality!r}")
        notes: list[str] = []
        with data_warnings(notes.append):
            ds = load_dataset(path, **{**modality_defaults(modality), **options})
        other = self.behavior if modality == "neural" else self.neural
        if other is not None:
            check_pair(*((ds, other) if modality == "neural" else (other, ds)))
        return Loaded(Path(path), modality, ds, notes, dict(options))

    def set_read_options(self, modality: str, **options: Any) -> None:
        """How the next file of ``modality`` is read: ``rate_hz`` (None: the file's own),
        ``window_s`` (None: the loaders' default, 10 s)."""
        self.read_options[modality] = {k: v for k, v in options.items() if v is not None}

    def options_for(self, modality: str, field: str | None = None) -> dict[str, Any]:
        """The ``load_dataset`` options of the next read of ``modality`` (``field``: the arrays
        the user chose)."""
        return {**self.read_options[modality], **({} if field is None else {"field": field})}

    def reread(self) -> list[Loaded]:
        """Read every file held again with the current :attr:`read_options` (each keeps its
        chosen arrays), checked as a pair; changes nothing (:meth:`set_data` each)."""
        out = []
        for modality, (path, used) in self.sources.items():
            notes: list[str] = []
            options = self.options_for(modality, used.get("field"))
            with data_warnings(notes.append):
                ds = load_dataset(path, **{**modality_defaults(modality), **options})
            out.append(Loaded(path, modality, ds, notes, options))
        by = {lo.modality: lo.dataset for lo in out}
        if "neural" in by and "behavior" in by:
            check_pair(by["neural"], by["behavior"])
        return out

    def data_config(self) -> DataConfig:
        """The files held and the options they were read with, saved with a fitted project."""
        n_path, n_opts = self.sources.get("neural", ("", {}))
        b_path, b_opts = self.sources.get("behavior", ("", {}))
        return DataConfig(str(n_path), str(b_path), dict(n_opts), dict(b_opts))

    @tells("data")
    def set_data(self, loaded: Loaded) -> None:
        """Make a file read by :meth:`read_data` the session's (the model is dropped)."""
        if loaded.modality == "neural":
            self.set_datasets(loaded.dataset, self.behavior)
        else:
            self.set_datasets(self.neural, loaded.dataset)
        self.sources[loaded.modality] = (loaded.path, dict(loaded.options))

    def load_data(self, path: str | Path, modality: str) -> list[str]:
        """:meth:`read_data` then :meth:`set_data`; returns the reader's notes."""
        loaded = self.read_data(path, modality)
        self.set_data(loaded)
        return loaded.notes

    @tells("data")
    def set_datasets(self, neural: Dataset | None, behavior: Dataset | None) -> None:
        """New data: any model is dropped (it was fitted to other data)."""
        for modality, old, new in zip(MODALITIES, self.datasets(), (neural, behavior)):
            if new is not old:
                self.sources.pop(modality, None)  # set_data records the file it came from
        self.neural, self.behavior = neural, behavior
        self.recordings, self.chosen = [], 0  # new files: one session again
        self.reset_model()

    def datasets(self) -> tuple[Dataset | None, Dataset | None]:
        return self.neural, self.behavior

    # ------------------------------------------------------------------ several sessions
    def read_recording(
        self, name: str, neural_path: str | Path, behavior_path: str | Path | None
    ) -> Recording:
        """Read one more session's files (slow: off the GUI thread), checked as a pair and
        against the sessions held (same behavior channels); changes nothing."""
        from mmgpvae_core.api import check_session_names, check_sessions

        neural = load_dataset(neural_path, **self.read_options["neural"])
        behavior = (
            None if not behavior_path
            else load_dataset(behavior_path, **self.read_options["behavior"])
        )
        check_pair(neural, behavior)
        held = self._held_recordings()
        check_session_names([r.name for r in held] + [name])
        check_sessions(
            [r.name for r in held] + [name], [r.neural for r in held] + [neural],
            [r.behavior for r in held] + [behavior],
        )
        config = DataConfig(
            str(neural_path), str(behavior_path or ""), dict(self.read_options["neural"]),
            dict(self.read_options["behavior"]),
        )
        return Recording(name, neural, behavior, config)

    def read_manifest(self, path: str | Path) -> list[Recording]:
        """The sessions of a manifest (``name,neural,behavior[,trials]``; the CLI's
        ``--sessions``), each read and checked as :meth:`read_recording`; changes nothing."""
        from mmgpvae_core.api import check_session_names, check_sessions
        from mmgpvae_core.loaders.manifest import read_manifest

        out = []
        for e in read_manifest(path):
            opts = {m: dict(self.read_options[m]) for m in MODALITIES}
            if e.trials is not None:
                opts["neural"]["trials"] = opts["behavior"]["trials"] = str(e.trials)
            neural = load_dataset(e.neural, **opts["neural"])
            behavior = None if e.behavior is None else load_dataset(e.behavior, **opts["behavior"])
            check_pair(neural, behavior)
            config = DataConfig(
                str(e.neural), str(e.behavior or ""), opts["neural"], opts["behavior"]
            )
            out.append(Recording(e.name, neural, behavior, config))
        names = [r.name for r in out]
        check_session_names(names)
        check_sessions(names, [r.neural for r in out], [r.behavior for r in out])
        return out

    def _held_recordings(self) -> list[Recording]:
        """The sessions held: the recordings, or the one session loaded (named after its
        neural file), or none."""
        if self.recordings or self.neural is None:
            return list(self.recordings)
        name = Path(self.sources["neural"][0]).stem if "neural" in self.sources else "session1"
        return [Recording(session_name(name), self.neural, self.behavior, self.data_config())]

    @tells("data")
    def add_recordings(self, recordings: list[Recording], replace: bool = False) -> None:
        """Hold ``recordings`` besides the sessions held (``replace``: instead of them); the
        model is dropped (it was fitted to other data). The first session is shown."""
        held = [] if replace else self._held_recordings()
        every = held + list(recordings)
        if self.is_training:
            raise RuntimeError("stop training before adding sessions")
        self.reset_model()
        self.recordings, self.chosen = every, 0
        self.neural, self.behavior = every[0].neural, every[0].behavior
        self.sources = {}

    @tells("data")
    def choose_session(self, index: int) -> None:
        """Show session ``index`` in the views (its data; the model's part of it)."""
        r = self.recordings[index]
        self.chosen = index
        self.neural, self.behavior = r.neural, r.behavior
        self.last_snapshot = (
            take_snapshot(self.model.for_session(index)) if self.is_fitted else None
        )

    def training_data(self) -> tuple[Any, Any, dict[str, Any]]:
        """(neural, behavior, partial_fit keywords) of a fit: lists and the session names when
        several sessions are held; the data configs with them."""
        if not self.recordings:
            return self.neural, self.behavior, (
                {"data_config": self.data_config()} if self.sources else {}
            )
        rs = self.recordings
        behavior = None if rs[0].behavior is None else [r.behavior for r in rs]
        return [r.neural for r in rs], behavior, {
            "names": [r.name for r in rs], "data_config": [r.config for r in rs],
        }

    # ------------------------------------------------------------------ model and fit
    @tells("model")
    def reset_model(self) -> None:
        """Forget the model (not while it trains)."""
        if self.is_training:
            raise RuntimeError("stop training before forgetting the model")
        self.model = None
        self.project_path = None
        self.last_snapshot = None
        self._saved_epochs = None

    @tells("fit")
    def begin_fit(self, model: MMGPVAE | None, epochs: int) -> MMGPVAE:
        """A fit starts: ``model`` becomes the session's if it has none (the model is
        continued otherwise); the project remembers the epochs of the latest session."""
        if self.is_training:
            raise RuntimeError("a fit is running already")
        if self.neural is None:
            raise RuntimeError("no neural data")
        if self.model is None:
            if model is None:
                raise ValueError("no model to fit")
            self.model = model
        self.model.set_params(epochs=epochs)
        self.fit = Fit(running=True)
        return self.model

    @tells("fit")
    def request_pause(self, paused: bool) -> None:
        self.fit.pause_requested = paused
        if not paused:
            self.fit.worker_paused = False  # running again: saving must wait for a new pause

    @tells("fit")
    def request_stop(self) -> None:
        self.fit.stop_requested = True
        self.fit.pause_requested = self.fit.worker_paused = False

    @tells("fit")
    def worker_paused(self, paused: bool) -> None:
        self.fit.worker_paused = paused

    @tells("fit")
    def end_fit(self, status: str | None = None) -> None:
        """The fit's thread has ended; ``status`` if the fit reported one."""
        outcome = status or self.fit.outcome
        self.fit = Fit(outcome=outcome)

    def set_outcome(self, status: str) -> None:
        self.fit.outcome = status

    @tells("jobs")
    def job_started(self, name: str) -> None:
        """A background job (``jobs.py``: "sweep", "controls", "compare") has started."""
        self.jobs.add(name)

    @tells("jobs")
    def job_ended(self, name: str) -> None:
        self.jobs.discard(name)

    # ------------------------------------------------------------------ projects
    @staticmethod
    def read_project(path: str | Path) -> Opened:
        """Read a .mmgp project once: the model, its data and history; the views are computed
        from the model as a training snapshot is. Changes nothing."""
        path = Path(path)
        saved = saved_device(path)
        model = MMGPVAE.load(path, device=None if device_usable(saved) else "cpu")
        snapshot = take_snapshot(model) if model.module is not None else None
        return Opened(path, model, snapshot)

    @tells("project")
    def adopt_project(self, opened: Opened, keep_path: bool = True) -> None:
        """Make a project read by :meth:`read_project` the session; ``keep_path=False``: an
        autosave restored, which Save must not overwrite (it asks where)."""
        if self.is_training:
            raise RuntimeError("stop training before opening a project")
        self.neural, self.behavior = opened.model.neural, opened.model.behavior
        self.model = opened.model
        self.recordings = [
            Recording(name, view.neural, view.behavior, view.data_config)
            for name, view in opened.model.sessions()
        ] if opened.model.is_multi_session else []
        self.chosen = 0
        cfg = opened.model.data_config  # the files it was fitted to, as they were read
        self.sources = {
            m: (Path(path), dict(opts))
            for m, path, opts in (
                ("neural", cfg.neural_path, cfg.neural_options),
                ("behavior", cfg.behavior_path, cfg.behavior_options),
            )
            if path
        }
        self.last_snapshot = opened.snapshot
        self.project_path = opened.path if keep_path else None
        self._saved_epochs = self.epochs_trained

    def open_project(self, path: str | Path) -> Opened:
        opened = self.read_project(path)
        self.adopt_project(opened)
        return opened

    @tells("project")
    def forget_project_path(self) -> None:
        self.project_path = None

    @tells("project")
    def save(self, path: str | Path) -> Path:
        """Write the .mmgp project (the file the CLI writes); it becomes the session's file.
        Call only when :meth:`why_not_save` is None."""
        problem = self.why_not_save()
        if problem is not None:
            raise RuntimeError(problem[1])
        path = Path(path)
        self.model.save(path)  # type: ignore[union-attr]
        self.project_path = path
        self._saved_epochs = self.epochs_trained
        return path
