"""Layering contract:
- mmgpvae_core never imports Qt, pyqtgraph or mmgpvae_gui;
- the model folder (`mmgpvae_core/model/`) imports nothing of the package above it but `config`;
- the app's state (`mmgpvae_gui/session.py`) imports no Qt either: it is tested without a display
  (of the GUI it may import only `subspaces.py`, the words for the subspaces, Qt-free too);
- panels and widgets (`mmgpvae_gui/panels/`, `mmgpvae_gui/widgets/`) are views: they import no
  worker or job code (`worker`, `jobs`, `background`, threads, processes) nor the core's
  long-running entry points; they emit requests and `jobs.py` runs them;
- no import circle among the modules of mmgpvae_core and mmgpvae_gui: a static graph of every
  import statement (in functions too; not those under ``if TYPE_CHECKING:``), whose strongly
  connected components must be single modules.

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
QT_FREE_GUI = {"mmgpvae_gui.session": session, "mmgpvae_gui.subspaces": gui / "subspaces.py"}
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


def module_names() -> dict[str, Path]:
    """Dotted name → file of every module of the two packages (a package: its __init__)."""
    out = {}
    for pkg in (root, gui):
        for path in pkg.rglob("*.py"):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def runtime_imports(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``path`` except those under ``if TYPE_CHECKING:``."""

    def visit(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (n for c in child.orelse for n in visit(ast.Module([c], [])))
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from visit(child)

    yield from visit(ast.parse(path.read_text(), str(path)))


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of the two packages it imports (``from pkg import mod``: pkg.mod)."""
    mods = module_names()

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for mod, path in mods.items():
        here = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        out = set()
        for node in runtime_imports(path):
            if isinstance(node, ast.Import):
                out |= {known(a.name) for a in node.names}
                continue
            base = node.module or ""
            if node.level:  # a relative import
                up = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else known(base))
        graph[mod] = out - {None, mod}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


# Circles known when this check was written, to be untied (none left): a new circle fails.
KNOWN_CIRCLES: list[set[str]] = []


def above_the_model(name: str) -> bool:
    return (
        name.startswith("mmgpvae_core")
        and name not in MODEL_MAY_IMPORT
        and not name.startswith("mmgpvae_core.model")
    )


bad = []
for path in [*root.rglob("*.py"), *QT_FREE_GUI.values()]:
    for line, name in imports(path):
        if path in QT_FREE_GUI.values() and name in QT_FREE_GUI:
            continue
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

for circle in import_circles(import_graph()):
    if any(set(circle) <= known for known in KNOWN_CIRCLES):
        print("known import circle (to be untied): " + " ↔ ".join(circle))
    else:
        bad.append("import circle: " + " ↔ ".join(circle))


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
print("layers ok: mmgpvae_core, mmgpvae_gui/session.py and subspaces.py import no Qt; the model "
      "folder "
      "imports only config; panels and widgets import no worker or job code; no new import "
      "circle")
