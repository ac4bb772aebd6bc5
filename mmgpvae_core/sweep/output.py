"""A sweep's results out: the CSV table and a terminal table (the plot: ``figures/sweep.py``)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.sweep.grid import HYPER_KEYS, SPLIT_KEYS, SWEEP_OPTIONS, format_value, swept
from mmgpvae_core.sweep.run import METRICS
from mmgpvae_core.sweep.selection import SweepResult

CSV_COLUMNS = (
    *SPLIT_KEYS,
    "n_latents",
    *HYPER_KEYS,
    "score",
    "score_se",
    "chosen",
    *METRICS,
    "r2_behavior_channels",
    "epochs_run",
    "fit_seconds",
    "status",
    "folds",
    "project",
)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{float(v):.6g}"
    if isinstance(v, (np.ndarray, list, tuple)):
        return ";".join(f"{float(x):.4g}" for x in v)
    return str(v)


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], path: str | Path) -> Path:
    """A CSV of ``columns`` (missing values empty, arrays ``;``-joined); parent folders made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_fmt(r.get(k)) for k in columns])
    return path


def swept_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The options beyond ``HYPER_KEYS`` that some row sets (``neural_decoder``, …), in
    config field order."""
    seen = {k for r in rows for k, _ in swept(r)}
    return [k for k in SWEEP_OPTIONS if k in seen and k not in HYPER_KEYS]


def csv_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """``CSV_COLUMNS`` with a column for each other option swept, after ``HYPER_KEYS``."""
    cols = list(CSV_COLUMNS)
    at = cols.index(HYPER_KEYS[-1]) + 1
    return cols[:at] + swept_columns(rows) + cols[at:]


def write_csv(result: SweepResult, path: str | Path) -> Path:
    """One row per configuration (``CSV_COLUMNS``, and a column per other option swept:
    :func:`csv_columns`); ``chosen`` = 1 on the selected row."""
    return write_rows(result.rows, csv_columns(result.rows), path)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))



def format_table(result: SweepResult, columns: Sequence[str] | None = None) -> str:
    """A plain-text table of the main columns (for the terminal and the benchmark log)."""
    cols = list(
        columns
        or (
            *SPLIT_KEYS,
            "score",
            "score_se",
            "cosmooth_bps",
            "r2_behavior_from_neural",
            "bps_neural_from_behavior",
            "heldout_elbo",
            "chosen",
        )
    )
    options: list[str] = []
    if columns is None:  # a column for each option the sweep tried (the kernel first)
        hyper = ("kernel", *HYPER_KEYS[:-1])
        options = [k for k in hyper if any(r.get(k) is not None for r in result.rows)]
        options += swept_columns(result.rows)
        cols[len(SPLIT_KEYS):len(SPLIT_KEYS)] = options
    short = {"private_neural": "A", "private_behavior": "B", "shared": "S"}
    lines = ["| " + " | ".join(short.get(c, c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in result.rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "chosen":
                cells.append("**←**" if v else "")
            elif c in options:
                cells.append("" if v is None else format_value(v))
            elif isinstance(v, float):
                cells.append(
                    "" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
                )
            else:
                cells.append("" if v is None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
