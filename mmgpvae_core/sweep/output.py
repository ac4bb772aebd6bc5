"""A sweep's results out: the CSV table, a terminal table, the plot."""

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


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    """Held-out score (± SE) and cross-modal R² against the number of shared dimensions, one
    line per private split; the chosen configuration is starred."""
    from mmgpvae_core.figures.base import new_figure

    rows = [r for r in result.rows if r.get("status") == "ok"]
    fig = new_figure(9.0, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    short = {"length_scale_init": "ℓ0"}
    for r in rows:
        key = (r["private_neural"], r["private_behavior"], *swept(r))
        groups.setdefault(key, []).append(r)
    for key, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        rs = sorted(rs, key=lambda r: r["shared"])
        x = [r["shared"] for r in rs]
        label = f"A={key[0]} B={key[1]}" + "".join(
            f" {v}" if n == "kernel" else f" {short.get(n, n)}={format_value(v)}"
            for n, v in key[2:]
        )
        ax1.errorbar(
            x,
            [r["score"] for r in rs],
            yerr=[r["score_se"] for r in rs],
            marker="o",
            ms=3,
            lw=1,
            capsize=2,
            label=label,
        )
        ax2.plot(
            x,
            [r.get("r2_behavior_from_neural", np.nan) for r in rs],
            marker="o",
            ms=3,
            lw=1,
            label=label,
        )
    b = result.best
    if b is not None:
        ax1.plot(
            [b["shared"]], [b["score"]], marker="*", ms=14, color="k", ls="none", label="chosen"
        )
        ax2.plot(
            [b["shared"]],
            [b.get("r2_behavior_from_neural", np.nan)],
            marker="*",
            ms=14,
            color="k",
            ls="none",
        )
    ax1.set_xlabel("shared dimensions")
    ax1.set_ylabel("held-out predictive log-lik. (nats/trial)")
    ax2.set_xlabel("shared dimensions")
    ax2.set_ylabel("R² behavior from neural (held out)")
    if len(groups) <= 12:  # more lines (a grid of options, say) leave no room for the axes
        ax1.legend(fontsize=6, ncol=2)
    ax1.set_title(result.best_line().replace("best: ", "chosen: "), fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


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
