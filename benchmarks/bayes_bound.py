"""How well could ANY method recover the private neural latent of a simulation? A Bayes bound.

An oracle that knows everything the fit has to learn — the loading C and offsets d of the
Poisson neurons, the true length-scale of each private neural latent, and the true *shared*
latents — and infers only the private neural latent z_A of each trial from its spike counts:
the mode of p(z_A | y, z_S) under the true GP prior (Laplace, by Newton's method), scored with
the same cross-validated R² as a fit (``recovery.cv_r2``). Knowing z_S and the parameters can
only help, so no fit of the same data should score above it (up to the Laplace approximation
and the CV noise); a fit near it has left nothing on the table.

    .venv/bin/python benchmarks/bayes_bound.py --seeds 1 2 3 4 5 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mmgpvae_core.evaluation.recovery import cv_r2  # noqa: E402
from mmgpvae_core.model.prior import rbf_kernel  # noqa: E402

SMOKE_HELP = "tiniest sizes, one seed: only checks that the script still runs (seconds)"
#: ``simulate_hard`` at the smallest size that still has every feature (ragged, occluded)
SMOKE_SIZE = {"n_trials": 10, "n_time": 30, "n_neurons": 8, "n_keypoints": 2}


def loading(z: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C (neurons, dims), d (neurons,)) of log rates = z C^T + d, read back exactly (noise-free
    least squares) from the simulation's latents z (trials, time, dims) and rates."""
    ok = ~np.isnan(rates[..., 0])
    X = np.hstack([z[ok], np.ones((ok.sum(), 1))])
    coef, *_ = np.linalg.lstsq(X, np.log(rates[ok]), rcond=None)
    return coef[:-1].T, coef[-1]


def log_joint(z, y, base, Ca, Kinv) -> float:
    """Poisson log-likelihood + GP log-prior (up to constants) of private latents z (L, dims)."""
    eta = base + z @ Ca.T
    prior = sum(z[:, j] @ Kinv[j] @ z[:, j] for j in range(z.shape[1]))
    return float((y * eta - np.exp(eta)).sum() - 0.5 * prior)


def private_neural_oracle(sim, n_iter: int = 30) -> np.ndarray:
    """(trials, time, dA) Laplace posterior mode of z_A given counts, true z_S, C, d and ℓ_A."""
    t = sim.truth
    z_s, z_a = t["shared"], t["private_neural"]
    y = sim.neural.data
    C, d = loading(np.concatenate([z_s, z_a], axis=2), t["rates"])
    Cs, Ca = C[:, : z_s.shape[2]], C[:, z_s.shape[2] :]
    ells = t["length_scales"][z_s.shape[2] : z_s.shape[2] + z_a.shape[2]]
    out = np.full(z_a.shape, np.nan)
    for i in range(y.shape[0]):
        L = int(t["lengths"][i]) if "lengths" in t else y.shape[1]
        yi, base = y[i, :L], z_s[i, :L] @ Cs.T + d  # (L, neurons)
        Kinv = [np.linalg.inv(rbf_kernel(L, e) + 1e-6 * np.eye(L)) for e in ells]
        z = np.zeros((L, z_a.shape[2]))

        for _ in range(n_iter):  # Newton, coordinate-wise over the private dims, step-halving
            for j in range(z.shape[1]):
                lam = np.exp(base + z @ Ca.T)  # (L, neurons)
                g = (yi - lam) @ Ca[:, j] - Kinv[j] @ z[:, j]
                H = Kinv[j] + np.diag(lam @ Ca[:, j] ** 2)
                step, f0 = np.linalg.solve(H, g), log_joint(z, yi, base, Ca, Kinv)
                for _ in range(30):
                    trial = z.copy()
                    trial[:, j] += step
                    if log_joint(trial, yi, base, Ca, Kinv) >= f0:
                        z = trial
                        break
                    step = step / 2
        out[i, :L] = z
    return out


def bound(sim) -> float:
    """Cross-validated R² of the oracle's private neural latents against the truth."""
    return cv_r2(private_neural_oracle(sim), sim.truth["private_neural"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    a = p.parse_args(argv)
    from mmgpvae_core.synthetic.simulate import simulate_hard

    size = SMOKE_SIZE if a.smoke else {}
    seeds = a.seeds[:1] if a.smoke else a.seeds

    print("| seed | ℓ private neural (bins) | Bayes bound R² private neural |")
    print("|---:|---:|---:|")
    for s in seeds:
        sim = simulate_hard(seed=s, **size)
        ell = sim.truth["length_scales"][2]
        print(f"| {s} | {ell:.1f} | {bound(sim):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
