"""Opening and saving, for the window: data files, projects, File ▸ Open recent and the session
autosaved before a crash.

Each command checks that the :class:`~mmgpvae_gui.session.Session` may do it now, runs the slow
part off the GUI thread through the window's :class:`~mmgpvae_gui.host.Host` (``host.live``: the
busy indicator), says why on failure through ``host.report`` (never a traceback), and on success
changes the session and emits a signal, which the window shows. It never touches a panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from mmgpvae_core.loaders import AxisChoiceError, FieldChoiceError, array_choices, list_arrays
from mmgpvae_gui import actions
from mmgpvae_gui.actions import RecentProjects
from mmgpvae_gui.autosave import Autosave, ask_restore
from mmgpvae_gui.export import file_error_text, refused
from mmgpvae_gui.host import Host
from mmgpvae_gui.session import Session


def offered(arrays: dict[str, tuple]) -> dict[str, tuple]:
    """The arrays of a file a user may read as data (not its time vector, rates or labels)."""
    return {k: arrays[k] for k in array_choices(arrays)}


class Files(QObject):
    """The file commands of one window (its QObject parent, which the file dialogs belong to)."""

    data_loaded = Signal(object)  # session.Loaded, now the session's
    #: a MAT/NPZ/HDF5 file's arrays to choose from: modality, Path, {name: shape}, chosen names
    #: ({} when the file holds one array or is of another format)
    arrays_found = Signal(str, object, object, object)
    project_opened = Signal(object)  # session.Opened, now the session's
    project_saved = Signal(object)  # Path
    sessions_changed = Signal()  # the session's recordings (several sessions) changed

    def __init__(
        self,
        session: Session,
        recent: RecentProjects,
        autosave: Autosave,
        host: Host,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.session, self.recent, self.autosave, self.host = session, recent, autosave, host
        self._live, self._is_busy, self._report = host.live, host.is_busy, host.report

    def _refused(self, doing: str) -> bool:
        """True (and a message, if a fit runs) when ``doing`` must wait for a fit or a file."""
        reason = self.session.busy_reason(doing)
        if reason:
            self._report("Busy", reason)
        return bool(reason) or self._is_busy()

    # ------------------------------------------------------------------ data
    def open_data_file(self, path: str | Path, modality: str, field: str | None = None) -> bool:
        """Load ``path`` as the neural or behavior modality (``field``: the arrays to read in a
        MAT/NPZ/HDF5 file, ``"pos,vel"`` joined as channels). A file with several arrays and
        none named offers them (``arrays_found``) and loads nothing; on bad data, say why and
        keep the previous data. The session's ``read_options`` (a rate, a window length) apply."""
        if self._refused("loading data"):
            return False
        options = self.session.options_for(modality, field)

        def read():
            loaded = self.session.read_data(path, modality, **options)
            return loaded, offered(list_arrays(path))

        try:
            loaded, arrays = self._live(f"Reading {Path(path).name}…", read)
        except FieldChoiceError as exc:  # several arrays, none named: the user chooses
            if not (choices := offered(exc.arrays)):
                self._report(f"Cannot load the {modality} file", file_error_text(path, exc))
                return False
            self.arrays_found.emit(modality, Path(path), choices, [])
            return False
        except AxisChoiceError as exc:  # a wide matrix: the panel offers it transposed
            self.arrays_found.emit(modality, Path(path), offered(list_arrays(path)), [])
            text = f"{exc}. In the data panel, tick {exc.field}.T to read it transposed."
            self._report(f"Cannot load the {modality} file", text)
            return False
        except Exception as exc:  # an unreadable file must never kill the app
            self._report(f"Cannot load the {modality} file", file_error_text(path, exc))
            return False
        self.host.settings().setValue("recent/data_dir", str(Path(path).resolve().parent))
        self.session.set_data(loaded)
        self.data_loaded.emit(loaded)
        several = len(arrays) > 1  # arrays: offered already
        chosen = loaded.dataset.field.split(",") if several else []
        self.arrays_found.emit(modality, Path(path), arrays if several else {}, chosen)
        return True

    def reread(self) -> bool:
        """Read the files held again with the session's current ``read_options`` (a new rate or
        window length), both together so that they still pair; on failure say why and keep the
        data as they were."""
        if self._refused("loading data") or not self.session.sources:
            return False
        try:
            loaded = self._live("Reading the files again…", self.session.reread)
        except Exception as exc:  # an unreadable file must never kill the app
            paths = " and ".join(str(p) for p, _ in self.session.sources.values())
            self._report("Cannot read the files again", file_error_text(paths, exc))
            return False
        for one in loaded:
            self.session.set_data(one)
            self.data_loaded.emit(one)
        return True

    def add_session(self, name: str, neural: str | Path, behavior: str | Path | None) -> bool:
        """Add one session (its files) to the sessions held (the one loaded becomes the first);
        on bad data or a mismatch (other behavior channels) say why and change nothing."""
        if self._refused("adding a session"):
            return False
        try:
            rec = self._live(
                f"Reading {Path(neural).name}…",
                lambda: self.session.read_recording(name, neural, behavior),
            )
        except Exception as exc:  # an unreadable file must never kill the app
            self._report("Cannot add the session", file_error_text(neural, exc))
            return False
        self.session.add_recordings([rec])
        self.sessions_changed.emit()
        return True

    def open_manifest(self, path: str | Path) -> bool:
        """The sessions of a manifest replace the data held (``name,neural,behavior[,trials]``;
        ``mmgpvae fit --sessions``)."""
        if self._refused("loading data"):
            return False
        try:
            recs = self._live(
                f"Reading the sessions of {Path(path).name}…",
                lambda: self.session.read_manifest(path),
            )
        except Exception as exc:  # an unreadable file must never kill the app
            self._report("Cannot read the sessions", file_error_text(path, exc))
            return False
        self.session.add_recordings(recs, replace=True)
        self.sessions_changed.emit()
        return True

    def open_demo(self) -> bool:
        """The bundled demo data set: simulated spikes and keypoints with known latents."""
        ok = self.open_data_file(self.host.demo_dir / "neural.h5", "neural")
        return ok and self.open_data_file(self.host.demo_dir / "behavior.h5", "behavior")

    def open_paths(self, paths: list[Path]) -> None:
        """Dropped files: a project opens; data files go to the modality their name suggests,
        else neural first, then behavior."""
        for p in paths:
            name = p.name.lower()
            if p.suffix == ".mmgp":
                self.open_project(p)
            elif "behav" in name or "pose" in name:
                self.open_data_file(p, "behavior")
            elif "neur" in name or "spike" in name or self.session.neural is None:
                self.open_data_file(p, "neural")
            else:
                self.open_data_file(p, "behavior")

    def simulate(self, text: str, fn: Callable[[], Any]) -> Any | None:
        """``fn()`` (a simulated data set) with the window live; None if now is not the time."""
        return None if self._refused("loading data") else self._live(text, fn)

    # ------------------------------------------------------------------ projects
    def open_project(self, path: str | Path, remember: bool = True) -> bool:
        """Reopen a .mmgp project, read once; ``remember``: list it under File ▸ Recent."""
        if self._refused("opening a project"):
            return False
        path = Path(path)
        try:
            opened = self._live(f"Opening {path.name}…", lambda: Session.read_project(path))
        except Exception as exc:
            self._report("Cannot open the project", file_error_text(path, exc))
            return False
        self.session.adopt_project(opened)
        if remember:
            self.recent.add(path.resolve())
        self.project_opened.emit(opened)
        return True

    def open_chosen_fit(self, row: dict) -> str | None:
        """A row of Model selection: open its saved fit like a project ("opened"); without one,
        after asking to forget the current model, "split" (the caller sets the row's split for
        Train). None when nothing was done."""
        if self._refused("loading a fit"):
            return None
        project = row.get("project") or ""
        if project and Path(project).exists():
            return "opened" if self.open_project(project) else None
        forget = "Forget the current model to train the chosen split?"
        if self.session.model is not None and not self.host.confirm(forget):
            return None
        return "split"

    def open_project_dialog(self) -> None:
        actions.open_project_dialog(self.parent())

    def save_project(self, path: str | Path) -> bool:
        """Write the .mmgp project (the same file the CLI writes)."""
        if refused(self.session.why_not_save(), self._report, self._is_busy):
            return False
        path = Path(path)
        try:
            self._live(f"Saving {path.name}…", lambda: self.session.save(path))
        except Exception as exc:
            self._report("Cannot save the project", f"{path}: {exc}")
            return False
        self.host.settings().setValue("recent/project_dir", str(path.resolve().parent))
        self.recent.add(path.resolve())
        self.project_saved.emit(path)
        return True

    def save_dialog(self) -> None:
        """File ▸ Save: to the project's file, or ask where."""
        if self.session.project_path is None:
            self.save_as_dialog()
        else:
            self.save_project(self.session.project_path)

    def save_as_dialog(self) -> None:
        if self.session.model is None:
            self._report("Nothing to save", "train a model first")
        elif path := actions.ask_project_path(self.parent()):
            self.save_project(path)

    def offer_restore(self) -> bool:
        """After a crash: offer the newest autosaved session left behind, and reopen it (as an
        unsaved project) if the user wants it. True if a session was restored."""
        if self.session.is_training or self.session.model is not None:
            return False
        latest = ask_restore(self.host.confirm, self.autosave.folder)
        if latest is None or not self.open_project(latest, remember=False):
            return False  # the dialog said why; the file stays for another try
        self.autosave.adopt(latest)  # ours now: a crash before the next fit still keeps it
        self.session.forget_project_path()  # Save asks where: not the autosave folder
        return True
