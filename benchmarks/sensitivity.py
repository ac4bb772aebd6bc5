"""Sensitivity to the four settings the seed paper names and never measures: step size (``lr``),
marginal variance, initial length-scale and pruning threshold. Each is moved alone from the
default (3 values, the default among them; the rest at their defaults) and every setting gets

* its held-out score: one ``run_sweep`` configuration (blocked folds for a continuous session,
  stratified by condition for trials), and
* its seed consistency: ``run_consistency`` refits on all trials with ``--seeds`` seeds,
  canonical correlations of each subspace with the first seed's (1 = the same latents up to an
  invertible linear map).

``--data demo``: ``resources/demo`` (100 trials × 80 bins, true split 2 + 1 + 1), 3 folds.
``--data s1``: the S1 reaching session of the README's worked example (``spikes``, ``pos,vel``,
20 Hz, 5-s windows), its first ``--minutes`` minutes, split 6 + 2 + 1 (the sweep's choice there),
2 blocked folds. The linear neural read-out (the default) in both. The initial length-scale is
tried at ½, 1 and 2 × the data's own estimate (the default, ``length_scale_from_data``; each
fold estimates it again on its training windows).

    .venv/bin/python benchmarks/sensitivity.py --data s1 [--minutes 10 --seeds 2 --epochs 150]

Writes ``benchmarks/sensitivity_<data>.csv`` (rewritten after each setting, so a run stopped
early keeps what it measured) and prints the Markdown table for RESULTS.md, "Sensitivity".
Cost on 2 busy cores (load 6–9), one process: ``s1`` 43 min (9 settings × (2 fold fits on
half the windows + 2 fits on all of them)); ``demo --no-scores`` 6 min.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
S1 = ROOT.parent / "shared" / "real-samples" / "paired" / "s1_area2_reaching.mat"
SPLITS = {"demo": (2, 1, 1), "s1": (6, 2, 1)}
FOLDS = {"demo": 3, "s1": 2}
#: option -> the values tried besides the default (the default is run once, shared by all);
#: ``length_scale_init`` as factors of the data's estimate
AROUND = {
    "lr": (3e-3, 3e-2),
    "marginal_variance": (0.5, 2.0),
    "length_scale_init": (0.5, 2.0),
    "prune_threshold": (1e-3, 1e-9),
}
LABELS = {
    "lr": "step size `--lr`",
    "marginal_variance": "marginal variance",
    "length_scale_init": "initial length-scale (bins)",
    "prune_threshold": "pruning threshold",
    "default": "none",
}
COLUMNS = (
    "option", "value", "score", "score_se", "cosmooth_bps", "r2_behavior_from_neural",
    "bps_neural_from_behavior", "heldout_elbo", "sweep_epochs", "sweep_seconds", "folds",
    "seeds", "cc_shared_mean", "cc_shared_min", "cc_private_neural_mean",
    "cc_private_behavior_mean", "consistency_epochs", "consistency_seconds",
)


def load(data: str, minutes: float, trials: int | None):
    """(neural, behavior) of ``data``: the demo, or the first ``minutes`` of S1 in 5-s windows."""
    from mmgpvae_core.loaders import load_pair

    if data == "demo":
        neural, behavior = load_pair(
            ROOT / "resources/demo/neural.h5", ROOT / "resources/demo/behavior.h5"
        )
        keep = np.arange(min(trials or neural.n_trials, neural.n_trials))
    else:
        neural, behavior = load_pair(
            S1, S1, neural_rate_hz=20, behavior_rate_hz=20, window_s=5,
            neural_options={"field": "spikes"}, behavior_options={"field": "pos,vel"},
        )
        keep = np.arange(min(int(round(minutes * 60 / 5)), neural.n_trials))
    return neural.subset(keep), behavior.subset(keep)


def settings_list(
    ell0: float, only: list[str] | None, length_scales: list[float] | None = None
) -> list[tuple[str, float | None]]:
    """(option, value) of every setting: the default first ("default", None), then each option's
    other values (the initial length-scale: ``length_scales`` bins, or ``AROUND``'s factors of
    the data's estimate ``ell0``)."""
    out: list[tuple[str, float | None]] = [("default", None)]
    for name, values in AROUND.items():
        if only and name not in only:
            continue
        if name == "length_scale_init":
            values = length_scales or [round(v * ell0, 1) for v in values]
        out.extend((name, v) for v in values)
    return out


def number(text) -> str | float:
    """A CSV cell as a number where it is one (the table reads rows back from the CSV)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def finite(value) -> bool:
    """Whether a cell holds a measured number (not NaN, not empty)."""
    value = number(value)
    return isinstance(value, float) and bool(np.isfinite(value))


def cell(value, digits: int) -> str:
    """``value`` to ``digits`` decimals; a dash where it was not measured (NaN, empty)."""
    return f"{number(value):.{digits}f}" if finite(value) else "—"


def consistency_columns(result) -> dict:
    """Mean (and for the shared subspace, smallest) canonical correlation over refits."""
    out = {}
    for sub in ("shared", "private_neural", "private_behavior"):
        cc = result.correlations[sub]
        ok = cc[np.isfinite(cc).all(1)] if cc.size else cc
        out[f"cc_{sub}_mean"] = float(ok.mean()) if ok.size else float("nan")
        if sub == "shared":
            out["cc_shared_min"] = float(ok.min()) if ok.size else float("nan")
    return out


def write(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def table(rows: list[dict], ell0: float) -> str:
    """The Markdown table: one line per option and value, the default repeated in each block."""
    default = next(r for r in rows if r["option"] == "default")
    defaults = {"lr": 0.01, "marginal_variance": 1.0, "prune_threshold": 1e-6,
                "length_scale_init": ell0}
    lines = [
        "| option | value | score ± se | co-bps | R² behavior from neural | bps from behavior "
        "| held-out ELBO | epochs (folds) | CC shared mean / min | CC private neural "
        "| CC private behavior | epochs (seeds) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = [n for n in AROUND if any(r["option"] == n for r in rows)]
    for name in names or ["default"]:  # the default alone (--options default): one line
        block = [r for r in rows if r["option"] == name] if names else []
        value = defaults.get(name, 0.0)
        block.append({**default, "option": name, "value": value, "is_default": True})
        block.sort(key=lambda r: float(r["value"]))
        scored = [r for r in block if finite(r["score"])]
        best = max(scored, key=lambda r: float(r["score"])) if scored else None
        for i, r in enumerate(block):
            v = float(r["value"])
            text = f"{v:g}"
            if name == "length_scale_init" and r.get("is_default"):
                text = f"from the data (≈ {v:.1f})"
            if r.get("is_default"):
                text = f"**{text}** (default)" if names else "every option at its default"
            score = f"{cell(r['score'], 0)} ± {cell(r['score_se'], 0)}" if r in scored else "—"
            lines.append(
                f"| {LABELS[name] if i == 0 else ''} | {text} | "
                + (f"**{score}**" if r is best else score)
                + f" | {cell(r['cosmooth_bps'], 3)} | {cell(r['r2_behavior_from_neural'], 3)} | "
                f"{cell(r['bps_neural_from_behavior'], 3)} | {cell(r['heldout_elbo'], 0)} | "
                f"{r['sweep_epochs']} | {cell(r['cc_shared_mean'], 3)} / "
                f"{cell(r['cc_shared_min'], 3)} | {cell(r['cc_private_neural_mean'], 3)} | "
                f"{cell(r['cc_private_behavior_mean'], 3)} | {r['consistency_epochs']} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", choices=("demo", "s1"), default="s1")
    p.add_argument("--minutes", type=float, default=10.0, help="s1: the first this many minutes")
    p.add_argument("--trials", type=int, help="demo: the first this many trials (default all)")
    p.add_argument("--epochs", type=int, default=150, help="most epochs per fit (early stop)")
    p.add_argument("--folds", type=int, help="default: 3 for demo, 2 for s1")
    p.add_argument("--seeds", type=int, default=2, help="seeds per setting for consistency")
    p.add_argument(
        "--seed", type=int, default=0,
        help="the sweep's seed, and the first of the consistency seeds (seed, seed + 1, ...)",
    )
    p.add_argument("--jobs", type=int, default=1, help="processes (1: in this one)")
    p.add_argument(
        "--options",
        help="only these options, e.g. lr,prune_threshold ('default': the default alone)",
    )
    p.add_argument(
        "--length-scales", help="initial length-scales to try, bins (default ½ and 2 × the data's)"
    )
    p.add_argument(
        "--no-scores", action="store_true",
        help="seed consistency only (no cross-validated fits): the score columns stay empty",
    )
    p.add_argument("--table", metavar="CSV", help="only print the table of this script's CSV")
    p.add_argument("--out", help="CSV (default benchmarks/sensitivity_<data>.csv)")
    ttf.add_smoke_argument(
        p, "12 demo trials, the step size only, 1 epoch, CSV to a temporary folder"
    )
    a = p.parse_args(argv)
    if a.smoke:
        a.data, a.trials, a.epochs, a.options, a.jobs = "demo", 12, 1, "lr", 1
    scratch = tempfile.TemporaryDirectory() if a.smoke else None
    folder = Path(scratch.name) if scratch else HERE
    out = Path(a.out) if a.out else folder / f"sensitivity_{a.data}.csv"

    import torch

    torch.set_num_threads(1)
    from mmgpvae_core.controls import run_consistency
    from mmgpvae_core.model.prior import length_scale_from_data
    from mmgpvae_core.sweep import SweepSettings, make_grid, run_sweep

    neural, behavior = load(a.data, a.minutes, a.trials)
    split = SPLITS[a.data]
    folds = a.folds or FOLDS[a.data]
    ell0 = length_scale_from_data([neural.data, behavior.data], [True, False], seed=0)
    seeds = list(range(a.seed, a.seed + a.seeds))
    if a.table:
        with open(a.table, newline="") as f:
            print(table(list(csv.DictReader(f)), ell0))
        return 0
    load0, t_start = os.getloadavg(), time.perf_counter()
    print(
        f"{a.data}: {neural.n_trials} windows/trials × {neural.n_time} bins, "
        f"{neural.n_channels} neural, {behavior.n_channels} behavior channels; split {split}; "
        f"{folds} folds; seeds {seeds}; up to {a.epochs} epochs; length-scale from the data "
        f"{ell0:.2f} bins; load {load0[0]:.2f}",
        file=sys.stderr, flush=True,
    )
    rows: list[dict] = []
    length_scales = [float(x) for x in a.length_scales.split(",")] if a.length_scales else None
    only = a.options.split(",") if a.options else None
    for name, value in settings_list(ell0, only, length_scales):
        options = {} if value is None else {name: value}
        base = {"device": "cpu"}
        t0 = time.perf_counter()
        grid = make_grid([split[0]], [split[1]], [split[2]], **{k: [v] for k, v in options.items()})
        settings = SweepSettings(folds=folds, epochs=a.epochs, seed=a.seed, model_kwargs=base)
        if a.no_scores:
            r = {"status": "ok", "folds": "", "epochs_run": "", "score": float("nan")}
        else:
            r = run_sweep(neural, behavior, grid, settings, n_jobs=a.jobs).rows[0]
        if r["status"] != "ok":
            print(f"{name}={value}: {r['status']}", file=sys.stderr)
        t1 = time.perf_counter()
        refit_epochs: list[int] = []
        cons = run_consistency(
            neural, behavior, split, seeds,
            SweepSettings(epochs=a.epochs, seed=a.seed, model_kwargs={**base, **options}),
            n_jobs=a.jobs,
            on_result=lambda done, total, row, seen=refit_epochs: seen.append(
                row.get("epochs_run", 0)
            ),
        )
        row = {
            "option": name, "value": "" if value is None else value,
            **{k: r.get(k, float("nan"))
               for k in ("score", "score_se", "cosmooth_bps", "r2_behavior_from_neural",
                         "bps_neural_from_behavior", "heldout_elbo", "folds")},
            "sweep_epochs": r["epochs_run"], "sweep_seconds": round(t1 - t0, 1),
            "seeds": len(seeds), **consistency_columns(cons),
            "consistency_seconds": round(time.perf_counter() - t1, 1),
            "consistency_epochs": sum(refit_epochs),
        }
        rows.append(row)
        write(rows, out)
        print(
            f"[{time.perf_counter() - t_start:6.0f} s] {name}={value}: score {r['score']:.1f} "
            f"({r['folds']}, {r['epochs_run']} epochs); " + "; ".join(cons.lines()),
            file=sys.stderr, flush=True,
        )
    print(
        f"{a.data}: {len(rows)} settings in {(time.perf_counter() - t_start) / 60:.1f} min, "
        f"load {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(table(rows, ell0))
    if a.smoke:  # the table read back from the CSV, as --table does
        with open(out, newline="") as f:
            table(list(csv.DictReader(f)), ell0)
    if scratch is not None:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
