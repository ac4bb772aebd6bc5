"""Autosave of a training session, and the offer to restore it after a crash.

Each window writes its session to ``<folder>/session-<pid>-<k>.mmgp`` — an ordinary ``.mmgp``
project, written atomically by the core's checkpointer from the training thread between epochs
— every ``DEFAULT_CHECKPOINT_EVERY_S`` while it trains and when a fit ends. A window that closes
normally deletes its file. A file whose process is no longer running is what a crash (or a kill)
left behind: the next start offers to restore it.

The folder is the platform's application-data folder, or ``$MMGPVAE_AUTOSAVE_DIR``.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from mmgpvae_core.project.file import pid_alive

_NAME = re.compile(r"^session-(\d+)-[0-9a-z]+\.mmgp$")


def autosave_folder() -> Path:
    env = os.environ.get("MMGPVAE_AUTOSAVE_DIR")
    if env:
        return Path(env)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".mmgpvae-studio") / "autosave"


_OWN: set[Path] = set()  # the files of this process's windows (a reused pid is not us)


class Autosave:
    """This window's autosave file (it exists only once a fit has written it)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or autosave_folder()
        # pid (to tell a live instance from a crashed one) and a random token (a container may
        # give the next launch the crashed process's pid)
        self.path = self.folder / f"session-{os.getpid()}-{secrets.token_hex(4)}.mmgp"
        _OWN.add(self.path)

    def discard(self) -> None:
        """The session ended normally: nothing to restore."""
        self.path.unlink(missing_ok=True)

    def adopt(self, orphan: Path) -> None:
        """Make a restored session's file this window's own, so that a crash before its next
        fit still leaves it to restore."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.replace(orphan, self.path)


def orphans(folder: Path | None = None) -> list[Path]:
    """Autosaves left by processes that are no longer running, newest first."""
    folder = folder or autosave_folder()
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if not m or not p.is_file() or p in _OWN:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or not pid_alive(pid):  # our pid, not our file: a reused pid
            found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def describe(path: Path) -> str:
    """'12 epochs, saved 2026-12-02 14:03' (or only the time if the file cannot be read)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    try:
        import h5py

        with h5py.File(path, "r") as f:
            n = len(f["history/epoch"]) if "history/epoch" in f else 0
        return f"{n} epochs, saved {when}"
    except (OSError, KeyError):
        return f"saved {when}"


def ask_restore(confirm, folder: Path | None = None) -> Path | None:
    """After a crash: ask (``confirm(question) -> bool``) whether to restore the newest autosave
    left behind; the file to reopen, or None. A declined file is deleted (only the one asked
    about: the others are offered at the next start)."""
    found = orphans(folder)
    if not found:
        return None
    latest = found[0]
    question = (
        "MM-GPVAE Studio did not close normally last time. Restore the session it "
        f"autosaved ({describe(latest)})?\n\nNo discards it."
    )
    if not confirm(question):
        latest.unlink(missing_ok=True)
        return None
    return latest
