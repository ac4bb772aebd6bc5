"""Time to fit: default fit + export on the standard simulated benchmark, before vs after.

The standard benchmark: ``simulate(n_trials=90, n_time=80, n_neurons=50, n_keypoints=6)``
(90 trials × 80 bins × 50 Poisson neurons + 12 pose channels; 2 shared + 1 + 1 private latents),
fit with default settings (split 2 + 1 + 1, seed 0, CPU), the project written (posterior and
reconstruction, as ``mmgpvae fit --out`` does) and the latents exported to NPZ
(``mmgpvae export-latents``). Recovery: cross-validated R² of the exported latents against the
hidden truth per subspace (``recovery.score_latents``).

Runs, interleaved seed by seed so that machine load hits them alike:

- ``baseline``: the code of ``--baseline-rev`` (default fd33cf3, before issue 14) with its own
  defaults, extracted with ``git archive`` into a temporary folder;
- ``old defaults``: today's code with the old default values passed explicitly (what the
  defaults alone changed, separately from the per-step speed-ups);
- ``new defaults``: today's code, defaults.

Every run is a fresh process (``-X importtime`` aside, torch's import is not timed), one
intra-op thread by default. Prints a markdown table and replaces its section of
``benchmarks/RESULTS.md`` (``--no-write`` to print only).

    .venv/bin/python benchmarks/time_to_fit.py                  # seeds 1 2 3: ~4 min
    .venv/bin/python benchmarks/time_to_fit.py --seeds 1 --runs new
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Time to fit"

#: TrainConfig / ModelConfig values before issue 14 (fd33cf3), passed explicitly for the
#: "old defaults" run
OLD_DEFAULTS = {
    "epochs": 500, "lr": 1e-2, "batch_size": 25, "kl_warmup": 0.1, "patience": 60,
    "min_delta": 1e-3, "grad_clip": 10.0, "n_samples": 1, "cross_modal": 0.25,
    "min_length_scale_fraction": 0.5, "length_scale_param": "softplus", "prune_threshold": 1e-8,
}
STANDARD = {"n_trials": 90, "n_time": 80, "n_neurons": 50, "n_keypoints": 6}
#: ``--smoke``: the smallest data that still fits and scores
SMOKE_SIZE = {"n_trials": 12, "n_time": 30, "n_neurons": 10, "n_keypoints": 2}
SMOKE_HELP = (
    "one seed, 12 trials, 2 epochs, runs 'old' and 'new' (no baseline), nothing written"
)


def _worker(spec: dict) -> None:
    """One fit + save + export in this process; prints a JSON line of timings."""
    import torch

    torch.set_num_threads(spec["threads"])
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.project.export import export_latents

    z = np.load(spec["data"])
    out = Path(spec["out"])
    t0 = time.perf_counter()
    m = MMGPVAE(2, 1, 1, seed=0, device="cpu", **spec["kwargs"])
    m.fit(z["neural"], z["behavior"])
    t_fit = time.perf_counter() - t0
    m.save(out / "run.mmgp")
    export_latents(out / "run.mmgp", out / "latents.npz")
    t_all = time.perf_counter() - t0
    print(json.dumps({
        "fit_s": t_fit, "total_s": t_all, "epochs": m.outcome.epochs_run,
        "status": m.outcome.status, "length_scales": [float(x) for x in m.length_scales],
    }))


def _run(label: str, code_root: Path, data: Path, kwargs: dict, threads: int) -> dict:
    from mmgpvae_core.evaluation.recovery import score_latents

    with tempfile.TemporaryDirectory() as tmp:
        spec = {"data": str(data), "out": tmp, "kwargs": kwargs, "threads": threads}
        env = dict(os.environ, PYTHONPATH=str(code_root), OMP_NUM_THREADS=str(threads))
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(spec)],
            cwd=code_root, env=env, capture_output=True, text=True,
        )
        if proc.returncode:
            raise RuntimeError(f"{label}: worker failed\n{proc.stderr[-3000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        with np.load(Path(tmp) / "latents.npz") as lat:
            latents = {k: lat[k] for k in ("shared", "private_neural", "private_behavior")}
    truth = dict(np.load(data.with_name(data.stem + "_truth.npz")))
    res.update(score_latents(latents, truth))
    res["label"] = label
    return res


def _baseline_tree(rev: str, dest: Path) -> Path:
    tar = subprocess.run(
        ["git", "archive", rev, "mmgpvae_core"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest


def parser(doc: str, seeds: list[int]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=seeds)
    p.add_argument("--runs", nargs="+", default=["baseline", "old", "new"],
                   choices=["baseline", "old", "new"])
    p.add_argument("--baseline-rev", default="fd33cf3")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--extra", action="append", default=[], metavar="NAME=JSON",
                   help="an extra run of today's code with these settings")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    add_smoke_argument(p, SMOKE_HELP)
    return p


def add_smoke_argument(p: argparse.ArgumentParser, runs: str) -> None:
    """``--smoke``, which every benchmark takes: ``runs`` says what it runs (the tiniest sizes),
    only to check that the script still runs (``tests/gui/test_benchmarks_smoke.py``)."""
    p.add_argument(
        "--smoke", action="store_true", help=f"{runs}: only checks that the script still runs"
    )


def apply_smoke(a: argparse.Namespace) -> dict:
    """``--smoke``: cut ``a`` to one seed, the runs of today's code (the baseline needs its git
    revision) and no file written; the ``simulate`` size to use (``{}``: the script's own)."""
    if not a.smoke:
        return {}
    a.seeds, a.no_write = a.seeds[:1], True
    a.runs = [r for r in a.runs if r != "baseline"] or ["new"]
    return SMOKE_SIZE


def run_all(a: argparse.Namespace, make_sim) -> tuple[list[dict], dict]:
    """Every run on ``make_sim(seed)`` for each seed, interleaved; rows and timing facts."""
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        base_root = None
        if "baseline" in a.runs:
            (tmp_p / "base").mkdir()
            base_root = _baseline_tree(a.baseline_rev, tmp_p / "base")
        runs = []
        for r in a.runs:
            if r == "baseline":
                runs.append((f"baseline ({a.baseline_rev})", base_root, {}))
            elif r == "old":
                runs.append(("old defaults", ROOT, OLD_DEFAULTS))
            else:
                runs.append(("new defaults", ROOT, {}))
        for e in a.extra:
            name, _, js = e.partition("=")
            runs.append((name, ROOT, json.loads(js)))
        for seed in a.seeds:
            sim = make_sim(seed)
            data = tmp_p / f"sim{seed}.npz"
            np.savez(data, neural=sim.neural.data, behavior=sim.behavior.data)
            np.savez(data.with_name(data.stem + "_truth.npz"),
                     **{k: sim.truth[k] for k in ("shared", "private_neural", "private_behavior")})
            for label, root, kw in runs:
                kw = {**kw, "epochs": 2} if a.smoke else kw
                res = _run(label, root, data, kw, a.threads)
                res["seed"] = seed
                rows.append(res)
                print(f"seed {seed} {label}: {res['total_s']:.1f} s, {res['epochs']} epochs, "
                      f"R² {res['r2_shared']:.3f} / {res['r2_private_neural']:.3f} / "
                      f"{res['r2_private_behavior']:.3f}, learned ℓ "
                      + " / ".join(f"{x:.1f}" for x in res.get("length_scales", [])), flush=True)
    facts = {"load0": load0, "load1": os.getloadavg(), "wall": time.perf_counter() - t_start}
    return rows, facts


def main(argv: list[str] | None = None) -> int:
    a = parser(__doc__, [1, 2, 3]).parse_args(argv)
    if a._worker:
        _worker(json.loads(a._worker))
        return 0
    size = apply_smoke(a) or STANDARD
    sys.path.insert(0, str(ROOT))
    from mmgpvae_core.synthetic.simulate import simulate

    rows, facts = run_all(a, lambda seed: simulate(seed=seed, **size))
    data = (
        "Standard benchmark: `simulate(n_trials=90, n_time=80, n_neurons=50, n_keypoints=6, "
        "seed=s)`, default fit (2 + 1 + 1 latents, seed 0, CPU), project written and latents "
        "exported; R² = cross-validated R² of the exported latents against the truth."
    )
    text = markdown(SECTION, "time_to_fit.py", rows, a, facts, data)
    return publish(a, SECTION, text)


def markdown(section, script, rows, a, facts, data_text) -> str:
    import torch

    load0, load1, wall = facts["load0"], facts["load1"], facts["wall"]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    head = (
        f"{section}\n\n`benchmarks/{script} --seeds {' '.join(map(str, a.seeds))}`, run "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {wall / 60:.1f} min in all; {os.cpu_count()} logical "
        f"cores, torch {torch.__version__}, {a.threads} thread(s) per fit, Python "
        f"{platform.python_version()}; load average {load0[0]:.2f} at the start, {load1[0]:.2f} at "
        "the end (other jobs shared the machine: compare the runs, which were interleaved seed "
        f"by seed, not the absolute seconds).\n\n{data_text}\n\n"
        "| run | seed | fit + export s | epochs | s/epoch | R² shared | R² private neural | "
        "R² private behavior | stop |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    body = ""
    for r in rows:
        body += (
            f"| {r['label']} | {r['seed']} | {r['total_s']:.1f} | {r['epochs']} | "
            f"{r['fit_s'] / max(1, r['epochs']):.3f} | {r['r2_shared']:.3f} | "
            f"{r['r2_private_neural']:.3f} | {r['r2_private_behavior']:.3f} | {r['status']} |\n"
        )
    for lab in labels:
        rs = [r for r in rows if r["label"] == lab]

        def mean(k: str, rs: list[dict] = rs) -> float:
            return float(np.mean([r[k] for r in rs]))

        body += (
            f"| **{lab}, mean** | | {mean('total_s'):.1f} | {mean('epochs'):.0f} | "
            f"{mean('fit_s') / max(1, mean('epochs')):.3f} | {mean('r2_shared'):.3f} | "
            f"{mean('r2_private_neural'):.3f} | {mean('r2_private_behavior'):.3f} | |\n"
        )
    if len(labels) > 1:
        ref = [r for r in rows if r["label"] == labels[0]]
        body += "\n"
        for lab in labels[1:]:
            rs = [r for r in rows if r["label"] == lab]
            ratio = np.mean([b["total_s"] / r["total_s"] for b, r in zip(ref, rs)])
            body += f"- {labels[0]} / {lab}: {ratio:.2f}× the time (mean of per-seed ratios)\n"
    return head + body


def publish(a: argparse.Namespace, section: str, text: str) -> int:
    """Print a benchmark's section and, unless ``--no-write``, put it in ``--out``; exit 0."""
    print(text)
    if not a.no_write:
        replace_section(Path(a.out), section, text)
    return 0


def replace_section(path: Path, section: str, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(section + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        nxt = old.find("\n## ", start + len(section))
        new = old[:start] + text + ("" if nxt < 0 else old[nxt:])
    path.write_text(new.rstrip("\n") + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
