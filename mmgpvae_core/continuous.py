"""Latents of a continuous session (no trials): half-overlapping windows, stitched.

A session without trials is fit on consecutive windows (``--window SECONDS``). Inferred window
by window, the latents jump at every window edge: a window's posterior is least certain at its
ends, where the GP prior sees one side only and the Fourier basis wraps around the padded
window. Here the session is inferred again on windows of the fitted length that overlap by half,
and each bin takes the windows' posteriors weighted by a Hann taper (``sin²``, zero at a
window's edges; the weights of half-overlapping windows sum to one): every bin's latents come
from the windows in whose middle it lies, and at a window's centre they are that window's own.
At the session's two ends the single window there counts alone.

Windows are inferred in batches (``batch_windows``; by default as many as hold about
``BATCH_ELEMENTS`` data values, so 5,000 channels make small batches) and each batch is added
into the stitched sums at once, so memory stays bounded for an hour-long session: what grows
with the session is only the output, (bins, dims) per subspace, and the data already loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.data import DataError, Dataset

if TYPE_CHECKING:
    from mmgpvae_core.api import MMGPVAE

#: data values (windows × bins × channels, both modalities) inferred in one batch by default:
#: each batch's windows are a copy (they overlap), so a small one (8 MB as float32)
BATCH_ELEMENTS = 1 << 21


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


class Stitcher:
    """Hann-weighted sums of per-window posteriors, added batch by batch (:func:`stitch`).

    ``n_windows`` windows of ``W`` bins start at ``starts``; :meth:`add` takes the posteriors
    (k, W, dims) of windows ``first … first + k``; :meth:`result` gives (n_bins, dims) means
    and variances."""

    def __init__(self, starts: np.ndarray, W: int, n_bins: int) -> None:
        self.starts, self.W, self.n_bins = np.asarray(starts), int(W), int(n_bins)
        self.hann = hann_weights(self.W)
        self.num: np.ndarray | None = None
        self.var: np.ndarray | None = None
        self.den = np.zeros(self.n_bins)

    def weights(self, k: int) -> np.ndarray:
        """(W,) weight of window ``k``: the first window's first half and the last window's
        second half count alone (nothing else covers them)."""
        w = self.hann.copy()
        if k == 0:
            w[: self.W // 2] = 1.0
        if k == len(self.starts) - 1:
            w[self.W - self.W // 2 :] = 1.0
        return w

    def add(self, first: int, means: np.ndarray, variances: np.ndarray) -> None:
        if self.num is None:
            self.num = np.zeros((self.n_bins, means.shape[2]))
            self.var = np.zeros((self.n_bins, means.shape[2]))
        for j in range(means.shape[0]):
            k = first + j
            w = self.weights(k)
            sl = slice(self.starts[k], self.starts[k] + self.W)
            self.num[sl] += w[:, None] * means[j]
            self.var[sl] += w[:, None] * variances[j]
            self.den[sl] += w

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        den = np.maximum(self.den, 1e-12)[:, None]
        return self.num / den, self.var / den


def stitch(
    means: np.ndarray, variances: np.ndarray, starts: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Combine per-window posteriors (windows, window, dims) into (n_bins, dims).

    Weighted mean with Hann weights; the variance is the weighted mean of the windows'
    variances. The first window's first half and the last window's second half have weight one
    (nothing else covers them)."""
    st = Stitcher(starts, means.shape[1], n_bins)
    st.add(0, means, variances)
    return st.result()


def windows_of(x: np.ndarray, starts: np.ndarray, W: int) -> np.ndarray:
    """(len(starts), W, channels): the windows of ``x`` (bins, channels) starting at ``starts``."""
    return np.stack([x[s : s + W] for s in starts])


def continuous_latents(
    model: MMGPVAE,
    neural: Dataset | None = None,
    behavior: Dataset | None = None,
    *,
    hop: int | None = None,
    batch_windows: int | None = None,
    on_progress=None,
) -> dict[str, np.ndarray]:
    """Session-long latents of a model fit on consecutive windows.

    Returns ``time`` (bins,) in session seconds (bin centres), and per subspace ``name``
    (bins, dims) and ``name_var`` (bins, dims), in the display coordinates of
    :meth:`MMGPVAE.latent_posterior`. ``hop``: bins between window starts (default half the
    window). ``batch_windows``: windows inferred at a time (default: about ``BATCH_ELEMENTS``
    data values; the result does not depend on it). ``on_progress(done, total)`` after each
    batch of windows."""
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
    if batch_windows is None:
        per_window = W * (x_a.shape[1] + (0 if x_b is None else x_b.shape[1]))
        batch_windows = max(1, BATCH_ELEMENTS // per_window)
    stitchers: dict[str, Stitcher] = {}
    for b in range(0, len(starts), batch_windows):
        chunk = starts[b : b + batch_windows]
        nd = Dataset(windows_of(x_a, chunk, W), source=neural.source, field=neural.field)
        bd = None
        if x_b is not None:
            bd = Dataset(windows_of(x_b, chunk, W), source=behavior.source, field=behavior.field)
        for name, post in model.latent_posterior(nd, bd).items():
            stitchers.setdefault(name, Stitcher(starts, W, n_bins))
            stitchers[name].add(b, post["mean"], post["var"])
        del nd, bd
        if on_progress is not None:
            on_progress(min(b + batch_windows, len(starts)), len(starts))
    out: dict[str, np.ndarray] = {"time": session_time(neural)}
    for name in SUBSPACES:
        if name in stitchers and stitchers[name].num is not None:
            out[name], out[f"{name}_var"] = stitchers[name].result()
    return out
