"""A sweep's results out: the CSV table, a terminal table, the plot."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.sweep.grid import HYPER_KEYS, SPLIT_KEYS
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


def write_csv(result: SweepResult, path: str | Path) -> Path:
    """One row per configuration (``CSV_COLUMNS``); ``chosen`` = 1 on the selected row."""
    return write_rows(result.rows, CSV_COLUMNS, path)


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
    for r in rows:
        key = (r["private_neural"], r["private_behavior"], r.get("length_scale_init"), r.get("lr"))
        key += (r.get("kernel"),)
        groups.setdefault(key, []).append(r)
    for key, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        rs = sorted(rs, key=lambda r: r["shared"])
        x = [r["shared"] for r in rs]
        label = f"A={key[0]} B={key[1]}" + "".join(
            f" {n}={v:g}" for n, v in zip(("ℓ0", "lr"), key[2:4]) if v is not None
        )
        label += f" {key[4]}" if key[4] else ""
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
    if columns is None and any(r.get("kernel") for r in result.rows):
        cols.insert(len(SPLIT_KEYS), "kernel")
    short = {"private_neural": "A", "private_behavior": "B", "shared": "S"}
    lines = ["| " + " | ".join(short.get(c, c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in result.rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "chosen":
                cells.append("**←**" if v else "")
            elif isinstance(v, float):
                cells.append(
                    "" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
                )
            else:
                cells.append("" if v is None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
