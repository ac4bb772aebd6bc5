"""Recovery of known latents (a simulation's truth): cross-validated linear R², and leakage.

The linear map is fitted on some trials and scored on the others, folds dealt at random over
trials. Latents of a continuous session on its clock (``export-latents --continuous``: arrays
``(bins, dims)`` and a ``time`` vector) are held out in contiguous blocks of bins instead, with
``SESSION_GAP_S`` seconds left unused beside each validation block: neighbouring bins share
slow signals, and a map scored on bins between its training bins would be flattered.

Held-out scores of a fit on data without a truth are in :mod:`mmgpvae_core.evaluation.heldout`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


#: seconds left unused beside each validation block of a session's bins (a default --window)
SESSION_GAP_S = 10.0


def random_splits(n: int, n_folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs, ``n_folds`` folds dealt at random over ``n`` trials."""
    order = np.random.default_rng(seed).permutation(n)
    return [(np.setdiff1d(order, t), t) for t in np.array_split(order, min(n_folds, n))]


def blocked_splits(n: int, n_folds: int = 5, gap: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) pairs: ``n_folds`` contiguous test blocks of ``n`` consecutive rows, training
    on the rows more than ``gap`` away (``gap`` is cut to leave each fold half its rows)."""
    n_folds = max(2, min(n_folds, n))
    gap = max(0, min(int(gap), n // (2 * n_folds)))
    edges = np.linspace(0, n, n_folds + 1).round().astype(int)
    idx = np.arange(n)
    return [
        (idx[(idx < lo - gap) | (idx >= hi + gap)], idx[lo:hi])
        for lo, hi in zip(edges[:-1], edges[1:])
    ]


def session_gap_bins(n_bins: int, bin_size_s: float | None, n_folds: int = 5) -> int:
    """``SESSION_GAP_S`` in bins (1 % of the session without a bin size), as ``blocked_splits``
    cuts it."""
    gap = SESSION_GAP_S / bin_size_s if bin_size_s and np.isfinite(bin_size_s) else 0.01 * n_bins
    return max(1, min(int(np.ceil(gap)), n_bins // (2 * n_folds)))


def cv_r2(
    inferred: np.ndarray,
    truth: np.ndarray,
    n_folds: int = 5,
    seed: int = 0,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> float:
    """Cross-validated R² of the best affine map inferred → truth, folds over trials.

    inferred (trials, time, d), truth (trials, time, k), or a session's (bins, d) and
    (bins, k). Bins with NaN in either are skipped. ``splits``: the (train, test) indices of
    the first axis (default: :func:`random_splits`). R² pools the k true dimensions:
    1 − Σ SSE / Σ SST (SST around the training mean). With d = 0 inferred dimensions the map is
    a constant, and R² ≤ 0.
    """
    n = inferred.shape[0]
    if truth.shape[-1] == 0:
        return float("nan")
    sse = sst = 0.0
    for train, test in splits if splits is not None else random_splits(n, n_folds, seed):
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


def score_latents(
    latents: dict[str, np.ndarray],
    truth: dict[str, np.ndarray],
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """R² per subspace (inferred subspace → same true subspace), and leakage: R² of each private
    truth from the inferred *shared* latents (should be near 0). ``splits``: as in
    :func:`cv_r2`."""
    out: dict[str, float] = {}
    for name in SUBSPACES:
        if name in truth and np.asarray(truth[name]).shape[-1] > 0 and name in latents:
            out[f"r2_{name}"] = cv_r2(latents[name], truth[name], splits=splits)
    for name in ("private_neural", "private_behavior"):
        if name in truth and np.asarray(truth[name]).shape[-1] > 0 and "shared" in latents:
            out[f"leakage_{name}"] = max(0.0, cv_r2(latents["shared"], truth[name], splits=splits))
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


def latent_splits(lat: dict[str, np.ndarray], n_folds: int = 5, seed: int = 0):
    """The (train, test) splits of an ``export-latents`` NPZ's arrays and a phrase saying how:
    blocked over the bins of a session on its clock (``time``, arrays (bins, dims)), at random
    over trials otherwise."""
    n = int(np.shape(lat["shared"])[0])
    if "time" in lat and np.ndim(lat["shared"]) == 2:
        dt = float(lat.get("bin_size_s", np.nan))
        gap = session_gap_bins(n, dt, n_folds)
        splits = blocked_splits(n, n_folds, gap)
        secs = f", {gap * dt:g} s" if np.isfinite(dt) else ""
        return splits, (
            f"{len(splits)} blocked folds over the session's bins (contiguous; {gap} bins{secs} "
            "left unused beside each validation block)"
        )
    splits = random_splits(n, n_folds, seed)
    return splits, f"{len(splits)} folds over trials, dealt at random"


def score_latent_files(
    latents: str | Path, truth: str | Path, with_folds: bool = False
) -> dict[str, float] | tuple[dict[str, float], str]:
    """:func:`score_latents` of an ``export-latents`` NPZ against a ``truth.npz``
    (``mmgpvae score``), on :func:`latent_splits`; with ``with_folds``, also how it held out."""
    lat, true = read_npz(latents, "latents"), read_npz(truth, "true latents")
    if "shared" not in lat:
        raise DataError(latents, "shared", "missing; expected the output of export-latents")
    splits, how = latent_splits(lat)
    scores = score_latents(lat, true, splits)
    return (scores, how) if with_folds else scores
