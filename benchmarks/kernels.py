"""Latent recovery by kernel, on smooth (RBF) and rough (Ornstein–Uhlenbeck) latents.

Data: ``simulate(seed=s, kernel=K)`` (``mmgpvae_core.synthetic.simulate``: 100 trials × 80 bins, 60
Poisson neurons, 8 keypoints, 2 shared + 1 + 1 private latents at 8–16 bins) with K = rbf
(smooth) and K = matern12 (OU: the same random stream, rough paths). Each model kernel is fitted
to each data set with the defaults (``MMGPVAE(2, 1, 1, kernel=…)``, ``--epochs`` at most, early
stop on), one CPU thread, and scored against the hidden truth per subspace
(``recovery.score_latents``: cross-validated R² of a linear map, and leakage). Also reported:
Fourier coefficients each latent keeps at the end (mean over latents) and the time per epoch.
Replaces its section of ``benchmarks/RESULTS.md`` (``--no-write`` to print only; ``--smoke``:
a tiny run that writes nothing, for the test suite).

    .venv/bin/python benchmarks/kernels.py --seeds 11          # 4 kernels × 2 data: ~15 min
    .venv/bin/python benchmarks/kernels.py --smoke
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import time_to_fit as ttf  # noqa: E402  (its publish)

from mmgpvae_core.api import MMGPVAE  # noqa: E402
from mmgpvae_core.config import KERNELS  # noqa: E402
from mmgpvae_core.evaluation.recovery import score_latents  # noqa: E402
from mmgpvae_core.synthetic.simulate import simulate  # noqa: E402

SECTION = "## Kernels: recovery of smooth and rough latents"
DATA_KERNELS = ("rbf", "matern12")
SUBSPACE_KEYS = ("r2_shared", "r2_private_neural", "r2_private_behavior", "leakage")


def fit_one(sim, kernel: str, epochs: int, seed: int) -> dict:
    """Fit ``kernel`` to ``sim``; its recovery scores, coefficients kept and time per epoch."""
    t0 = time.perf_counter()
    m = MMGPVAE(2, 1, 1, kernel=kernel, epochs=epochs, seed=seed, device="cpu")
    m.fit(sim.neural, sim.behavior)
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        _, keep = m.module.prior.log_variances(m.module.omega)
    row = score_latents(m.transform(), sim.truth)
    row.update(
        kept=float(keep.sum(1).float().mean()),
        epochs=m.outcome.epochs_run,
        s_per_epoch=elapsed / max(1, m.outcome.epochs_run),
    )
    return row


def run(seeds: list[int], kernels: list[str], epochs: int, sim_kw: dict) -> list[dict]:
    rows = []
    for seed in seeds:
        for data in DATA_KERNELS:
            sim = simulate(seed=seed, kernel=data, **sim_kw)
            for kernel in kernels:
                row = {"seed": seed, "data": data, "kernel": kernel}
                row.update(fit_one(sim, kernel, epochs, seed=0))
                print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
                rows.append(row)
    return rows


def markdown(rows: list[dict], seeds: list[int], epochs: int) -> str:
    """The section: per data set and model kernel, the mean over seeds."""
    head = (
        f"{SECTION}\n\n`benchmarks/kernels.py` (seeds {', '.join(map(str, seeds))}; at most "
        f"{epochs} epochs, early stop; one CPU thread of a shared 2-core machine). Data: "
        "`simulate(kernel=…)`, smooth RBF latents or rough OU (Matérn ½) ones, otherwise the "
        "standard simulation. R²: cross-validated linear map from the inferred to the true "
        "subspace (`recovery.score_latents`); kept: Fourier coefficients per latent at the end.\n\n"
        "| data | model kernel | R² shared | R² private neural | R² private behavior | "
        "leakage | kept | epochs | s/epoch |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = ""
    for data in DATA_KERNELS:
        for kernel in dict.fromkeys(r["kernel"] for r in rows):
            sel = [r for r in rows if r["data"] == data and r["kernel"] == kernel]
            if not sel:
                continue
            mean = {k: float(np.mean([r[k] for r in sel])) for k in (*SUBSPACE_KEYS, "kept")}
            mean.update(
                epochs=float(np.mean([r["epochs"] for r in sel])),
                s_per_epoch=float(np.mean([r["s_per_epoch"] for r in sel])),
            )
            cells = " | ".join(f"{mean[k]:.3f}" for k in SUBSPACE_KEYS)
            body += (
                f"| {'OU' if data == 'matern12' else 'RBF'} | {kernel} | {cells} | "
                f"{mean['kept']:.0f} | {mean['epochs']:.0f} | {mean['s_per_epoch']:.2f} |\n"
            )
    return head + body


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[11])
    p.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=KERNELS)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--smoke", action="store_true", help="a tiny run; writes nothing")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    sim_kw: dict = {}
    if a.smoke:
        a.seeds, a.kernels, a.epochs, a.no_write = [1], ["rbf", "matern12"], 2, True
        sim_kw = dict(n_trials=8, n_time=24, n_neurons=8, n_keypoints=2)
    rows = run(a.seeds, a.kernels, a.epochs, sim_kw)
    text = markdown(rows, a.seeds, a.epochs)
    return ttf.publish(a, SECTION, text)


if __name__ == "__main__":
    raise SystemExit(main())
