"""Controls benchmark: is the shared structure of the demo data real, and stable?

1. Null test on the bundled demo (``resources/demo``: simulated, 2 shared + 1 + 1 private
   latents): the real pairing against behavior trials re-paired across all trials.
2. Independent control: the demo's neural data with the behavior of an independent simulation
   (other latents, same shape), re-paired across trials: p should not be small.
3. The demo against re-pairing within each condition (``--within-shuffles``; the shared latents
   carry a condition mean *and* trial-by-trial variation, so this should be significant too).
4. Seed consistency of the split (2, 1, 1) on the demo: canonical correlations of each seed's
   subspaces with seed 0's.

Writes (or replaces) the "Controls" section of ``benchmarks/RESULTS.md`` and, each with a CSV
of every fit beside it,
``benchmarks/controls_null_demo.png``, ``benchmarks/controls_null_independent.png``,
``benchmarks/controls_null_within.png``, ``benchmarks/controls_consistency.png``.

    .venv/bin/python benchmarks/controls.py [--trials 60 --epochs 30 --shuffles 19 --jobs 2]

About 2 minutes on 2 quiet CPU cores with the defaults, ~8 when busy
(50 pairings × 2 folds + 3 fits).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)
from _common import progress_printer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "## Controls: shuffle null test and seed consistency"


def _null_lines(label: str, r, seconds: float) -> list[str]:
    null = r.null_scores
    return [
        f"| {label} ({len(null)}) | {r.real_score:.1f} | "
        f"{null.mean():.1f} ± {null.std(ddof=1):.1f} | "
        f"{null.min():.1f} … {null.max():.1f} | "
        f"{(r.real_score - null.mean()) / null.std(ddof=1):.1f} | {r.p:.3g} | "
        f"{r.real['r2_behavior_from_neural']:.3f} | "
        f"{np.mean([x['r2_behavior_from_neural'] for x in r.null_rows]):.3f} | "
        f"{r.real['bps_neural_from_behavior']:.3f} | "
        f"{np.mean([x['bps_neural_from_behavior'] for x in r.null_rows]):.3f} | "
        f"{seconds / 60:.1f} |"
    ]


def replace_section(path: Path, section: str, text: str) -> None:
    """Put ``text`` (starting with the ``section`` heading) in place of that section of
    ``path``, or append it; the other sections stay as they are."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if section in old:
        head, rest = old.split(section, 1)
        tail = rest.split("\n## ", 1)
        rest = "\n## " + tail[1] if len(tail) > 1 else ""
        new = head.rstrip() + "\n\n" + text.rstrip() + "\n" + rest
    else:
        new = old.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=60, help="first N trials of the demo")
    p.add_argument("--epochs", type=int, default=30, help="maximum epochs per fit")
    p.add_argument("--shuffles", type=int, default=19, help="shuffles of tests 1 and 2")
    p.add_argument("--within-shuffles", type=int, default=9, help="of test 3 (0: skip it)")
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3, help="seeds for the consistency check")
    p.add_argument(
        "--consistency-epochs", type=int, default=150, help="maximum epochs per consistency fit"
    )
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--no-write", action="store_true", help="print only")
    ttf.add_smoke_argument(
        p,
        "12 trials, 1 shuffle, 1 epoch, 2 seeds, in this process; figures and CSVs to a "
        "temporary folder, nothing written here",
    )
    a = p.parse_args(argv)
    if a.smoke:
        a.trials, a.epochs, a.shuffles, a.within_shuffles = 12, 1, 1, 1
        a.seeds, a.consistency_epochs, a.jobs, a.no_write = 2, 1, 1, True
    scratch = tempfile.TemporaryDirectory() if a.smoke else None
    figures = Path(scratch.name) if scratch else HERE  # the PNGs and CSVs

    import torch

    torch.set_num_threads(1)
    from mmgpvae_core.controls import (
        run_consistency,
        run_null_test,
        write_consistency_csv,
        write_null_csv,
    )
    from mmgpvae_core.figures import consistency_figure, null_test_figure, save_figure
    from mmgpvae_core.loaders import load_pair
    from mmgpvae_core.sweep import SweepSettings
    from mmgpvae_core.synthetic.simulate import simulate

    t_start = time.perf_counter()
    load0 = os.getloadavg()
    neural, behavior = load_pair(
        ROOT / "resources/demo/neural.h5", ROOT / "resources/demo/behavior.h5"
    )
    keep = np.arange(min(a.trials, neural.n_trials))
    neural, behavior = neural.subset(keep), behavior.subset(keep)
    other = simulate(
        n_trials=len(keep),
        n_time=neural.n_time,
        n_neurons=neural.n_channels,
        n_keypoints=behavior.n_channels // 2,
        seed=1234,
    )
    independent = dataclasses.replace(other.behavior, conditions=neural.conditions)
    settings = SweepSettings(folds=a.folds, epochs=a.epochs, seed=0, model_kwargs={"device": "cpu"})
    split = (2, 1, 1)

    progress = progress_printer(
        t_start, lambda row: f"{row['pairing']}: {row['score']:.1f} ({row['status']})"
    )

    runs = {}
    tests = [
        ("demo, shuffled across trials", behavior, False, a.shuffles),
        ("independent behavior, shuffled across trials", independent, False, a.shuffles),
        ("demo, shuffled within condition", behavior, True, a.within_shuffles),
    ]
    for name, b, within, n_shuffles in tests:
        if n_shuffles < 1:
            continue
        t0 = time.perf_counter()
        r = run_null_test(
            neural,
            b,
            split,
            n_shuffles,
            settings,
            within_condition=within,
            n_jobs=a.jobs,
            on_result=progress,
        )
        runs[name] = (r, time.perf_counter() - t0)
        print(f"{name}: {r.summary_line()}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    cons = run_consistency(
        neural,
        behavior,
        split,
        list(range(a.seeds)),
        dataclasses.replace(settings, epochs=a.consistency_epochs),
        n_jobs=a.jobs,
    )
    cons_s = time.perf_counter() - t0
    total_s = time.perf_counter() - t_start

    names = ("controls_null_demo.png", "controls_null_independent.png", "controls_null_within.png")
    for fname, (r, _) in zip(names, runs.values()):
        save_figure(null_test_figure(r.real_score, r.null_scores, r.p, r.pairing), figures / fname)
        write_null_csv(r, (figures / fname).with_suffix(".csv"))
    save_figure(consistency_figure(cons), figures / "controls_consistency.png")
    write_consistency_csv(cons, figures / "controls_consistency.csv")
    if scratch is not None:
        scratch.cleanup()

    lines = [
        SECTION,
        "",
        f"`benchmarks/controls.py --trials {len(keep)} --epochs {a.epochs} --shuffles "
        f"{a.shuffles} --within-shuffles {a.within_shuffles} --folds {a.folds} --seeds "
        f"{a.seeds} --consistency-epochs {a.consistency_epochs} --jobs {a.jobs}`, run "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}: {total_s / 60:.1f} min in all on "
        f"{os.cpu_count()} shared CPU cores, {a.jobs} processes (load average "
        f"{load0[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).",
        "",
        f"Data: the first {len(keep)} trials of the bundled demo (`resources/demo`, "
        f"{neural.n_time} bins of 20 ms, {neural.n_channels} Poisson neurons, "
        f"{behavior.n_channels} pose channels; simulated with 2 shared + 1 + 1 private "
        "latents, the shared ones carrying a condition mean plus trial-by-trial GP variation). "
        f"Independent control: the same neural data with the pose of an independent simulation "
        "(`simulate(seed=1234)`, same shape), so nothing links the two. Every fit: split "
        f"(2, 1, 1), {a.folds}-fold cross-validation (the same folds for every pairing), at most "
        f"{a.epochs} epochs (early stop on a plateau), default training; score = held-out "
        "log-likelihood of behavior from neural alone + neural from behavior alone, nats per "
        f"trial. The smallest possible p is 1 / (1 + shuffles): {1 / (1 + a.shuffles):.3g} "
        f"with {a.shuffles} shuffles, {1 / (1 + max(a.within_shuffles, 1)):.3g} with "
        f"{a.within_shuffles}.",
        "",
        "| data, null (shuffles) | real score | null mean ± SD | null range | z | p | "
        "R² beh←neu real | R² beh←neu null mean | bits/spike neu←beh real | "
        "bits/spike null mean | min |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (r, secs) in runs.items():
        lines += _null_lines(name, r, secs)
    lines += [
        "",
        "Scores in nats per held-out trial; z = (real − null mean) / null SD; R² and bits/spike "
        "are the two directions separately (held out). Under the null, p is uniform on "
        "{1/(1 + shuffles), …, 1}: a single independent control lands at p ≤ 0.1 one time in "
        "ten, so read its row by where the real score falls in the null range.",
        "",
        f"Seed consistency of (2, 1, 1) on the same trials, seeds 0–{a.seeds - 1} "
        f"({cons_s / 60:.1f} min; all trials, at most {a.consistency_epochs} epochs):",
        "",
        *[f"- {line}" for line in cons.lines()],
        "",
        "Figures: "
        + ", ".join(f"`{n}`" for n in (*names[: len(runs)], "controls_consistency.png"))
        + "; a CSV of the same name beside each holds every fit (`mmgpvae figures "
        "--null-test CSV` or `--consistency CSV` redraws it).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        replace_section(Path(a.out), SECTION, text)
        print(f"written to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
