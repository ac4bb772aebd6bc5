"""The menus and shortcuts as a table (napari's ``qactions``): each :class:`Action` names its
menu, text, shortcut, tip, what it calls and when it is enabled. The window builds its menu bar
from :data:`ACTIONS` with :func:`build_menus`; nothing else adds menu items. Here too: the
commands that only ask for a file before calling the window (napari's ``qactions/_file.py``),
and File ▸ Open recent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMenuBar, QMessageBox, QWidget

from mmgpvae_gui import export
from mmgpvae_gui.host import settings

Shortcut = str | QKeySequence.StandardKey | None
Handler = str | Callable[..., Any]
DATA_FILTER = "Recordings (*.h5 *.hdf5 *.nwb *.npz *.npy *.mat *.csv *.slp);;All files (*)"
PROJECT_FILTER = "MM-GPVAE projects (*.mmgp)"
MAX_RECENT = 8
SHORTCUTS_HELP = (
    "Ctrl+O open neural file · Ctrl+B open behavior file · Ctrl+Shift+O open project\n"
    "Ctrl+S save project · Space train / pause / resume · Ctrl+. stop\n"
    "← / → previous / next trial (reconstruction view) · Ctrl+Q quit"
)


# ---------------------------------------------------------------------------- commands
def open_data_dialog(win, modality: str) -> None:
    start = settings().value("recent/data_dir", str(win.host.demo_dir))
    path, _ = QFileDialog.getOpenFileName(win, f"Open {modality} file", start, DATA_FILTER)
    if path:
        win.open_data_file(path, modality)


def add_session_dialog(win) -> None:
    """Ask for a session's neural file, then its behavior file (cancel: none), and add it."""
    start = settings().value("recent/data_dir", str(win.host.demo_dir))
    neural, _ = QFileDialog.getOpenFileName(win, "Add a session: neural file", start, DATA_FILTER)
    if not neural:
        return
    behavior, _ = QFileDialog.getOpenFileName(
        win, "Add a session: behavior file (cancel: none)", str(Path(neural).parent), DATA_FILTER
    )
    win.add_session(neural, behavior or None)


def open_manifest_dialog(win) -> None:
    start = settings().value("recent/data_dir", str(win.host.demo_dir))
    path, _ = QFileDialog.getOpenFileName(
        win, "Open a sessions manifest", start, "Sessions manifest (*.csv);;All files (*)"
    )
    if path:
        win.open_manifest(path)


def open_project_dialog(win) -> None:
    start = settings().value("recent/project_dir", str(Path.home()))
    path, _ = QFileDialog.getOpenFileName(win, "Open project", start, PROJECT_FILTER)
    if path:
        win.open_project(path)


def ask_project_path(win) -> str | None:
    """Where to save the project (a save dialog; ``.mmgp`` added), or None if cancelled."""
    start = settings().value("recent/project_dir", str(Path.home()))
    path, _ = QFileDialog.getSaveFileName(win, "Save project", start, PROJECT_FILTER)
    return (path if path.endswith(".mmgp") else path + ".mmgp") if path else None


def export_latents_dialog(win) -> None:
    path = export.ask_latents_path(win, settings().value("recent/export_dir", str(Path.home())))
    if path:
        win.export_latents(path)


def show_shortcuts(win) -> None:
    QMessageBox.information(win, "Keyboard shortcuts", SHORTCUTS_HELP)


class RecentProjects:
    """File ▸ Open recent: the last projects saved or opened (in the settings), newest first;
    choosing one calls ``open_project(path)``."""

    def __init__(self, menu: QMenu, open_project: Callable[[str], Any]) -> None:
        self.menu, self._open = menu, open_project
        self.refresh()

    def paths(self) -> list[str]:
        v = settings().value("recent/projects", [])
        return [str(p) for p in ([v] if isinstance(v, str) else v or [])]

    def add(self, path: Path) -> None:
        paths = [str(path)] + [p for p in self.paths() if p != str(path)]
        settings().setValue("recent/projects", paths[:MAX_RECENT])
        self.refresh()

    def refresh(self) -> None:
        self.menu.clear()
        for p in self.paths():
            self.menu.addAction(p).triggered.connect(lambda _=False, p=p: self._open(p))
        self.menu.setEnabled(bool(self.paths()))


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Action:
    """One menu entry. ``menu``: "&File", or "&File/&Export" for a submenu; ``text`` empty: a
    separator; ``handler``: the name of the window's method ("files.save_dialog": of one of
    its parts), called with ``args``, or a command of this module, called with the window and
    ``args``;
    ``enabled_when``: a field of :class:`mmgpvae_gui.session.Enabled` (None: always);
    ``name``: the key of the built QAction (or of the QMenu, for ``submenu``)."""

    menu: str
    text: str = ""
    handler: Handler = ""
    args: tuple[Any, ...] = ()
    shortcut: Shortcut = None
    tip: str = ""
    enabled_when: str | None = None
    name: str = ""
    submenu: bool = False  # an empty submenu the window fills (Open recent)


def _separator(menu: str) -> Action:
    return Action(menu)


def _export_tip(view: str) -> str:
    if view in export.RASTER_ONLY:
        return "Save the 3D view as a PNG screenshot of any size"
    return "Save as PNG (chosen DPI), SVG or PDF"


FILE, EXPORT, TRAINING, HELP = "&File", "&File/&Export", "&Training", "&Help"
Key = QKeySequence.StandardKey

ACTIONS: list[Action] = [
    Action(FILE, "Open &neural file…", open_data_dialog, ("neural",), Key.Open,
           "Load the neural recording"),
    Action(FILE, "Open &behavior file…", open_data_dialog, ("behavior",), "Ctrl+B",
           "Load the behavior recording"),
    Action(FILE, "Open &project…", open_project_dialog, (), "Ctrl+Shift+O",
           "Reopen a saved .mmgp project"),
    Action(FILE, "Open &recent", name="recent", submenu=True),
    _separator(FILE),
    Action(FILE, "Open &demo data set", "open_demo",
           tip="Simulated spikes and keypoints with known latents"),
    Action(FILE, "Open rotating-&digit demo", "open_digit_demo",
           tip="The paper's experiment: a handwritten digit rotated by a shared latent, "
           "with Poisson spikes"),
    _separator(FILE),
    Action(FILE, "&Save project", "files.save_dialog", (), Key.Save, "Save the .mmgp project",
           enabled_when="save", name="save"),
    Action(FILE, "Save project &as…", "files.save_as_dialog", (), "Ctrl+Shift+S",
           "Save the .mmgp project under a new name"),
    _separator(FILE),
    *[
        Action(EXPORT, f"{label}…", "open_export_dialog", ([view],), tip=_export_tip(view))
        for view, label in export.VIEWS.items()
    ],
    _separator(EXPORT),
    Action(EXPORT, "Export &latents…", export_latents_dialog,
           tip="Posterior latents and variances as .nwb (pynwb, pynapple) or .npz"),
    _separator(FILE),
    Action(FILE, "&Quit", "close", (), Key.Quit, "Quit"),
    Action(TRAINING, "Train / pause / resume", "training.start_or_pause", (), "Space",
           "Start, pause or resume training", name="train"),
    Action(TRAINING, "Stop", "training.stop", (), "Ctrl+.", "Stop after the current epoch"),
    Action(TRAINING, "New model", "reset_model", tip="Forget the trained model"),
    _separator(TRAINING),
    Action(TRAINING, "&Model selection…", "show_model_selection", (), "Ctrl+M",
           "Cross-validate latent splits and load the best fit"),
    Action(HELP, "&Keyboard shortcuts", show_shortcuts),
]


def build_menus(
    bar: QMenuBar, actions: list[Action], target: QWidget
) -> dict[str, QAction | QMenu]:
    """Add ``actions`` to the menu bar, in order, each calling its handler on ``target``.
    Returns the named entries (QAction, or QMenu for a submenu); the QActions are children of
    ``target``, so that their shortcuts work wherever the focus is in the window."""
    menus: dict[str, QMenu] = {}
    named: dict[str, QAction | QMenu] = {}

    def menu_for(path: str) -> QMenu:
        if path not in menus:
            parent, _, title = path.rpartition("/")
            menus[path] = (menu_for(parent) if parent else bar).addMenu(title)
        return menus[path]

    for spec in actions:
        menu = menu_for(spec.menu)
        if not spec.text:
            menu.addSeparator()
            continue
        if spec.submenu:
            named[spec.name] = menu.addMenu(spec.text)
            continue
        a = QAction(spec.text, target)
        if spec.shortcut is not None:
            a.setShortcut(QKeySequence(spec.shortcut))
        a.setStatusTip(spec.tip)
        a.setToolTip(spec.tip)
        a.triggered.connect(_caller(target, spec.handler, spec.args))
        menu.addAction(a)
        if spec.name:
            named[spec.name] = a
    return named


def _caller(target: QWidget, handler: Handler, args: tuple[Any, ...]) -> Callable[[bool], None]:
    def call(_checked: bool = False) -> None:
        if isinstance(handler, str):  # a method of the window, or of one of its parts: "files.x"
            fn: Any = target
            for name in handler.split("."):  # looked up now: the parts may come after the menus
                fn = getattr(fn, name)
            fn(*args)
        else:
            handler(target, *args)

    return call
