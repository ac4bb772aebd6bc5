"""Recovery of known latents (a simulation's truth): cross-validated linear R², and leakage.

Held-out scores of a fit on data without a truth are in :mod:`mmgpvae_core.heldout`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


def cv_r2(inferred: np.ndarray, truth: np.ndarray, n_folds: int = 5, seed: int = 0) -> float:
    """Cross-validated R² of the best affine map inferred → truth, folds over trials.

    inferred (trials, time, d), truth (trials, time, k). Bins with NaN in either are skipped.
    R² pools the k true dimensions: 1 − Σ SSE / Σ SST (SST around the training mean). With d = 0
    inferred dimensions the map is a constant, and R² ≤ 0.
    """
    n = inferred.shape[0]
    if truth.shape[-1] == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    folds = np.array_split(order, min(n_folds, n))
    sse = sst = 0.0
    for test in folds:
        train = np.setdiff1d(order, test)
        X, Y = _rows(inferred[train]), _rows(truth[train])
        ok = ~(np.isnan(X).any(1) | np.isnan(Y).any(1))
        X1 = np.hstack([X[ok], np.ones((ok.sum(), 1))])
        coef, *_ = np.linalg.lstsq(X1, Y[ok], rcond=None)
        Xt, Yt = _rows(inferred[test]), _rows(truth[test])
        okt = ~(np.isnan(Xt).any(1) | np.isnan(Yt).any(1))
        pred = np.hstack([Xt[okt], np.ones((okt.sum(), 1))]) @ coef
        sse += float(((Yt[okt] - pred) ** 2).sum())
        sst += float(((Yt[okt] - Y[ok].mean(0)) ** 2).sum())
    return 1.0 - sse / sst


def score_latents(latents: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, float]:
    """R² per subspace (inferred subspace → same true subspace), and leakage: R² of each private
    truth from the inferred *shared* latents (should be near 0)."""
    out: dict[str, float] = {}
    for name in SUBSPACES:
        if name in truth and np.asarray(truth[name]).shape[-1] > 0 and name in latents:
            out[f"r2_{name}"] = cv_r2(latents[name], truth[name])
    for name in ("private_neural", "private_behavior"):
        if name in truth and np.asarray(truth[name]).shape[-1] > 0 and "shared" in latents:
            out[f"leakage_{name}"] = max(0.0, cv_r2(latents["shared"], truth[name]))
    leaks = [v for k, v in out.items() if k.startswith("leakage_")]
    if leaks:
        out["leakage"] = max(leaks)
    return out


def read_npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an NPZ file; a file that is not one raises ``DataError`` naming ``what``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(path, "-", f"not a readable NPZ of {what} ({exc})") from None


def score_latent_files(latents: str | Path, truth: str | Path) -> dict[str, float]:
    """:func:`score_latents` of an ``export-latents`` NPZ against a ``truth.npz``
    (``mmgpvae score``)."""
    lat, true = read_npz(latents, "latents"), read_npz(truth, "true latents")
    if "shared" not in lat:
        raise DataError(latents, "shared", "missing; expected the output of export-latents")
    return score_latents(lat, true)
