"""The evidence lower bound, term by term.

ELBO = Σ_modalities E_q[log p(y | z)] − KL(q(z̃) ‖ p(z̃)).

Departures from the reference code, both for lower variance and correctness: the KL is the
closed-form KL between Gaussians over Fourier coefficients (the reference uses −entropy + the
prior log-density of one sample); for linear decoders with Poisson or Gaussian likelihoods the
expected log-likelihood is also closed form (E[exp f] = exp(μ + σ²/2)), so only MLP decoders use
reparameterized samples.

Cross-modal terms (``encoders``): the posterior of a trial may be built from ONE modality's
encoder only while the likelihood still scores both modalities. That q is just another member of
the variational family, so each such trial's term is still a lower bound on its log-evidence; it
trains each encoder to infer the shared latents on its own (MVAE-style sub-sampled ELBOs), which
is what predicting one modality from the other needs. A modality is hidden from the encoders by
marking all its channels hidden (seen as missing): its encoder then emits precision exactly 0
and the product of experts (or the mean fusion, which skips zero-precision experts) reduces to
the other encoder alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmgpvae_core.model.module import MMGPVAEModule, select_latents

ENCODE_BOTH, ENCODE_NEURAL, ENCODE_BEHAVIOR = 0, 1, 2


@dataclass
class ElboTerms:
    """Sums over the batch (nats). ``loss`` is what the optimiser minimises. ``per_trial``:
    (3, N) detached ell_neural, ell_behavior, kl of each trial (for reporting subsets)."""

    ell_neural: torch.Tensor
    ell_behavior: torch.Tensor
    kl: torch.Tensor
    loss: torch.Tensor
    per_trial: torch.Tensor | None = None

    @property
    def elbo(self) -> torch.Tensor:
        return self.ell_neural + self.ell_behavior - self.kl


def _masked(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``y`` with missing values (NaN) zeroed, and the mask of observed ones; data with
    nothing missing: ``y`` itself and None (no mask to multiply: two full-size arrays fewer in
    a step, the same sums)."""
    obs = ~torch.isnan(y)
    if bool(obs.all()):
        return y, None
    return torch.where(obs, y, torch.zeros_like(y)), obs.to(y.dtype)


def _hidden_masks(
    neural: torch.Tensor,
    behavior: torch.Tensor | None,
    encoders: torch.Tensor | None,
    hidden: dict[str, torch.Tensor] | None,
) -> dict[str, torch.Tensor] | None:
    """Per modality an (N, C) mask of the channels its encoder does not see: those of
    ``hidden`` and, for a trial encoded from the other modality alone, every channel."""
    out = dict(hidden or {})
    if encoders is not None and behavior is not None:
        for name, y, code in (("neural", neural, ENCODE_BEHAVIOR), ("behavior", behavior, ENCODE_NEURAL)):
            off = (encoders == code).unsqueeze(1).expand(-1, y.shape[-1])
            out[name] = off | out[name] if name in out else off
    if "behavior" in out and behavior is None:
        del out["behavior"]
    return out or None


def _posterior(model, neural, behavior, masks, features):
    """The posterior with ``masks``' channels hidden from the encoders: each encoder sees them
    as missing (one with a read-in takes them out of its fixed ``features`` instead of
    reading the data again); no copy of the data is made."""
    if not masks and not features:
        return model.posterior(neural, behavior)
    return model.posterior(neural, behavior, masks, features)


def elbo_terms(
    model: MMGPVAEModule,
    neural: torch.Tensor,
    behavior: torch.Tensor | None,
    beta: float = 1.0,
    n_samples: int = 1,
    encoders: torch.Tensor | None = None,
    hidden: dict[str, torch.Tensor] | None = None,
    fixed: dict[str, dict] | None = None,
) -> ElboTerms:
    """neural (N, T, C_A), behavior (N, T, C_B) or None; NaN = missing, masked out.

    ``encoders`` (N,) integer codes, optional: which encoders build each trial's posterior —
    ``ENCODE_BOTH`` (0), ``ENCODE_NEURAL`` (1: neural encoder alone) or ``ENCODE_BEHAVIOR``
    (2: behavior encoder alone). The likelihood scores every modality given, whatever the code.
    ``hidden``, optional: per modality an (N, C) boolean mask of channels hidden from the
    encoders (seen as missing), still scored by the likelihood. ``fixed``, optional: what a
    fit computes once of these trials (``MMGPVAEModule.fixed_inputs``): ``features`` of an
    encoder's read-in and ``statistics`` of a likelihood, per modality.
    """
    fixed = fixed or {}
    post = _posterior(model, neural, behavior, _hidden_masks(neural, behavior, encoders, hidden),
                      fixed.get("features"))
    z_mean = z_var = samples = None
    zero = neural.new_zeros(neural.shape[0])
    ell = {"neural": zero, "behavior": zero}
    data = {"neural": neural, "behavior": behavior}
    stats = fixed.get("statistics") or {}
    for name, idx, dec, lik in model.modalities():
        y = data[name]
        if y is None:
            continue
        if dec.is_linear and lik.closed_form:
            if z_mean is None:
                z_mean, z_var = post.time_mean(), post.time_var()
            st = stats.get(name)
            if st is not None and bool(st["complete"].all()):
                W, b = dec.affine()
                ell[name] = lik.expected_log_prob_linear(
                    y, st, select_latents(z_mean, idx), select_latents(z_var, idx), W, b
                )
                continue
            y0, mask = _masked(y)
            m, v = model.predictor_moments(name, z_mean, z_var)
            lp = lik.expected_log_prob(y0, m, v)
        else:
            y0, mask = _masked(y)
            if samples is None:
                samples = post.sample_time(n_samples)
            lp = lik.log_prob(y0.unsqueeze(0), dec(select_latents(samples, idx))).mean(0)
        ell[name] = (lp if mask is None else lp * mask).sum(dim=(1, 2))
        lp = m = v = y0 = mask = None  # full-size arrays not held while the next one is scored
    kl = post.kl().sum(-1)
    per_trial = torch.stack([ell["neural"], ell["behavior"], kl]).detach()
    en, eb, kl = ell["neural"].sum(), ell["behavior"].sum(), kl.sum()
    loss = -(en + eb - beta * kl)
    return ElboTerms(en, eb, kl, loss, per_trial)
