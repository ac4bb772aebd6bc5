"""The wheel as a user installs it (not editable): the demo data set comes with it.

The wheel is built from a copy of the sources, installed into a fresh virtual environment outside
the repository (its other dependencies come from this environment's site-packages through a
.pth file, so nothing is downloaded), and its entry points are run from a folder outside the
repository with nothing of it on sys.path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

setuptools = pytest.importorskip("setuptools")

SOURCES = ("pyproject.toml", "README.md", "mmgpvae_core", "mmgpvae_gui", "resources")
DEMO_FILES = ("neural.h5", "behavior.h5", "truth.npz")
ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, venv bin folder, environment for its commands)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=skip)
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)])
    (wheel,) = (tmp / "dist").glob("mmgpvae_studio-*.whl")

    env_dir = tmp / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    # torch, PySide6, … from this environment; its .pth files (our editable install) stay unread.
    Path(site.stdout.strip(), "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])

    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home), MMGPVAE_AUTOSAVE_DIR=str(home / "auto"))
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    return wheel, bin_dir, env, home


def test_wheel_ships_every_package_and_the_demo(installed):
    wheel = installed[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = setuptools.find_packages(str(ROOT), include=["mmgpvae_core*", "mmgpvae_gui*"])
    for pkg in [*packages, "mmgpvae_resources"]:
        assert f"{pkg.replace('.', '/')}/__init__.py" in names, f"{pkg} is not in the wheel"
    for f in DEMO_FILES:
        assert f"mmgpvae_resources/demo/{f}" in names


def test_installed_app_opens_the_demo_from_outside_the_repository(installed):
    _, bin_dir, env, home = installed
    where = _run(
        [str(bin_dir / "python"), "-c",
         "import sys, mmgpvae_core, mmgpvae_gui.app as app; "
         "print(mmgpvae_core.__file__); print(app.DEMO_DIR); print(*sys.path, sep='\\n')"],
        cwd=home, env=env,
    ).stdout.splitlines()
    env_root = str(bin_dir.parent)
    assert where[0].startswith(env_root) and where[1].startswith(env_root)
    assert all(Path(where[1], f).is_file() for f in DEMO_FILES)
    assert not any(p and Path(p).resolve() == ROOT for p in where[2:])

    proc = _run([str(bin_dir / "mmgpvae-gui"), "--demo", "--quit-after", "3000"], cwd=home, env=env)
    assert "Traceback" not in proc.stderr  # and the exit status says no error was shown

    _run([str(bin_dir / "mmgpvae"), "simulate", "sim", "--trials", "4", "--bins", "20"], cwd=home, env=env)
    assert (home / "sim" / "neural.h5").is_file()
