"""A sessions manifest (``mmgpvae fit --sessions SESSIONS.csv``): one row per session.

Columns ``name,neural,behavior`` and optionally ``trials`` (a trials table per session); paths
absolute or relative to the manifest's folder. A missing ``behavior`` cell means a session without
behavior (then every session must have none)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from mmgpvae_core.data import DataError

REQUIRED = ("name", "neural", "behavior")
OPTIONAL = ("trials",)


@dataclass(frozen=True)
class SessionEntry:
    """One row of a manifest, its paths resolved."""

    name: str
    neural: Path
    behavior: Path | None
    trials: Path | None = None


def read_manifest(path: str | Path) -> list[SessionEntry]:
    """The sessions a manifest lists, in order. DataError naming the manifest, the row and the
    column for a missing column, an empty or repeated name, or a file that does not exist."""
    from mmgpvae_core.api import SESSION_NAME

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "-", "sessions manifest not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if missing := [c for c in REQUIRED if c not in columns]:
            raise DataError(
                path, ",".join(missing),
                f"missing column(s); expected a CSV with columns {','.join(REQUIRED)}"
                f"[,{','.join(OPTIONAL)}], found {columns or 'no header'}",
            )
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise DataError(path, "-", "no sessions; expected one row per session")
    entries, seen = [], set()
    for i, row in enumerate(rows, start=2):  # line numbers as an editor shows them
        name = row["name"]
        if not SESSION_NAME.match(name):
            raise DataError(
                path, f"name (line {i})",
                f"{name!r}: expected letters, digits, '_', '.' or '-' (it names exported files)",
            )
        if name in seen:
            raise DataError(path, f"name (line {i})", f"session {name!r} is listed twice")
        seen.add(name)
        files = {}
        for column in ("neural", "behavior", "trials"):
            cell = row.get(column, "")
            if not cell:
                if column == "neural":
                    raise DataError(path, f"neural (line {i})", "empty; expected a file")
                files[column] = None
                continue
            file = Path(cell).expanduser()
            file = file if file.is_absolute() else path.resolve().parent / file
            if not file.exists():
                raise DataError(path, f"{column} (line {i})", f"{cell}: file not found ({file})")
            files[column] = file
        entries.append(SessionEntry(name, files["neural"], files["behavior"], files["trials"]))
    if len({e.behavior is None for e in entries}) > 1:
        raise DataError(
            path, "behavior",
            "some sessions have a behavior file and some do not; every session of one model "
            "needs the same modalities",
        )
    return entries
