"""Layering contract:
- mmgpvae_core never imports Qt, pyqtgraph or mmgpvae_gui;
- the model folder (`mmgpvae_core/model/`) imports nothing of the package above it but `config`;
- the app's state (`mmgpvae_gui/session.py`) imports no Qt either: it is tested without a display;
- panels and widgets (`mmgpvae_gui/panels/`, `mmgpvae_gui/widgets/`) are views: they import no
  worker or job code (`worker`, `jobs`, `background`, threads, processes) nor the core's
  long-running entry points; they emit requests and `jobs.py` runs them.

Checked two ways: statically (every import statement in the source), and dynamically (importing
every core module leaves no Qt module in sys.modules).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "mmgpvae_gui", "OpenGL")
MODEL_MAY_IMPORT = ("mmgpvae_core.config",)
root = Path(__file__).resolve().parents[1] / "mmgpvae_core"
model = root / "model"
gui = root.parent / "mmgpvae_gui"
session = gui / "session.py"
VIEWS = (gui / "panels", gui / "widgets")
NOT_IN_VIEWS = (  # what starts or runs background work
    "mmgpvae_gui.worker", "mmgpvae_gui.jobs", "mmgpvae_gui.background",
    "threading", "multiprocessing", "concurrent",
)
NOT_IN_VIEWS_NAMES = ("run_sweep", "run_null_test", "run_consistency", "run_compare", "fit")


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import statement in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


def imported_names(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) of every ``from module import name`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield from ((node.lineno, node.module, a.name) for a in node.names)


def above_the_model(name: str) -> bool:
    return (
        name.startswith("mmgpvae_core")
        and name not in MODEL_MAY_IMPORT
        and not name.startswith("mmgpvae_core.model")
    )


bad = []
for path in [*root.rglob("*.py"), session]:
    for line, name in imports(path):
        if name.split(".")[0] in FORBIDDEN:
            bad.append(f"{path}:{line}: imports {name}")
        if model in path.parents and above_the_model(name):
            bad.append(f"{path}:{line}: the model folder imports {name} (only config, model.*)")

for path in (p for folder in VIEWS for p in folder.rglob("*.py")):
    for line, name in imports(path):
        if any(name == m or name.startswith(m + ".") for m in NOT_IN_VIEWS):
            bad.append(f"{path}:{line}: a view imports {name} (background work lives in jobs.py)")
    for line, module, name in imported_names(path):
        if module.startswith("mmgpvae_core") and name in NOT_IN_VIEWS_NAMES:
            bad.append(f"{path}:{line}: a view imports {module}.{name} (runs it: jobs.py does)")


def report(bad: list[str]) -> None:
    if bad:
        print("layering violation:\n  " + "\n  ".join(bad), file=sys.stderr)
        sys.exit(1)


report(bad)  # before importing: a wrong import may not even import
sys.path.insert(0, str(root.parent))
import mmgpvae_core  # noqa: E402

for mod in pkgutil.walk_packages(mmgpvae_core.__path__, "mmgpvae_core."):
    if not mod.name.endswith("__main__"):
        importlib.import_module(mod.name)
report([f"importing mmgpvae_core loaded {m}" for m in sys.modules if m.split(".")[0] in FORBIDDEN])
print("layers ok: mmgpvae_core and mmgpvae_gui/session.py import no Qt; the model folder "
      "imports only config; panels and widgets import no worker or job code")
