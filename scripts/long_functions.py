"""Functions longer than 80 lines in mmgpvae_core and mmgpvae_gui (from the source's syntax tree:
a function's first line, decorators included, to its last).

    python scripts/long_functions.py          list them; exit 1 if one is not in KNOWN
    python scripts/long_functions.py --all    list them all, known or not, and exit 0

``KNOWN`` holds the long functions left in modules other work owns (issue 23, "short
functions"); it may only shrink: a function that grows past the limit, or a new one, fails.
``tests/core/test_function_length.py`` runs the check with the suite.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

LIMIT = 80
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mmgpvae_core", "mmgpvae_gui")
KNOWN: set[str] = set()


def long_functions(limit: int = LIMIT) -> Iterator[tuple[str, int]]:
    """("path:qualified name", lines) of every function over ``limit`` lines."""
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield from _in(ast.parse(path.read_text(), rel), rel, "", limit)


def _in(node: ast.AST, rel: str, prefix: str, limit: int) -> Iterator[tuple[str, int]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                lines = child.end_lineno - first + 1
                if lines > limit:
                    yield f"{rel}:{name}", lines
            yield from _in(child, rel, name + ".", limit)


def main(argv: list[str]) -> int:
    found = dict(long_functions())
    for name, lines in sorted(found.items(), key=lambda kv: -kv[1]):
        print(f"{lines:4d} lines  {name}{'  (known)' if name in KNOWN else ''}")
    if "--all" in argv:
        return 0
    new = sorted(set(found) - KNOWN)
    if new:
        print(f"over {LIMIT} lines: " + ", ".join(new) + " (split them)", file=sys.stderr)
        return 1
    for gone in sorted(KNOWN - set(found)):
        print(f"no longer over {LIMIT} lines: {gone} (remove it from KNOWN)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
