"""The MM-GPVAE module, assembled from its parts: encoders → Fourier GP posterior → decoders.

Latent dimensions are ordered ``[shared | private neural | private behavior]``. The neural decoder
reads ``[z_S, z_A]``, the behavior decoder ``[z_S, z_B]``. Shared latents combine both encoders'
pseudo-observations: as a product of Gaussian experts (precisions add; default) or, as the
reference code does, by averaging means and log-precisions (``shared_fusion="mean"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from mmgpvae_core.config import MODEL_BEFORE_OPTION, SUBSPACES, ModelConfig
from mmgpvae_core.model.decoders import Decoder
from mmgpvae_core.model.encoders import BLOCK_VALUES, PseudoObservationEncoder
from mmgpvae_core.model.fourier import FourierBasis
from mmgpvae_core.model.likelihoods import Likelihood, likelihood_class, make_likelihood
from mmgpvae_core.model.posterior import FourierPosterior, fourier_posterior
from mmgpvae_core.model.prior import FourierGPPrior


@lru_cache(maxsize=64)
def _runs(idx: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Contiguous runs [(start, stop), …] of a sorted index list."""
    runs: list[list[int]] = []
    for i in idx:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return tuple((a, b) for a, b in runs)


def select_latents(z: torch.Tensor, idx: list[int]) -> torch.Tensor:
    """``z[..., idx]`` by slices: (…, D) → (…, len(idx)). A latent group is one or two
    contiguous runs; slicing and concatenating avoids advanced indexing's gather and, in the
    backward pass, its scatter (both measurable per step at these sizes)."""
    runs = _runs(tuple(idx))
    if len(runs) == 1:
        return z[..., runs[0][0] : runs[0][1]]
    if not runs:
        return z[..., :0]
    return torch.cat([z[..., a:b] for a, b in runs], dim=-1)


def embed_latents(x: torch.Tensor, idx: list[int], n_latents: int) -> torch.Tensor:
    """The inverse placement: x (…, len(idx)) into (…, n_latents), zero outside ``idx``."""
    pieces, pos, j = [], 0, 0
    for a, b in _runs(tuple(idx)):
        if a > pos:
            pieces.append(x.new_zeros((*x.shape[:-1], a - pos)))
        pieces.append(x[..., j : j + b - a])
        j, pos = j + b - a, b
    if pos < n_latents:
        pieces.append(x.new_zeros((*x.shape[:-1], n_latents - pos)))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)


@dataclass(frozen=True)
class ModelShape:
    """Everything besides the config that fixes the module's parameter shapes (saved with it)."""

    n_neural: int
    n_behavior: int  # 0: single-modality model
    n_time: int
    t_circ: int
    length_scale_init: float
    min_length_scale: float
    #: the prior's parametrisation (``ModelConfig.length_scale_param``); projects saved before
    #: it existed lack it and were fitted with "softplus"
    length_scale_param: str = MODEL_BEFORE_OPTION["length_scale_param"]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


#: state-dict names of what each session of a multi-session model has of its own: the neural
#: encoder's read-in (its first layer and input standardization), the scale of its precision
#: (``neural_precision``) and the neural read-out (loadings, offsets, likelihood parameters).
#: Everything else is shared.
SESSION_OWN = ("enc_neural.net.0.", "enc_neural.in_loc", "enc_neural.in_scale",
               "enc_neural.read_in", "neural_precision", "dec_neural.", "lik_neural.")


def is_session_own(name: str) -> bool:
    """Whether state-dict entry ``name`` belongs to one session (:data:`SESSION_OWN`)."""
    return name.startswith(SESSION_OWN)


class MMGPVAEModule(nn.Module):
    """One session's model. ``shared_with``: another session's module whose shared parts (the
    GP prior, the behavior encoder, decoder and likelihood, the neural encoder past its
    read-in) this one uses, the same tensors, so that both sessions' latents live in one space;
    only :data:`SESSION_OWN` is this module's own."""

    def __init__(
        self, cfg: ModelConfig, shape: ModelShape, shared_with: MMGPVAEModule | None = None
    ) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, shape
        S, A, Bp = cfg.shared, cfg.private_neural, cfg.private_behavior
        if shape.n_behavior == 0:
            Bp = 0
        self.idx_shared = list(range(S))
        self.idx_neural = list(range(S + A))
        self.idx_private_neural = list(range(S, S + A))
        self.idx_private_behavior = list(range(S + A, S + A + Bp))
        self.idx_behavior = self.idx_shared + self.idx_private_behavior
        self.n_latents = S + A + Bp
        self.has_behavior = shape.n_behavior > 0

        spread = cfg.length_scale_spread
        groups = [len(self.idx_shared), len(self.idx_private_neural), len(self.idx_private_behavior)]
        inits = [
            shape.length_scale_init * spread ** (2.0 * i / (n - 1) - 1.0) if n > 1 else
            shape.length_scale_init
            for n in groups
            for i in range(n)
        ]
        kernels = cfg.kernels
        self.prior = FourierGPPrior(
            self.n_latents,
            inits,
            shape.min_length_scale,
            cfg.marginal_variance,
            cfg.prune_threshold,
            param=shape.length_scale_param,
            kernels=[kernels[sub] for sub, n in zip(SUBSPACES, groups) for _ in range(n)],
        )
        self.fourier = FourierBasis(
            shape.n_time,
            shape.t_circ,
            shape.min_length_scale,
            cfg.prune_threshold,
            self.prior.kernels,
        )
        self.register_buffer("basis", self.fourier.B.clone(), persistent=False)
        self.register_buffer("omega", self.fourier.omega.clone(), persistent=False)

        # Submodules in this order: the optimizer state saved in projects lists parameters so.
        self.enc_neural = PseudoObservationEncoder(
            shape.n_neural, len(self.idx_neural), cfg.encoder_hidden,
            log_transform=likelihood_class(cfg.neural_likelihood).counts,
            read_in=cfg.read_in_components if shape.n_neural > cfg.read_in_above > 0 else 0,
        )
        self.dec_neural = Decoder(
            len(self.idx_neural), shape.n_neural, cfg.neural_decoder, cfg.decoder_hidden
        )
        self.lik_neural: Likelihood = make_likelihood(cfg.neural_likelihood, shape.n_neural)
        #: a scale of the neural encoder's precisions: 1 (a fit learns the encoder), set below 1
        #: for a session added to a fitted model (``sessions.calibrate_precision``), whose
        #: read-in maps its neurons to the latents by a map fitted to a few trials
        self.register_buffer("neural_precision", torch.ones(()))
        if self.has_behavior:
            self.enc_behavior = PseudoObservationEncoder(
                shape.n_behavior, len(self.idx_behavior), cfg.encoder_hidden,
                log_transform=likelihood_class(cfg.behavior_likelihood).counts,
            )
            self.dec_behavior = Decoder(
                len(self.idx_behavior), shape.n_behavior, cfg.behavior_decoder, cfg.decoder_hidden
            )
            self.lik_behavior: Likelihood = make_likelihood(
                cfg.behavior_likelihood, shape.n_behavior
            )
        if shared_with is not None:
            self._share(shared_with)

    def _share(self, other: MMGPVAEModule) -> None:
        """Use ``other``'s shared parts (see the class)."""
        if (self.n_latents, self.has_behavior) != (other.n_latents, other.has_behavior):
            raise ValueError("sessions of one model need the same latent split and modalities")
        if self.shape.t_circ != other.shape.t_circ:
            raise ValueError("sessions of one model need the same circular length (t_circ)")
        self.prior = other.prior
        net = self.enc_neural.net
        self.enc_neural.net = nn.Sequential(net[0], *other.enc_neural.net[1:])
        if self.has_behavior:
            self.enc_behavior = other.enc_behavior
            self.dec_behavior = other.dec_behavior
            self.lik_behavior = other.lik_behavior

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """A state saved before ``neural_precision`` existed (every project until then) loads
        with the scale 1 it was fitted with."""
        state_dict.setdefault(prefix + "neural_precision", torch.ones(()))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def own_parameters(self) -> list[nn.Parameter]:
        """The parameters of :data:`SESSION_OWN` (what adapting a new session learns)."""
        return [p for name, p in self.named_parameters() if is_session_own(name)]

    def own_state(self) -> dict[str, torch.Tensor]:
        """The entries of :data:`SESSION_OWN` in the state dict."""
        return {k: v for k, v in self.state_dict().items() if is_session_own(k)}

    # ------------------------------------------------------------------ set-up from data
    @torch.no_grad()
    def init_from_data(self, neural: torch.Tensor | None, behavior: torch.Tensor | None) -> None:
        """Input standardization, then each likelihood's own initialisation (count biases at
        the log mean rate, Gaussian loc/scale, …: ``Likelihood.init_from_data``)."""
        if neural is not None:
            self.init_modality("neural", neural)
        if self.has_behavior and behavior is not None:
            self.init_modality("behavior", behavior)

    @torch.no_grad()
    def init_modality(self, name: str, y: torch.Tensor) -> None:
        """``init_from_data`` for one modality, ``y`` (…, C) with NaN."""
        enc, dec, lik = (getattr(self, f"{part}_{name}") for part in ("enc", "dec", "lik"))
        enc.fit_input_stats(y)
        lik.init_from_data(y.reshape(-1, y.shape[-1]), dec.out_bias())

    @torch.no_grad()
    def fixed_inputs(
        self, neural: torch.Tensor, behavior: torch.Tensor | None = None
    ) -> dict[str, dict[str, torch.Tensor]]:
        """What a fit computes once of its training trials and slices per step (``elbo_terms``'s
        ``fixed``): a modality with a read-in (``read_in_above``) gets its ``features``
        (trials, time, 2k + 1), and one with a linear decoder its likelihood's per-trial
        ``statistics`` (Gaussian, Poisson: a step then scores complete trials with no
        (trials, time, channels) array held); others nothing (a step reads their data)."""
        out: dict[str, dict] = {"features": {}, "statistics": {}}
        data = {"neural": neural, "behavior": behavior}
        device = self.omega.device
        for name, _, dec, lik in self.modalities():
            enc = getattr(self, f"enc_{name}")
            if data[name] is None:
                continue
            if enc.n_read_in:
                out["features"][name] = enc.read_in_features(data[name])
            if dec.is_linear and lik.closed_form:
                stats = lik.linear_statistics(data[name], device)
                if stats is not None:
                    out["statistics"][name] = stats
        return out

    # ------------------------------------------------------------------ inference
    def pseudo_observations(
        self,
        neural: torch.Tensor | None,
        behavior: torch.Tensor | None,
        hidden: dict[str, torch.Tensor] | None = None,
        features: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, T, D) pseudo-observation means and precisions from the modalities given.
        ``hidden``, optional: per modality an (N, C) mask of channels the encoder sees as
        missing; ``features``: per modality with a read-in, its ``read_in_features``."""
        assert neural is not None or behavior is not None, "need at least one modality"
        D = self.n_latents
        hidden, features = hidden or {}, features or {}
        parts = []
        if neural is not None:
            m, p = self.enc_neural(neural, hidden.get("neural"), features.get("neural"))
            parts.append((self.idx_neural, m, p * self.neural_precision))
        if behavior is not None and self.has_behavior:
            m, p = self.enc_behavior(behavior, hidden.get("behavior"), features.get("behavior"))
            parts.append((self.idx_behavior, m, p))
        if self.cfg.shared_fusion == "poe":
            prec_sum = sum(embed_latents(p, idx, D) for idx, _, p in parts)
            weighted = sum(embed_latents(p * m, idx, D) for idx, m, p in parts)
            mu = weighted / prec_sum.clamp_min(1e-8)
            return mu, prec_sum
        # "mean": average means and log-precisions where both encoders see the bin.
        mu_sum = logp_sum = count = 0.0
        for idx, m, p in parts:
            seen = (p > 0).to(p.dtype)
            mu_sum = mu_sum + embed_latents(m * seen, idx, D)
            logp_sum = logp_sum + embed_latents(torch.log(p.clamp_min(1e-8)) * seen, idx, D)
            count = count + embed_latents(seen, idx, D)
        c = count.clamp_min(1)
        prec = torch.where(count > 0, torch.exp(logp_sum / c), torch.zeros_like(c))
        return mu_sum / c, prec

    def posterior(
        self,
        neural: torch.Tensor | None,
        behavior: torch.Tensor | None,
        hidden: dict[str, torch.Tensor] | None = None,
        features: dict[str, torch.Tensor] | None = None,
    ) -> FourierPosterior:
        """The posterior of trials ``neural``, ``behavior`` (``pseudo_observations``)."""
        mu, prec = self.pseudo_observations(neural, behavior, hidden, features)
        T = mu.shape[1]
        log_s, keep = self.prior.log_variances(self.omega)
        return fourier_posterior(mu, prec, self.basis[:T], log_s, keep)

    # ------------------------------------------------------------------ generation
    def modalities(self):
        """(name, latent indices, decoder, likelihood) of each modality the module has."""
        yield "neural", self.idx_neural, self.dec_neural, self.lik_neural
        if self.has_behavior:
            yield "behavior", self.idx_behavior, self.dec_behavior, self.lik_behavior

    def predictor_moments(
        self, name: str, z_mean: torch.Tensor, z_var: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Linear decoders: mean and variance (N, T, C) of the linear predictor under q."""
        idx, dec = (
            (self.idx_neural, self.dec_neural)
            if name == "neural"
            else (self.idx_behavior, self.dec_behavior)
        )
        W, b = dec.affine()
        mean = select_latents(z_mean, idx) @ W.T + b
        var = select_latents(z_var, idx) @ (W**2).T
        return mean, var

    def predictive(
        self, name: str, post: FourierPosterior, n_samples: int = 20, cache: dict | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Modality ``name``'s posterior predictive under ``post``: the mean and the variance
        of its predictor, each (N, T, C) — a linear decoder's in closed form from the
        posterior's moments, an MLP decoder's over ``n_samples`` posterior samples. ``cache``
        (a dict): the moments and samples drawn for one modality, reused by the next."""
        cache = {} if cache is None else cache
        idx, dec, lik = next((i, d, lk) for n, i, d, lk in self.modalities() if n == name)
        if dec.is_linear:
            if "moments" not in cache:
                cache["moments"] = post.time_mean(), post.time_var()
            m, v = self.predictor_moments(name, *cache["moments"])
            return lik.predictive_mean(m, v), v
        if "samples" not in cache:
            cache["samples"] = post.sample_time(n_samples)
        f = dec(select_latents(cache["samples"], idx))  # (S, N, T, C)
        return lik.sample_mean(f), f.var(0, unbiased=False)

    @torch.no_grad()
    def reconstruct(
        self, post: FourierPosterior, n_samples: int = 20
    ) -> dict[str, torch.Tensor]:
        """Posterior-predictive mean of each modality, (N, T, C), computed a few trials at a
        time (working arrays of about ``BLOCK_VALUES`` values: an MLP decoder's activations
        for its ``n_samples`` samples of a batch of trials would be several times the batch's
        data). An MLP decoder's noise is drawn for all N trials first, as one call."""
        z_mean, z_var = post.time_mean(), post.time_var()
        N, T = z_mean.shape[:2]
        out = {}
        for name, idx, dec, lik in self.modalities():
            eps = None if dec.is_linear else post.draw_noise(n_samples)
            per_trial = T * dec.width() * (1 if dec.is_linear else n_samples)
            step = max(1, int(BLOCK_VALUES) // max(1, per_trial))
            for s in range(0, N, step):
                rows = slice(s, s + step)
                if dec.is_linear:
                    part = lik.predictive_mean(*self.predictor_moments(name, z_mean[rows], z_var[rows]))
                else:
                    z = post.sample_time(eps=eps, trials=rows)
                    part = lik.mean(dec(select_latents(z, idx))).mean(0)
                if name not in out:
                    out[name] = part.new_empty((N, *part.shape[1:]))
                out[name][rows] = part
        return out


def fixed_rows(fixed: dict[str, dict], idx: torch.Tensor) -> dict[str, dict]:
    """``fixed`` (``MMGPVAEModule.fixed_inputs``) of trials ``idx``."""
    return {
        kind: {
            name: ({k: v[idx] for k, v in part.items()} if isinstance(part, dict) else part[idx])
            for name, part in parts.items()
        }
        for kind, parts in fixed.items()
    }
