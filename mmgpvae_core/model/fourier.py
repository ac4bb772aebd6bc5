"""Real Fourier basis on a circularly extended window, and frequency pruning.

A latent on ``T`` bins is embedded in a circle of ``T' = T + pad`` bins so that its kernel
becomes circulant; the orthonormal real DFT basis then diagonalises it. Only frequencies whose
prior variance is not negligible at the smallest allowed length-scale are kept, so the number of
coefficients ``M`` is set by smoothness, not by ``T``: each kernel says where its spectrum falls
below the prune threshold (``Kernel.cutoff``), and the roughest kernel in the model sets ``M``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from mmgpvae_core.model.kernels import RBF, Kernel


def max_frequency_index(
    t_circ: int,
    min_length_scale: float,
    prune_threshold: float,
    kernels: Iterable[Kernel] = (RBF(),),
) -> int:
    """Largest k with prior variance at ``ω_k = 2πk/T'`` ≥ ``prune_threshold`` × the variance
    at ω = 0, for length-scale ``min_length_scale`` (bins), under any of ``kernels``.

    S(ω)/S(0) ≥ thr  ⇔  ω ≤ cutoff(thr) / ℓ (``Kernel.cutoff``; RBF: sqrt(2 ln(1/thr)), the
    reference code's rule, with condthresh = 1/prune_threshold). Capped below Nyquist.
    """
    omega_max = max(k.cutoff(prune_threshold) for k in kernels) / min_length_scale
    k = int(math.floor(omega_max * t_circ / (2.0 * math.pi)))
    return max(0, min(k, (t_circ - 1) // 2))


def circular_length(n_time: int, length_scale: float, padding: float) -> int:
    """``T' = T + ceil(padding × length_scale)``: enough room that the wrap-around correlation
    between the window's two ends is negligible (RBF: exp(-padding²/2) of the variance; other
    kernels pass their own ``Kernel.padding``)."""
    return int(n_time + math.ceil(padding * length_scale))


def frequencies(t_circ: int, k_max: int) -> np.ndarray:
    """(M,) angular frequency of each basis column: [0, ω_1, ω_1, ω_2, ω_2, ...] (cos, sin)."""
    ks = np.repeat(np.arange(1, k_max + 1), 2)
    return np.concatenate([[0.0], 2.0 * np.pi * ks / t_circ])


def real_fourier_basis(n_time: int, t_circ: int, k_max: int) -> np.ndarray:
    """(n_time, M) orthonormal real DFT basis on ``t_circ`` points, restricted to the first
    ``n_time`` rows. Columns: constant, then cos/sin pairs for k = 1..k_max; M = 2 k_max + 1."""
    t = np.arange(n_time)[:, None]
    k = np.arange(1, k_max + 1)[None, :]
    ang = 2.0 * np.pi * t * k / t_circ
    cols = np.empty((n_time, 2 * k_max + 1))
    cols[:, 0] = 1.0 / math.sqrt(t_circ)
    cols[:, 1::2] = math.sqrt(2.0 / t_circ) * np.cos(ang)
    cols[:, 2::2] = math.sqrt(2.0 / t_circ) * np.sin(ang)
    return cols


class FourierBasis:
    """The basis and frequency set of one data set, cached as tensors.

    Attributes: ``B`` (T, M), ``omega`` (M,), ``t_circ`` (T'), ``k_max``. ``kernels``: those
    of the model's latents; the roughest sets how many frequencies are kept.
    """

    def __init__(
        self,
        n_time: int,
        t_circ: int,
        min_length_scale: float,
        prune_threshold: float,
        kernels: Iterable[Kernel] = (RBF(),),
    ) -> None:
        self.n_time = n_time
        self.t_circ = t_circ
        self.k_max = max_frequency_index(t_circ, min_length_scale, prune_threshold, kernels)
        self.B = torch.as_tensor(real_fourier_basis(n_time, t_circ, self.k_max), dtype=torch.float32)
        self.omega = torch.as_tensor(frequencies(t_circ, self.k_max), dtype=torch.float32)

    @property
    def n_freq(self) -> int:
        return int(self.B.shape[1])

    def to(self, device: torch.device | str) -> FourierBasis:
        self.B = self.B.to(device)
        self.omega = self.omega.to(device)
        return self
