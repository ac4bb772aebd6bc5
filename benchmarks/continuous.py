"""Continuous sessions: latents near window edges vs the middle, per window and stitched; and
the cost of a session-long export.

A session with known latents (``simulate_session``) is fit on consecutive windows (as
``--window`` cuts it). The latents are then read two ways: window by window (disjoint windows,
what ``export-latents`` gave before) and stitched from half-overlapping windows with Hann weights
(``continuous.continuous_latents``). Each is mapped to the true latents by one least-squares map
fit on the first half of the session and scored (R²) on the second half, separately for bins
near a window edge (within ``--edge`` bins) and the middle of windows.

    python benchmarks/continuous.py [--bins 6000] [--window 50] [--epochs 150] [--out RESULTS]

Prints a Markdown section (append it to RESULTS.md).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)
import torch


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(1 - ((pred - truth) ** 2).sum() / ((truth - truth.mean(0)) ** 2).sum())


def mapped(z: np.ndarray, truth: np.ndarray, train: np.ndarray) -> np.ndarray:
    X = np.column_stack([z, np.ones(len(z))])
    beta, *_ = np.linalg.lstsq(X[train], truth[train], rcond=None)
    return X @ beta


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bins", type=int, default=6000)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--edge", type=int, default=5)
    p.add_argument("--seed", type=int, default=3)
    ttf.add_smoke_argument(p, "tiniest sizes (300 bins, 2 epochs)")
    a = p.parse_args()
    if a.smoke:
        a.bins, a.window, a.epochs = 300, 30, 2
    torch.set_num_threads(2)

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.continuous import continuous_latents
    from mmgpvae_core.synthetic.simulate import simulate_session

    t0 = time.perf_counter()
    sim = simulate_session(n_bins=a.bins, window_bins=a.window, seed=a.seed)
    model = MMGPVAE(2, 1, 1, epochs=a.epochs, seed=0, behavior_likelihood="gaussian")
    model.fit(sim.neural, sim.behavior)
    t_fit = time.perf_counter() - t0
    per_window = model.latent_posterior()
    t1 = time.perf_counter()
    stitched = continuous_latents(model)
    t_export = time.perf_counter() - t1
    n = sim.truth["time"].size
    pos = np.arange(n) % a.window
    edge = (pos < a.edge) | (pos >= a.window - a.edge)
    half = np.arange(n) < n // 2
    rows = []
    for name in ("shared", "private_neural", "private_behavior"):
        truth = sim.truth[name]
        scores = []
        for z in (per_window[name]["mean"].reshape(n, -1), stitched[name]):
            pred = mapped(z, truth, half)
            test = ~half
            scores.append((r2(pred[test & edge], truth[test & edge]),
                           r2(pred[test & ~edge], truth[test & ~edge])))
        rows.append((name, scores))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("## Continuous sessions: latents near window edges vs the middle\n")
    print(
        f"`benchmarks/continuous.py --bins {a.bins} --window {a.window} --epochs {a.epochs} "
        f"--edge {a.edge} --seed {a.seed}`: one simulated session of {n} bins "
        f"({n // a.window} windows of {a.window} bins; 40 neurons, 12 pose channels; 2 + 1 + 1 "
        f"latents, length-scales 8–14 bins), fit {len(model.history)} epochs in {t_fit:.0f} s "
        f"on 2 CPU threads. R² of latents mapped to the truth by least squares fit on the "
        f"first half of the session, scored on the second half; 'edge' = within {a.edge} bins "
        f"of a window edge. Stitched export: {t_export:.1f} s; peak RSS {peak_mb:.0f} MB.\n"
    )
    print("| subspace | per window, edge | per window, middle | stitched, edge "
          "| stitched, middle |")
    print("|---|---:|---:|---:|---:|")
    for name, ((we, wm), (se, sm)) in rows:
        print(f"| {name} | {we:.3f} | {wm:.3f} | {se:.3f} | {sm:.3f} |")


if __name__ == "__main__":
    main()
