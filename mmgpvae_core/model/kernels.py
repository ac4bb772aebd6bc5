"""Stationary GP kernels for the Fourier-domain prior, and the registry that maps saved names to
them.

On a circle of ``T'`` bins the periodised kernel is exactly diagonal in the real Fourier basis
(Poisson summation): the coefficient at ω_k = 2πk/T' has variance S(ω_k), S the kernel's
spectral density (unit-spaced bins, the orthonormal basis of ``fourier.py``). Each kernel owns
everything that depends on which kernel it is — no caller asks "which kernel is this?":

- ``log_spectral_density(omega, length_scale, variance)``: the prior log-variance of each
  coefficient, differentiable in the length-scales;
- ``cutoff(prune_threshold)``: ω_max·ℓ where S(ω)/S(0) falls to the prune threshold, which sets
  how many frequencies the basis keeps (rough kernels: many more);
- ``correlation(tau, length_scale)``: k(τ)/σ², on numpy arrays or torch tensors (the time-domain
  baseline, the simulation, the tests);
- ``padding(rbf_padding)``: how many length-scales the circle must extend the window so that
  the wrap-around correlation is as small as the RBF's at ``rbf_padding`` length-scales (rough
  kernels decay slowly and need more).

Adding a kernel is one class decorated with ``@register`` (its ``name`` is what project files
store), its name in ``config.KERNELS`` (kept torch-free for the command line; a test checks that
the two agree) and its row in the Fourier-against-time-domain test (``tests/core/test_kernels.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from mmgpvae_core.config import SUBSPACES, subspace_kernels
from mmgpvae_core.model import registry
from mmgpvae_core.model.registry import lookup

KERNEL_CLASSES: dict[str, type[Kernel]] = {}


def _xp(x: Any):
    """The array module of ``x``: torch for tensors, numpy otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


class Kernel:
    """A stationary kernel with a marginal variance σ² and a length-scale ℓ (bins)."""

    name: ClassVar[str] = ""
    #: the label the app and figures show
    label: ClassVar[str] = ""

    def log_spectral_density(
        self, omega: torch.Tensor, length_scale: torch.Tensor, variance: float
    ) -> torch.Tensor:
        """log S(ω): omega (M,), length_scale (D,) → (D, M)."""
        raise NotImplementedError

    def cutoff(self, prune_threshold: float) -> float:
        """ω_max·ℓ at which S(ω)/S(0) = ``prune_threshold``."""
        raise NotImplementedError

    def correlation(self, tau: Any, length_scale: Any) -> Any:
        """k(τ)/σ² for lags ``tau`` (bins; numpy array or tensor, broadcast with ℓ)."""
        raise NotImplementedError

    def padding(self, rbf_padding: float) -> float:
        """Length-scales x with correlation(x·ℓ) = the RBF's at ``rbf_padding`` length-scales,
        exp(−rbf_padding²/2): the wrap-around error the RBF default accepts. Bisection on
        the correlation, which falls monotonically."""
        target = math.exp(-0.5 * rbf_padding**2)
        if target >= 1.0:
            return 0.0
        lo, hi = 0.0, 1.0
        while self.correlation(np.float64(hi), 1.0) > target:
            lo, hi = hi, 2.0 * hi
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.correlation(np.float64(mid), 1.0) > target else (lo, mid)
        return hi

    def covariance(self, n_time: int, length_scale: float, variance: float = 1.0) -> np.ndarray:
        """(T, T) time-domain covariance σ² k(t − t')/σ², for tests and simulations."""
        t = np.arange(n_time)
        return variance * self.correlation(t[:, None] - t[None, :], length_scale)


def register(cls: type[Kernel]) -> type[Kernel]:
    """Class decorator: make ``cls`` available under ``cls.name``; a name taken already (a
    plugin's typo, or the same class imported twice under two names) is an error, never a
    silent overwrite."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a registered kernel needs a name")
    return registry.add(KERNEL_CLASSES, cls, "kernel")


def kernel_class(name: str) -> type[Kernel]:
    return lookup(KERNEL_CLASSES, name, "kernel")


def make_kernel(name: str) -> Kernel:
    return kernel_class(name)()


@register
class RBF(Kernel):
    """k(τ) = σ² exp(−τ²/2ℓ²); S(ω) = σ² √(2π) ℓ exp(−ω²ℓ²/2). Smooth (infinitely
    differentiable) paths; the seed paper's kernel and the default."""

    name = "rbf"
    label = "RBF"

    def log_spectral_density(self, omega, length_scale, variance):
        ell = length_scale[:, None]
        return (
            math.log(variance)
            + 0.5 * math.log(2 * math.pi)
            + torch.log(ell)
            - 0.5 * (omega * ell) ** 2
        )

    def cutoff(self, prune_threshold: float) -> float:
        # exp(−ω²ℓ²/2) ≥ ε ⇔ ωℓ ≤ √(2 ln 1/ε) (the reference code's rule)
        return math.sqrt(2.0 * math.log(1.0 / prune_threshold))

    def correlation(self, tau, length_scale):
        return _xp(tau).exp(-(tau**2) / (2.0 * length_scale**2))

    def padding(self, rbf_padding: float) -> float:
        return rbf_padding


class Matern(Kernel):
    """Matérn ν: S(ω) = σ² 2√π Γ(ν+½)/Γ(ν) λ^{2ν} (λ² + ω²)^{−(ν+½)}, λ = √(2ν)/ℓ
    (Rasmussen & Williams 2006, eq. 4.15, in one dimension). Paths are ⌈ν⌉ − 1 times
    differentiable: ν = ½ is the Ornstein–Uhlenbeck process (abrupt changes)."""

    nu: ClassVar[float]
    #: k(τ)/σ² = (Σ_i coefs[i] (√(2ν) r)^i) exp(−√(2ν) r), r = |τ|/ℓ (half-integer ν)
    coefs: ClassVar[tuple[float, ...]]

    def log_spectral_density(self, omega, length_scale, variance):
        nu = self.nu
        lam = math.sqrt(2.0 * nu) / length_scale[:, None]
        const = math.log(variance) + math.log(2.0 * math.sqrt(math.pi))
        const += math.lgamma(nu + 0.5) - math.lgamma(nu)
        return const + 2.0 * nu * torch.log(lam) - (nu + 0.5) * torch.log(lam**2 + omega**2)

    def cutoff(self, prune_threshold: float) -> float:
        # (1 + ω²/λ²)^{−(ν+½)} ≥ ε ⇔ ω ≤ λ √(ε^{−1/(ν+½)} − 1), λℓ = √(2ν)
        return math.sqrt(2.0 * self.nu) * math.sqrt(prune_threshold ** (-1.0 / (self.nu + 0.5)) - 1)

    def correlation(self, tau, length_scale):
        r = _xp(tau).abs(tau) / length_scale
        xp = _xp(r)
        a = math.sqrt(2.0 * self.nu) * r
        return sum(c * a**i for i, c in enumerate(self.coefs)) * xp.exp(-a)


@register
class Matern12(Matern):
    """Matérn ½ (Ornstein–Uhlenbeck, "exponential"): k(τ) = σ² exp(−|τ|/ℓ)."""

    name = "matern12"
    label = "Matérn ½"
    nu = 0.5
    coefs = (1.0,)


@register
class Matern32(Matern):
    """Matérn 3/2: k(τ) = σ² (1 + √3 r) exp(−√3 r), r = |τ|/ℓ. Once-differentiable paths."""

    name = "matern32"
    label = "Matérn 3/2"
    nu = 1.5
    coefs = (1.0, 1.0)


@register
class Matern52(Matern):
    """Matérn 5/2: k(τ) = σ² (1 + √5 r + 5r²/3) exp(−√5 r). Twice-differentiable paths."""

    name = "matern52"
    label = "Matérn 5/2"
    nu = 2.5
    coefs = (1.0, 1.0, 1.0 / 3.0)


def padding_for(names: Iterable[str], rbf_padding: float) -> float:
    """Length-scales of circular extension that suit every kernel in ``names``: the largest of
    their ``Kernel.padding`` (one circle serves all latents)."""
    return max(make_kernel(n).padding(rbf_padding) for n in names)


def latent_kernel_labels(setting: str, counts: Sequence[int]) -> list[str]:
    """The label of each latent's kernel ("RBF", "Matérn ½", …) for a ``kernel`` setting
    ("rbf", "shared=matern12,…") and the latent split ``counts`` (shared, private neural,
    private behavior), in the latents' order."""
    kernels = subspace_kernels(setting)
    return [kernel_class(kernels[s]).label for s, n in zip(SUBSPACES, counts) for _ in range(n)]
