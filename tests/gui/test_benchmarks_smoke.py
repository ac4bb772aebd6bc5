"""Every script in ``benchmarks/`` still runs: each in its ``--smoke`` mode (the tiniest sizes, one
local process, no results file), as a user would start it. Benchmarks never run otherwise, so a
renamed import or option would leave one broken unseen. A new script without ``--smoke`` fails
here (argparse exits 2 on the unknown option).

Here, not in ``tests/core``: ``gui_responsiveness.py`` and ``app_scale.py`` open the main window,
on the display pytest-xvfb gives this session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))  # _: helpers
TIMEOUT_S = 240  # a smoke run takes 2-40 s alone; the machine may be busy


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: relative path -> (mtime in ns, size)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_every_benchmark_is_found():
    names = {p.name for p in SCRIPTS}
    assert {"gui_responsiveness.py", "bench_prior.py", "scale.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_a_benchmark_runs_in_smoke_mode_and_writes_nothing_beside_it(script, tmp_path):
    env = dict(
        os.environ,
        QT_API="pyside6",
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # the app's settings, not the user's
        MMGPVAE_AUTOSAVE_DIR=str(tmp_path / "autosave"),
        PYTHONDONTWRITEBYTECODE="1",  # scripts import each other: no __pycache__ in benchmarks/
        OMP_WAIT_POLICY="PASSIVE",
    )
    before = _files(BENCHMARKS)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script.relative_to(ROOT)), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    seconds = time.perf_counter() - t0
    tail = f"\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
    assert proc.returncode == 0, f"{script.name} --smoke exited {proc.returncode}{tail}"
    assert "Traceback" not in proc.stderr, tail
    after = _files(BENCHMARKS)
    changed = sorted(k for k in after if before.get(k) != after[k])
    removed = sorted(set(before) - set(after))
    assert not changed and not removed, f"{script.name} --smoke wrote {changed}, removed {removed}"
    print(f"{script.name} --smoke: {seconds:.1f} s")
