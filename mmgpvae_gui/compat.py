"""Work-arounds for bugs in the Qt binding, applied once when the GUI is imported.

PySide6 6.12 on CPython < 3.12 drops one reference to ``None`` each time a wrapped C++ method
returns None (``QGraphicsItem.parentItem()``, ``QObject.parent()``, ...), and likewise for
``True``/``False`` and other shared singletons. pyqtgraph calls such
methods hundreds of times per redraw, so a live plot would crash the interpreter within minutes
("Fatal Python error: none_dealloc"). CPython 3.12+ makes None immortal, which hides the bug; on
older versions we do the same for these shared objects (None, True, False, small ints, ...)
by raising their reference counts far beyond what can leak.
"""

from __future__ import annotations

import ctypes
import sys

_IMMORTAL = 1 << 60


def _none_refs_leak() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(50):
        probe.parent()
    return sys.getrefcount(None) < before - 25


def make_none_immortal() -> bool:
    """Apply the fix where the bug is present; return whether it was applied."""
    if sys.version_info >= (3, 12) or not _none_refs_leak():
        return False
    shared = [None, True, False, NotImplemented, Ellipsis, (), "", *range(-5, 257)]
    for obj in shared:
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        if refcnt.value < _IMMORTAL:
            refcnt.value += _IMMORTAL
    return True
