"""What ``mmgpvae compare`` writes: the CSV table, its last line and the figure."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mmgpvae_core.compare.run import BASELINES, EXTRA, Comparison

COLUMNS = ("method", "direction", "channel", "metric", "value", "sd", "n_fits", "folds")
#: methods in the order every output lists them
METHODS = ("mmgpvae", "wiener", "wiener_causal", "bayes", "glm")


def write_csv(result: Comparison, path: str | Path) -> Path:
    """One row per method, direction, channel and metric (``COLUMNS``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for row in result.rows:
            w.writerow({**row, "folds": result.folds_kind})
    return path


def value(result: Comparison, method: str, direction: str, metric: str, channel: str = "all") -> float:
    for r in result.rows:
        if (r["method"], r["direction"], r["metric"], r["channel"]) == (method, direction, metric, channel):
            return r["value"]
    return float("nan")


def summary_line(result: Comparison) -> str:
    """``behavior_from_neural r2: mmgpvae=A wiener=B wiener_causal=C | neural_from_behavior
    bits_per_spike: mmgpvae=D glm=E`` (``r2`` for calcium)."""
    parts = []
    for direction, metric in (
        ("behavior_from_neural", "r2"), ("neural_from_behavior", result.neural_metric)
    ):
        methods = ("mmgpvae", *BASELINES[direction])
        vals = " ".join(f"{m}={value(result, m, direction, metric):.3f}" for m in methods)
        parts.append(f"{direction} {metric}: {vals}")
    return " | ".join(parts)


def format_table(result: Comparison) -> str:
    """The pooled ("all") scores, one line per direction and metric, methods side by side."""
    lines = []
    for r in result.rows:
        if r["channel"] != "all" or r["method"] != "mmgpvae":
            continue
        d, metric = r["direction"], r["metric"]
        cells = [f"mmgpvae {r['value']:.3f} ± {r['sd']:.3f}"]
        cells += [
            f"{m} {value(result, m, d, metric):.3f}" for m in (*BASELINES[d], *EXTRA[d])
            if np.isfinite(value(result, m, d, metric))
        ]
        lines.append(f"{d:22s} {metric:15s} " + "   ".join(cells))
    return "\n".join(lines)


def plot_compare(result: Comparison, path: str | Path, dpi: int = 150) -> Path:
    """Per behavior channel, each method's held-out R² (bars, ± sd over seeds); beneath, a
    stretch of held-out time with the observed behavior and each method's prediction."""
    from mmgpvae_core.figures.base import new_figure, save_figure
    from mmgpvae_core.figures.style import style_context

    with style_context():
        fig = _figure(result, new_figure)
    return save_figure(fig, path, dpi=dpi)


def _figure(result: Comparison, new_figure):
    chans = result.behavior_channels
    methods = [m for m in METHODS if m != "glm" and np.isfinite(_row(result, m, "all")["value"])]
    ex = result.example
    n_show = min(len(chans), 4)
    fig = new_figure(max(6.0, 0.9 * len(chans) + 4), 3.0 + 1.5 * n_show)
    grid = fig.add_gridspec(1 + n_show, 1, height_ratios=[2.2] + [1] * n_show)
    ax = fig.add_subplot(grid[0])
    width = 0.8 / len(methods)
    colors = _colors(methods)
    x = np.arange(len(chans) + 1)
    for i, m in enumerate(methods):
        vals = [_row(result, m, c) for c in [*chans, "all"]]
        ax.bar(
            x + (i - (len(methods) - 1) / 2) * width, [v["value"] for v in vals], width,
            yerr=[v["sd"] for v in vals], color=colors[m], label=m, capsize=2,
        )
    ax.set_xticks(x, [*chans, "pooled"], rotation=30, ha="right")
    ax.set_ylabel("held-out R²")
    import textwrap

    title = f"Behavior from neural activity; held out: {result.folds_description}"
    ax.set_title("\n".join(textwrap.wrap(title, 90)), fontsize=8)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.legend(fontsize=7, ncol=len(methods))
    _stretch(fig, grid, ex, chans[:n_show], methods, colors)
    return fig


def _row(result: Comparison, method: str, channel: str) -> dict:
    for r in result.rows:
        if (r["method"], r["direction"], r["metric"], r["channel"]) == (
            method, "behavior_from_neural", "r2", channel
        ):
            return r
    return {"value": np.nan, "sd": 0.0}


def _colors(methods: list[str]) -> dict[str, str]:
    from mmgpvae_core.figures.style import CONDITION_PALETTE

    return dict(zip(methods, CONDITION_PALETTE))


def _stretch(fig, grid, ex: dict, chans: list[str], methods: list[str], colors) -> None:
    """Up to 30 s (or one trial) of held-out behavior, observed and predicted."""
    if not ex:
        return
    t = ex["time"]
    keep = t <= t[0] + 30.0 if ex.get("time_is_session") else np.ones(len(t), bool)
    for j, name in enumerate(chans):
        ax = fig.add_subplot(grid[1 + j])
        ax.plot(t[keep], ex["observed"][keep, j], color="k", lw=1.2, label="observed")
        for m in methods:
            if m in ex["methods"]:
                ax.plot(t[keep], ex["methods"][m][keep, j], color=colors[m], lw=0.9, label=m)
        ax.set_ylabel(f"{name}\n(file units)", fontsize=8)
        if j == 0:
            ax.legend(fontsize=6, ncol=len(methods) + 1, loc="upper right")
    ax.set_xlabel("session time (s)" if ex.get("time_is_session") else "time in trial (s)")
