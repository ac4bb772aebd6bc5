"""The GP prior in the Fourier domain: each latent's kernel (``kernels.py``; RBF by default)
gives the spectral density, with a learned length-scale per latent dimension, and per-latent
pruning of negligible frequencies."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mmgpvae_core.config import LENGTH_SCALE_PARAMS, ModelConfig
from mmgpvae_core.model.kernels import RBF, Kernel, make_kernel


def rbf_log_spectral_density(
    omega: torch.Tensor, length_scale: torch.Tensor, variance: float
) -> torch.Tensor:
    """log s(ω) = log(σ² √(2π) ℓ) − ω²ℓ²/2, for unit-spaced bins.

    omega: (M,); length_scale: (D,) → (D, M). With the orthonormal real DFT basis of
    ``fourier.py`` this is the prior variance of each coefficient (the circulant kernel's eigenvalue
    in the large-T' limit). The RBF kernel's (``kernels.RBF``).
    """
    return RBF().log_spectral_density(omega, length_scale, variance)


def rbf_kernel(n_time: int, length_scale: float, variance: float = 1.0) -> np.ndarray:
    """(T, T) time-domain RBF covariance, for tests and the time-domain baseline."""
    t = np.arange(n_time)
    return variance * np.exp(-((t[:, None] - t[None, :]) ** 2) / (2 * length_scale**2))


def inv_softplus(x: float) -> float:
    """The raw value whose softplus is ``x`` > 0 (stable for large and small ``x``)."""
    return x + math.log(-math.expm1(-x)) if x < 20 else x


class FourierGPPrior(nn.Module):
    """Independent GP priors, one per latent dimension, diagonal in the Fourier domain.

    Length-scale ℓ_d = ``min_length_scale`` + exp(raw_d) (bins; ``param="log"``) or + softplus(raw_d)
    (``"softplus"``, projects from before issue 14), each started at its own ``length_scale_init``
    (a scalar: all alike): the floor guarantees the frequency set chosen for
    ``min_length_scale`` covers every length-scale the model can learn.
    The marginal variance σ² is fixed (the loadings absorb scale), as in the reference code.
    ``kernels``: one registered kernel name per latent (default: all "rbf").
    """

    def __init__(
        self,
        n_latents: int,
        length_scale_init: float | Sequence[float],
        min_length_scale: float,
        variance: float = ModelConfig.marginal_variance,
        prune_threshold: float = ModelConfig.prune_threshold,
        param: str = ModelConfig.length_scale_param,
        kernels: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if param not in LENGTH_SCALE_PARAMS:
            raise ValueError(f"param must be one of {LENGTH_SCALE_PARAMS}, not {param!r}")
        inits = np.broadcast_to(np.asarray(length_scale_init, dtype=float), (n_latents,))
        inits = np.where(inits <= min_length_scale, min_length_scale * 1.5, inits)
        to_raw = inv_softplus if param == "softplus" else math.log
        raw = [to_raw(float(v) - min_length_scale) for v in inits]
        self.raw_length_scale = nn.Parameter(torch.tensor(raw, dtype=torch.float32))
        self.param = param
        self.min_length_scale = float(min_length_scale)
        self.variance = float(variance)
        self.prune_threshold = float(prune_threshold)
        names = list(kernels) if kernels is not None else [RBF.name] * n_latents
        if len(names) != n_latents:
            raise ValueError(f"kernels: {len(names)} names for {n_latents} latents")
        self.kernel_names = tuple(names)
        #: (kernel, latent indices) per distinct kernel, in order of first use
        self._groups: list[tuple[Kernel, list[int]]] = [
            (make_kernel(n), [d for d, m in enumerate(names) if m == n])
            for n in dict.fromkeys(names)
        ]
        order = [d for _, idx in self._groups for d in idx]
        self._unsort = None if order == list(range(n_latents)) else np.argsort(order).tolist()

    @property
    def length_scale(self) -> torch.Tensor:
        """(D,) length-scales in bins."""
        if self.param == "log":
            return self.min_length_scale + torch.exp(self.raw_length_scale)
        return self.min_length_scale + F.softplus(self.raw_length_scale)

    def log_variances(self, omega: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prior log-variance of every coefficient and which ones are kept.

        Returns ``log_s`` (D, M) and ``keep`` (D, M) bool: frequency k of latent d is pruned when
        s_dk < prune_threshold · s_d0, i.e. its prior variance is negligible at this latent's
        *current* length-scale, so the kept set follows the learned ℓ at every step.
        """
        log_s = self.log_spectral_density(omega)
        keep = (log_s - log_s[:, :1]) >= math.log(self.prune_threshold)
        return log_s, keep


    @property
    def kernels(self) -> list[Kernel]:
        """The distinct kernels of the latents, in order of first use."""
        return [k for k, _ in self._groups]

    def log_spectral_density(self, omega: torch.Tensor) -> torch.Tensor:
        """(D, M) log S_d(ω) of each latent's own kernel at its length-scale."""
        ell = self.length_scale
        if len(self._groups) == 1:
            return self._groups[0][0].log_spectral_density(omega, ell, self.variance)
        rows = [k.log_spectral_density(omega, ell[idx], self.variance) for k, idx in self._groups]
        log_s = torch.cat(rows)
        return log_s if self._unsort is None else log_s[self._unsort]

    def covariance(self, n_time: int) -> torch.Tensor:
        """(D, T, T) time-domain prior covariance of each latent (its kernel at its
        length-scale), differentiable in the length-scales; for the time-domain baseline."""
        ell = self.length_scale
        t = torch.arange(n_time, device=ell.device, dtype=ell.dtype)
        tau = t[:, None] - t[None, :]
        blocks = [
            self.variance * k.correlation(tau, ell[idx][:, None, None]) for k, idx in self._groups
        ]
        K = torch.cat(blocks)
        return K if self._unsort is None else K[self._unsort]


#: values one block of the length-scale estimate holds (8 MiB of float64)
BLOCK_VALUES = 1 << 20
#: values of each modality the length-scale estimate reads: above it, a seeded random sample of
#: whole trials (windows) of about this many values stands for the session
SAMPLE_VALUES = 1 << 24


def _trial_sample(n_trials: int, per_trial: int, seed: int) -> np.ndarray:
    """Sorted indices of the trials the estimate reads: all of them, or a seeded random
    sample of ``SAMPLE_VALUES // per_trial`` (at least one) when there are more values."""
    keep = max(1, int(SAMPLE_VALUES) // max(1, per_trial))
    if keep >= n_trials:
        return np.arange(n_trials)
    return np.sort(np.random.default_rng(seed).choice(n_trials, keep, replace=False))


def _blocks(trials: np.ndarray, T: int, C: int) -> list[tuple[np.ndarray, slice]]:
    """(trial indices, channel slice) blocks of about ``BLOCK_VALUES`` values: whole trials
    (lags need the whole time axis), split across channels when one trial is too big."""
    per_c = max(1, min(C, int(BLOCK_VALUES) // max(1, T)))
    per_n = max(1, int(BLOCK_VALUES) // (T * per_c))
    return [
        (trials[i : i + per_n], slice(c, min(c + per_c, C)))
        for c in range(0, C, per_c)
        for i in range(0, trials.size, per_n)
    ]


def _autocovariance(y: np.ndarray, log: bool, max_lag: int, seed: int) -> np.ndarray:
    """(max_lag,) mean of x[:, :T−k]·x[:, k:] over trials, bins and channels for each lag k,
    where x is y (log1p of y ≥ 0 for counts) centred per channel, NaN → 0; read block by block
    (float64 blocks, never a copy of y) on the trials ``_trial_sample`` picks."""
    N, T, C = y.shape
    trials = _trial_sample(N, T * C, seed)
    blocks = _blocks(trials, T, C)

    def values(rows: np.ndarray, cols: slice) -> np.ndarray:
        if rows[-1] - rows[0] + 1 == rows.size:  # consecutive trials: a view, not a copy
            x = y[rows[0] : rows[-1] + 1, :, cols]
        else:
            x = y[rows, :, cols]
        if log:
            return np.log1p(np.clip(x, 0, None, dtype=float))
        return np.array(x, dtype=float)

    total, count = np.zeros(C), np.zeros(C)
    for rows, cols in blocks:
        x = values(rows, cols)
        total[cols] += np.nansum(x, axis=(0, 1))
        count[cols] += (~np.isnan(x)).sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count  # NaN for a channel with nothing observed: all zero below
    lags = min(max_lag, T)  # a lag of T or more has no pairs: NaN
    sums = np.zeros(max_lag)
    for rows, cols in blocks:
        x = values(rows, cols)
        x -= mean[cols]
        x = np.nan_to_num(x, copy=False)
        for k in range(lags):
            sums[k] += np.einsum("ntc,ntc->", x[:, : T - k], x[:, k:])
    pairs = trials.size * C * (T - np.arange(max_lag))
    return np.where(pairs > 0, sums / np.maximum(pairs, 1), np.nan)


def length_scale_from_data(
    arrays: list[np.ndarray], log_transform: list[bool], seed: int = 0
) -> float:
    """A robust initial length-scale (bins) from the data's autocorrelation.

    For a latent with an RBF kernel seen through white noise, the autocovariance at lags τ ≥ 1 is
    v·exp(−τ²/2ℓ²), so log(ac(τ)/ac(1)) = −(τ² − 1)/(2ℓ²): fit ℓ by least squares over the lags
    where the ratio is still above 0.2. Averaged over channels and trials; median over modalities.
    Clipped to [2, T/4].

    The autocovariance is summed block by block (``_autocovariance``): a modality of more than
    ``SAMPLE_VALUES`` values is read on a random sample of whole trials (``seed``), an estimate
    of the same average (an initial value: the fit learns ℓ); below it every trial is read and
    the result is the whole-array one.
    """
    T = arrays[0].shape[1]
    max_lag = max(3, T // 3)
    acs = [
        _autocovariance(np.asarray(y), log, max_lag, seed)
        for y, log in zip(arrays, log_transform)
    ]
    return length_scale_from_autocovariance(acs, T)


def length_scale_from_autocovariance(acs: list[np.ndarray], T: int) -> float:
    """The fit of :func:`length_scale_from_data` (bins) given each modality's autocovariance at
    lags 0, 1, …, max_lag − 1 (``(max_lag,)`` each) over trials of ``T`` bins."""
    estimates = []
    for ac in acs:
        if ac[1] <= 0:
            continue
        r = ac[1:] / ac[1]
        taus = np.arange(1, len(ac))
        ok = (r > 0.2) & (taus > 1)
        stop = np.argmax(~ok[1:]) + 1 if (~ok[1:]).any() else len(ok)
        ok[stop:] = False
        if not ok.any():
            estimates.append(1.0)
            continue
        a = taus[ok] ** 2 - 1.0
        b = -2.0 * np.log(r[ok])
        estimates.append(float(np.sqrt((a * a).sum() / max((a * b).sum(), 1e-12))))
    ell = float(np.median(estimates)) if estimates else T / 10
    return float(np.clip(ell, 2.0, max(2.0, T / 4)))
