"""Handing memory freed by the process back to the operating system.

glibc's ``malloc`` keeps the memory of freed medium-sized arrays (a recording read whole, then
binned and dropped) in its heap for later use, and the process stays at its peak resident size
although nothing holds that memory: after loading an hour of 500 units, 100 MB of the 140 MB
beyond the binned data (benchmarks/RESULTS.md, "Scale"). :func:`release` asks glibc to return
every free page (``malloc_trim(0)``); on other C libraries (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache


@cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release() -> bool:
    """Return the heap's free pages to the operating system; whether any were returned."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
