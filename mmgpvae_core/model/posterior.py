"""The variational posterior over Fourier coefficients, per trial and latent dimension.

Given pseudo-observations (mean μ_t, precision p_t per bin) and the prior variances s_k, the
posterior over the M kept coefficients z̃ of one latent is Gaussian with

    precision  Λ = diag(1/s) + Bᵀ diag(p) B        (M × M)
    mean       m = Λ⁻¹ Bᵀ (p ⊙ μ)

— the exact GP posterior under those pseudo-observations. Its covariance is full within a latent
(M × M) and independent across latents. Departure from the paper's mean-field diagonal: a diagonal
posterior must ignore the coupling that a finite window puts between frequencies; the full M × M
one is exact. Cost per trial and latent is O(T·M² + M³). M ≈ 2·T'/(π ℓ_min)·sqrt(½ ln 1/threshold)
depends on how many length-scales the window spans, not on T itself: at a fixed number of
length-scales per trial the cost is linear in T; at a fixed length-scale in bins M grows with T
(see benchmarks/RESULTS.md for both regimes), which is why long recordings are cut into trials.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


def cached_lower_inverse(post) -> torch.Tensor:
    """L⁻¹ of ``post.chol`` (…, K, K), computed once per posterior object and kept on it."""
    cached = post.__dict__.get("_linv")
    if cached is None:
        chol = post.chol
        eye = torch.eye(chol.shape[-1], device=chol.device, dtype=chol.dtype)
        cached = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)
        post.__dict__["_linv"] = cached
    return cached


@dataclass
class FourierPosterior:
    """mean (N, D, M); chol (N, D, M, M) lower Cholesky factor of the precision Λ;
    basis (D, T, M) the per-latent basis with pruned columns zeroed; log_s (D, M) prior
    log-variances; keep (D, M) kept coefficients. M counts the coefficients up to the highest
    frequency any latent keeps (``fourier_posterior`` drops the rest); ``n_coef`` the number
    before that (samples draw noise for all of them, so the random stream, and hence a seeded
    fit, does not depend on how many were dropped)."""

    mean: torch.Tensor
    chol: torch.Tensor
    basis: torch.Tensor
    log_s: torch.Tensor
    keep: torch.Tensor
    n_coef: int | None = None

    def _chol_inv(self) -> torch.Tensor:
        """(N, D, M, M) L⁻¹, computed once (the KL and the time-domain variance both need it)."""
        return cached_lower_inverse(self)

    def time_mean(self) -> torch.Tensor:
        """(N, T, D) posterior mean of each latent in the time domain."""
        return torch.einsum("dtm,ndm->ntd", self.basis, self.mean)

    def time_var(self) -> torch.Tensor:
        """(N, T, D) marginal posterior variance per bin: diag(B Λ⁻¹ Bᵀ)."""
        v = torch.einsum("ndjm,dtm->ndjt", self._chol_inv(), self.basis)
        return (v**2).sum(dim=2).transpose(1, 2)

    @classmethod
    def cat(cls, parts: list[FourierPosterior]) -> FourierPosterior:
        """The posteriors of consecutive groups of trials of one model (one basis, prior and
        set of kept coefficients) as one, L⁻¹ kept."""
        if len(parts) == 1:
            return parts[0]
        post = dataclasses.replace(
            parts[0],
            mean=torch.cat([p.mean for p in parts]),
            chol=torch.cat([p.chol for p in parts]),
        )
        post.__dict__["_linv"] = torch.cat([p._chol_inv() for p in parts])
        return post

    def draw_noise(self, n_samples: int = 1) -> torch.Tensor:
        """(S, N, D, M) the standard normal draws of :meth:`sample_time`, one call to torch's
        random stream (noise for all ``n_coef`` coefficients, the dropped ones discarded)."""
        M = self.mean.shape[-1]
        shape = (n_samples, *self.mean.shape[:-1], max(M, self.n_coef or M))
        return torch.randn(shape, device=self.mean.device)[..., :M]

    def sample_time(
        self, n_samples: int = 1, eps: torch.Tensor | None = None, trials: slice = slice(None)
    ) -> torch.Tensor:
        """(S, N, T, D) reparameterized samples z = B (m + L⁻ᵀ ε). ``eps``: draws of
        :meth:`draw_noise` taken beforehand for every trial, of which ``trials`` are turned
        into samples (S, trials, T, D): the draws of a batch at once, its samples a few trials
        at a time, the same numbers as one call."""
        eps = self.draw_noise(n_samples) if eps is None else eps[:, trials]
        noise = torch.einsum("ndjm,sndj->sndm", self._chol_inv()[trials], eps)  # L⁻ᵀ ε
        return torch.einsum("dtm,sndm->sntd", self.basis, self.mean[trials].unsqueeze(0) + noise)

    def kl(self) -> torch.Tensor:
        """(N, D) KL(q ‖ p) in closed form, over the kept coefficients:
        ½ [tr(S⁻¹Λ⁻¹) + mᵀS⁻¹m − M + log|S| + log|Λ|]."""
        keep = self.keep.to(self.mean.dtype)
        inv_s = torch.exp(-torch.where(self.keep, self.log_s, torch.zeros_like(self.log_s)))
        cov_diag = (self._chol_inv() ** 2).sum(dim=-2)  # (N, D, M) = diag Λ⁻¹
        logdet_prec = 2.0 * torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)
        quad = ((cov_diag + self.mean**2) * inv_s * keep).sum(-1)
        return 0.5 * (quad - keep.sum(-1) + (self.log_s * keep).sum(-1) + logdet_prec)


def fourier_posterior(
    mu: torch.Tensor,
    prec: torch.Tensor,
    basis: torch.Tensor,
    log_s: torch.Tensor,
    keep: torch.Tensor,
) -> FourierPosterior:
    """mu, prec: (N, T, D) pseudo-observations; basis (T, M); log_s, keep (D, M).

    Columns past the last one that any latent keeps are dropped first: a coefficient pruned for
    every latent has a zero basis column and contributes nothing to the posterior or the KL, but
    it would still cost O(M²)–O(M³) in every product and factorisation, forward and backward.
    The frequency set is chosen for the smallest length-scale the model allows; while the learned
    ones are longer (they usually are), M shrinks by a factor 1.5–2.5, and the step by about as
    much (benchmarks/RESULTS.md, "Time to fit"). The posterior's ``basis``, ``log_s`` and ``keep``
    have that trimmed M.
    """
    n_coef = keep.shape[1]
    kept = torch.nonzero(keep.any(0))
    m_used = int(kept[-1]) + 1 if len(kept) else n_coef
    if m_used < n_coef:
        basis, log_s, keep = basis[:, :m_used], log_s[:, :m_used], keep[:, :m_used]
    b = basis.unsqueeze(0) * keep.unsqueeze(1).to(basis.dtype)  # (D, T, M)
    prior_prec = torch.exp(-torch.where(keep, log_s, torch.zeros_like(log_s)))  # pruned → 1
    lam = torch.einsum("dtm,ntd,dtk->ndmk", b, prec, b)
    lam = lam + torch.diag_embed(prior_prec).unsqueeze(0)
    h = torch.einsum("dtm,ntd->ndm", b, prec * mu)
    chol = torch.linalg.cholesky(lam)
    post = FourierPosterior(mean=h, chol=chol, basis=b, log_s=log_s, keep=keep, n_coef=n_coef)
    linv = post._chol_inv()  # one triangular solve serves the mean, samples, variances and KL
    post.mean = torch.einsum("ndjm,ndj->ndm", linv, torch.einsum("ndjk,ndk->ndj", linv, h))
    return post
