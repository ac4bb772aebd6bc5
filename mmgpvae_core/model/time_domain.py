"""Time-domain GP-VAE baseline: the same encoders, decoders and ELBO, with the full T × T prior.

Each latent d has the prior ``z_d ~ N(0, K_d)``, ``K_d = σ² k_d(t - t') + jitter·I`` with its
kernel k_d (RBF: ``exp(-(t - t')² / 2ℓ_d²)``; ``FourierGPPrior.covariance``).
Given per-bin pseudo-observations (mean μ_t, precision p_t) the exact posterior is

    precision  Λ = K⁻¹ + diag(p)          mean  m = Λ⁻¹ diag(p) μ

— the same posterior the Fourier module computes over M coefficients, here over all T bins, at
O(T³) time and O(T²) memory per trial and latent. This module exists to measure that cost
(``benchmarks/bench_prior.py``), to compare latent recovery with the Fourier model from the same
start (``benchmarks/identifiability.py``) and to cross-check the Fourier posterior
(``tests/core/test_time_domain.py``). Single-modality modules (``n_behavior = 0``) and every
registered kernel work as in the Fourier module (``FourierGPPrior.covariance``).

Numerics. K⁻¹ is never formed (an RBF Gram matrix is nearly singular). With S = diag(√p) and
``B = I + S K S`` (eigenvalues ≥ 1, so its Cholesky factor is well conditioned; Rasmussen &
Williams, Alg. 3.2):

    Σ = Λ⁻¹ = K − K S B⁻¹ S K,      m = K α,   α = S B⁻¹ S μ,
    KL(q ‖ N(0, K)) = ½ [tr(K⁻¹Σ) + mᵀK⁻¹m − T + log|K| − log|Σ|]
                    = ½ [tr(B⁻¹) + αᵀKα − T + log|B|],

since |K| / |Σ| = |K Λ| = |I + K diag(p)| = |B| and tr(K⁻¹Σ) = tr(B⁻¹). The log-determinant
ratio is ``2 Σ log diag chol(B)`` — the factor 2 the reference code's time-domain baseline misses.
Bins with p = 0 (missing data, or a modality absent) drop out exactly. Samples use Matheron's
rule: z = f + K S B⁻¹ (S μ − S f − ε'), f ~ N(0, K), ε' ~ N(0, I).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.posterior import cached_lower_inverse


def rbf_covariance(
    n_time: int,
    length_scale: torch.Tensor,
    variance: float = 1.0,
    jitter: float = 1e-3,
) -> torch.Tensor:
    """(D, T, T) prior covariance ``σ² exp(-(t - t')² / 2ℓ_d²) + jitter·σ²·I``, differentiable in
    ``length_scale`` (D,) (bins)."""
    t = torch.arange(n_time, device=length_scale.device, dtype=length_scale.dtype)
    sq = (t[:, None] - t[None, :]) ** 2
    K = variance * torch.exp(-sq / (2.0 * length_scale[:, None, None] ** 2))
    eye = torch.eye(n_time, device=length_scale.device, dtype=length_scale.dtype)
    return K + (jitter * variance) * eye


@dataclass
class TimeDomainPosterior:
    """Exact GP posterior per trial and latent, in the time domain.

    K (D, T, T) prior covariance (jitter included); sqrt_prec (N, D, T) √p; chol (N, D, T, T)
    lower Cholesky factor of B = I + S K S; mu (N, D, T) pseudo-observation means; alpha
    (N, D, T) = S B⁻¹ S μ; mean (N, D, T) = K α. Same interface as ``FourierPosterior``.
    """

    K: torch.Tensor
    sqrt_prec: torch.Tensor
    chol: torch.Tensor
    mu: torch.Tensor
    alpha: torch.Tensor
    mean: torch.Tensor

    def _chol_inv(self) -> torch.Tensor:
        """(N, D, T, T) L_B⁻¹, computed once (mean, variance, samples and KL all use it)."""
        return cached_lower_inverse(self)

    def _solve_b(self, v: torch.Tensor) -> torch.Tensor:
        """B⁻¹ v for v (..., N, D, T) = L⁻ᵀ L⁻¹ v."""
        linv = self._chol_inv()
        w = torch.einsum("ndij,...ndj->...ndi", linv, v)
        return torch.einsum("ndji,...ndj->...ndi", linv, w)

    def time_mean(self) -> torch.Tensor:
        """(N, T, D) posterior mean."""
        return self.mean.transpose(1, 2)

    def time_var(self) -> torch.Tensor:
        """(N, T, D) marginal posterior variance: diag(K) − diag(K S B⁻¹ S K)."""
        sk = self.sqrt_prec.unsqueeze(-1) * self.K.unsqueeze(0)  # (N, D, T, T) S K
        v = self._chol_inv() @ sk
        var = torch.diagonal(self.K, dim1=-2, dim2=-1).unsqueeze(0) - (v**2).sum(dim=-2)
        return var.clamp_min(1e-10).transpose(1, 2)

    def sample_time(self, n_samples: int = 1) -> torch.Tensor:
        """(S, N, T, D) reparameterized samples (Matheron's rule)."""
        N, D, T = self.mean.shape
        dev, dt = self.mean.device, self.mean.dtype
        chol_k = torch.linalg.cholesky(self.K.double()).to(dt)  # (D, T, T), once per call
        f = torch.einsum(
            "dij,sndj->sndi", chol_k, torch.randn((n_samples, N, D, T), device=dev, dtype=dt)
        )
        eps = torch.randn((n_samples, N, D, T), device=dev, dtype=dt)
        s = self.sqrt_prec
        r = self._solve_b(s * (self.mu - f) - eps)  # B⁻¹ (S μ − S f − ε')
        z = f + torch.einsum("dij,sndj->sndi", self.K, s * r)
        return z.permute(0, 1, 3, 2)

    def kl(self) -> torch.Tensor:
        """(N, D) KL(q ‖ N(0, K)) = ½ [tr(B⁻¹) + αᵀKα − T + log|B|]."""
        T = self.mean.shape[-1]
        tr_binv = (self._chol_inv() ** 2).sum(dim=(-2, -1))
        quad = (self.alpha * self.mean).sum(-1)
        logdet_b = 2.0 * torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)
        return 0.5 * (tr_binv + quad - T + logdet_b)


def time_domain_posterior(
    mu: torch.Tensor, prec: torch.Tensor, K: torch.Tensor
) -> TimeDomainPosterior:
    """mu, prec: (N, T, D) pseudo-observations; K (D, T, T) prior covariance (jitter included)."""
    mu_ = mu.transpose(1, 2)  # (N, D, T)
    s = torch.sqrt(prec.clamp_min(0.0)).transpose(1, 2)
    b = s.unsqueeze(-1) * K.unsqueeze(0) * s.unsqueeze(-2)  # S K S
    b = b + torch.eye(K.shape[-1], device=K.device, dtype=K.dtype)
    chol = torch.linalg.cholesky(b)
    post = TimeDomainPosterior(K=K, sqrt_prec=s, chol=chol, mu=mu_, alpha=mu_, mean=mu_)
    post.alpha = s * post._solve_b(s * mu_)
    post.mean = torch.einsum("dij,ndj->ndi", K, post.alpha)
    return post


class TimeDomainMMGPVAEModule(MMGPVAEModule):
    """``MMGPVAEModule`` with the full time-domain GP prior instead of the Fourier one.

    The length-scales (``self.prior.length_scale``) and marginal variance are the Fourier prior's
    parameters, so the two modules have identical parameters and can share a state dict; only
    the posterior computation differs. ``jitter`` is relative to the marginal variance.
    """

    def __init__(self, cfg: ModelConfig, shape: ModelShape, jitter: float = 1e-3) -> None:
        super().__init__(cfg, shape)
        self.jitter = float(jitter)

    @classmethod
    def from_fourier(cls, module: MMGPVAEModule, jitter: float = 1e-3) -> TimeDomainMMGPVAEModule:
        """A time-domain module with ``module``'s config, shape, parameters and data statistics
        (its state dict), on its device: the same starting point for both priors, as the
        identifiability benchmark compares them (``benchmarks/identifiability.py``)."""
        td = cls(module.cfg, module.shape, jitter=jitter)
        td.load_state_dict(module.state_dict())
        return td.to(next(module.parameters()).device)

    def posterior(  # type: ignore[override]
        self,
        neural: torch.Tensor | None,
        behavior: torch.Tensor | None,
        hidden: dict[str, torch.Tensor] | None = None,
        features: dict[str, torch.Tensor] | None = None,
    ) -> TimeDomainPosterior:
        """As ``MMGPVAEModule.posterior`` (the same pseudo-observations, channels ``hidden``
        from the encoders, a read-in's ``features``), with the exact time-domain prior."""
        mu, prec = self.pseudo_observations(neural, behavior, hidden, features)
        T = mu.shape[1]
        K = self.prior.covariance(T)
        K = K + (self.jitter * self.prior.variance) * torch.eye(T, device=K.device, dtype=K.dtype)
        return time_domain_posterior(mu, prec, K)
