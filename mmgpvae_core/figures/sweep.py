"""The figure of a sweep: held-out score and cross-modal R² against the shared dimensions
(``mmgpvae sweep --plot``). Figures live in ``figures/``; ``sweep.plot_sweep`` is this one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.sweep.grid import format_value, swept
from mmgpvae_core.sweep.selection import SweepResult


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
