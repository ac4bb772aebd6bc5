"""A crash in any test prints a Python traceback, even after a library reset the handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_crash_after_a_signal_reset_still_prints_its_traceback(tmp_path):
    # What ray.shutdown() does (SIGSEGV back to the default), then a crash in the next test.
    (tmp_path / "test_crash.py").write_text(
        "import faulthandler, signal\n"
        "def test_a_library_resets_the_handler():\n"
        "    signal.signal(signal.SIGSEGV, signal.SIG_DFL)\n"
        "def test_then_crashes():\n"
        "    faulthandler._sigsegv()\n"
    )
    # Our fixture, loaded by path (a package may install a top-level `tests` of its own).
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('ours', {str(ROOT / 'tests' / 'conftest.py')!r})\n"
        "ours = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(ours)\n"
        "_crashes_print_a_traceback = ours._crashes_print_a_traceback\n"
    )
    env = dict(os.environ)
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_crash.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "Fatal Python error: Segmentation fault" in out, out
    assert "in test_then_crashes" in out
