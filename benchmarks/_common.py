"""What several benchmarks share (a helper module, not a benchmark: the smoke test runs every
``benchmarks/*.py`` but this one and any other whose name starts with ``_``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def progress_printer(t0: float, describe: Callable[[dict], str]):
    """An ``on_result(done, total, row)`` for ``run_sweep`` and the controls: prints the seconds
    since ``t0`` (``time.perf_counter()``), ``done/total`` and ``describe(row)`` to stderr."""

    def progress(done: int, total: int, row: dict) -> None:
        print(
            f"[{time.perf_counter() - t0:6.0f} s] {done}/{total} {describe(row)}",
            file=sys.stderr,
            flush=True,
        )

    return progress
