"""The wheel lists its packages by hand: a new sub-package missing there installs without its
files (tests/gui/test_wheel.py would find it, slowly; this finds it at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("mmgpvae_core", "mmgpvae_gui")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found, "no packages found"
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert "mmgpvae_resources" in listed


def test_no_two_test_files_share_a_name():
    """pytest imports test files by basename (no packages under tests/): two test_x.py in
    tests/core and tests/gui stop the whole run at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
