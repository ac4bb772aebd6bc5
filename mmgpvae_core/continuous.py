"""Latents of a continuous session (no trials): half-overlapping windows, stitched.

A session without trials is fit on consecutive windows (``--window SECONDS``). Inferred window
by window, the latents jump at every window edge: a window's posterior is least certain at its
ends, where the GP prior sees one side only and the Fourier basis wraps around the padded
window. Here the session is inferred again on windows of the fitted length that overlap by half,
and each bin takes the windows' posteriors weighted by a Hann taper (``sin²``, zero at a
window's edges; the weights of half-overlapping windows sum to one): every bin's latents come
from the windows in whose middle it lies, and at a window's centre they are that window's own.
At the session's two ends the single window there counts alone.

Windows are inferred in batches (``batch_windows``), so memory stays bounded for an hour-long
session: what grows with the session is only the output, (bins, dims) per subspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mmgpvae_core.data import DataError, Dataset

if TYPE_CHECKING:
    from mmgpvae_core.api import MMGPVAE

SUBSPACES = ("shared", "private_neural", "private_behavior")


def is_continuous(ds: Dataset) -> bool:
    """True for a session cut into consecutive windows (not a trials table)."""
    return (ds.preprocessing.get("trials") or {}).get("source") == "windows"


def session_start_s(ds: Dataset) -> float:
    span = (ds.preprocessing.get("trials") or {}).get("span_s") or [0.0]
    return float(span[0])


def session_time(ds: Dataset) -> np.ndarray:
    """(windows × window,) bin centres in session seconds: each window's recorded start plus
    its bins (or, when the starts were not recorded, windows end to end from the session's)."""
    dt = ds.bin_size_s or 1.0
    offsets = (np.arange(ds.n_time) + 0.5) * dt
    starts = (ds.preprocessing.get("trials") or {}).get("start_s") or []
    if len(starts) != ds.n_trials:
        starts = session_start_s(ds) + ds.n_time * dt * np.arange(ds.n_trials)
    return (np.asarray(starts, dtype=float)[:, None] + offsets[None, :]).ravel()


def join_windows(ds: Dataset) -> np.ndarray:
    """(bins, channels): the consecutive windows of a continuous dataset, end to end."""
    if not is_continuous(ds):
        raise DataError(
            ds.source,
            "trials",
            "the fit was cut into trials, not into windows of a continuous session; continuous "
            "latents need a session fit with --window (no trials table)",
        )
    return ds.data.reshape(-1, ds.data.shape[2])


def hann_weights(n: int) -> np.ndarray:
    """(n,) taper sin²(π (t + ½) / n): zero-ish at both ends, one in the middle; two copies
    shifted by n/2 (n even) sum to one."""
    t = np.arange(n)
    return np.sin(np.pi * (t + 0.5) / n) ** 2


def window_starts(n_bins: int, window: int, hop: int) -> np.ndarray:
    """Start bins of windows of ``window`` bins every ``hop`` bins, the last one flush with the
    end of the session (so every bin is covered)."""
    if n_bins <= window:
        return np.array([0])
    starts = np.arange(0, n_bins - window + 1, hop)
    if starts[-1] != n_bins - window:
        starts = np.append(starts, n_bins - window)
    return starts


def stitch(
    means: np.ndarray, variances: np.ndarray, starts: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-window posteriors (windows, window, dims) into (n_bins, dims).

    Weighted mean with Hann weights; the variance is the weighted mean of the windows'
    variances. The first window's first half and the last window's second half have weight one
    (nothing else covers them)."""
    n_win, W, D = means.shape
    w = np.tile(hann_weights(W), (n_win, 1))
    w[0, : W // 2] = 1.0
    w[-1, W - W // 2 :] = 1.0
    num = np.zeros((n_bins, D))
    var = np.zeros((n_bins, D))
    den = np.zeros(n_bins)
    for k, s in enumerate(starts):
        sl = slice(s, s + W)
        num[sl] += w[k, :, None] * means[k]
        var[sl] += w[k, :, None] * variances[k]
        den[sl] += w[k]
    den = np.maximum(den, 1e-12)[:, None]
    return num / den, var / den


def _windows_of(x: np.ndarray, starts: np.ndarray, W: int) -> np.ndarray:
    return np.stack([x[s : s + W] for s in starts])


def continuous_latents(
    model: MMGPVAE,
    neural: Dataset | None = None,
    behavior: Dataset | None = None,
    *,
    hop: int | None = None,
    batch_windows: int = 256,
    on_progress=None,
) -> dict[str, np.ndarray]:
    """Session-long latents of a model fit on consecutive windows.

    Returns ``time`` (bins,) in session seconds (bin centres), and per subspace ``name``
    (bins, dims) and ``name_var`` (bins, dims), in the display coordinates of
    :meth:`MMGPVAE.latent_posterior`. ``hop``: bins between window starts (default half the
    window). ``on_progress(done, total)`` after each batch of windows."""
    neural = neural if neural is not None else model.neural
    behavior = behavior if behavior is not None else model.behavior
    if neural is None:
        raise DataError("<model>", "neural", "the model has no neural data")
    x_a = join_windows(neural)
    x_b = None if behavior is None else join_windows(behavior)
    W = neural.n_time
    hop = max(1, W // 2) if hop is None else int(hop)
    n_bins = x_a.shape[0]
    starts = window_starts(n_bins, W, hop)
    parts: dict[str, list[dict[str, np.ndarray]]] = {}
    for b in range(0, len(starts), batch_windows):
        chunk = starts[b : b + batch_windows]
        nd = Dataset(_windows_of(x_a, chunk, W), source=neural.source, field=neural.field)
        bd = None
        if x_b is not None:
            bd = Dataset(_windows_of(x_b, chunk, W), source=behavior.source, field=behavior.field)
        for name, post in model.latent_posterior(nd, bd).items():
            parts.setdefault(name, []).append(post)
        if on_progress is not None:
            on_progress(min(b + batch_windows, len(starts)), len(starts))
    out: dict[str, np.ndarray] = {"time": session_time(neural)}
    for name in SUBSPACES:
        if name not in parts:
            continue
        mean = np.concatenate([p["mean"] for p in parts[name]])
        var = np.concatenate([p["var"] for p in parts[name]])
        out[name], out[f"{name}_var"] = stitch(mean, var, starts, n_bins)
    return out
