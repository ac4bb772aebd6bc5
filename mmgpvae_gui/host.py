"""What a window lends the parts that work for it: one :class:`Host` object instead of a lambda
each. ``Files``, ``Exporter``, ``TrainingControl`` and ``SessionClock`` take it; the window makes
it (``main_window.WindowHost``), and a test may hand them its own.

Here too, so that every module reaches them without importing the entry point (``app.py``, which
imports the window): the app's QSettings and the bundled demo folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


def demo_dir() -> Path:
    """The bundled demo data set (neural.h5, behavior.h5, truth.npz): package data of
    ``mmgpvae_resources``, which is the repository's top-level ``resources/`` folder in a checkout
    and is shipped inside the wheel."""
    from importlib.resources import files

    try:
        return Path(str(files("mmgpvae_resources") / "demo"))
    except ModuleNotFoundError:  # a checkout whose editable install predates that package
        return Path(__file__).resolve().parents[1] / "resources" / "demo"


DEMO_DIR = demo_dir()


def settings():
    """The app's QSettings (recent files and folders, the window, the model panel)."""
    from PySide6.QtCore import QSettings

    return QSettings("MMGPVAE", "MMGPVAE Studio")


class Host(Protocol):
    """The window's services, as its parts see them."""

    demo_dir: Path  # the bundled demo data set

    def live(self, text: str, fn: Callable[[], T]) -> T:
        """``fn()`` off the GUI thread, the window repainting and a busy bar saying ``text``;
        input to the window blocked until it returns (its result, or its exception)."""
        ...

    def is_busy(self) -> bool:
        """A file is being read or written now (``live`` is running)."""
        ...

    def report(self, title: str, text: str) -> None:
        """Say why something failed or cannot be done (a message, never a traceback)."""
        ...

    def confirm(self, question: str) -> bool:
        """Ask the user a yes / no question."""
        ...

    def settings(self) -> Any:
        """The app's QSettings."""
        ...
