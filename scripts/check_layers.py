"""Layering contract: mmgpvae_core never imports Qt, pyqtgraph or mmgpvae_gui, and the model
folder (`mmgpvae_core/model/`) imports nothing of the package above it except `config`.

Checked two ways: statically (every import statement in the core's source), and dynamically
(importing every core module leaves no Qt module in sys.modules).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "mmgpvae_gui", "OpenGL")
MODEL_MAY_IMPORT = ("mmgpvae_core.config",)
root = Path(__file__).resolve().parents[1] / "mmgpvae_core"
model = root / "model"
bad = []
for path in root.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        bad += [f"{path}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in FORBIDDEN]
        if model in path.parents:
            bad += [
                f"{path}:{node.lineno}: the model folder imports {n} (only config and model.*)"
                for n in names
                if n.startswith("mmgpvae_core")
                and n not in MODEL_MAY_IMPORT
                and not n.startswith("mmgpvae_core.model")
            ]

sys.path.insert(0, str(root.parent))
import mmgpvae_core  # noqa: E402

for mod in pkgutil.walk_packages(mmgpvae_core.__path__, "mmgpvae_core."):
    if mod.name.endswith("__main__"):
        continue
    importlib.import_module(mod.name)
leaked = [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]
bad += [f"importing mmgpvae_core loaded {m}" for m in leaked]
if bad:
    print("layering violation:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print("layers ok: mmgpvae_core imports no Qt")

# The app's state (mmgpvae_gui/session.py) is Qt-free too: it is tested without a display.
session = root.parent / "mmgpvae_gui" / "session.py"
for node in ast.walk(ast.parse(session.read_text(), str(session))):
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
        names = [node.module]
    qt = [n for n in names if n.split(".")[0] in FORBIDDEN]  # Qt, or GUI modules that use it
    if qt:
        print(f"layering violation:\n  {session}:{node.lineno}: imports {qt[0]}", file=sys.stderr)
        sys.exit(1)
print("layers ok: mmgpvae_gui/session.py imports no Qt")
