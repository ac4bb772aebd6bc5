"""Observation models, and the registry that maps their saved names to classes.

Each likelihood maps a linear predictor ``f`` (trials, time, channels) to a distribution over
observations ``y`` of the same shape, and owns everything that depends on which distribution it
is (gpytorch's ``likelihoods/`` shape; no caller asks "which likelihood is this?"):

- the link and the densities: ``log_prob(y, f)``, ``expected_log_prob(y, mean, var)`` =
  E_{f ~ N(mean, var)}[log p(y | f)] (closed form where one exists, ``closed_form``; the model
  uses it for linear decoders, so their likelihood term has no Monte Carlo noise), ``mean``;
- initialisation from data (``init_from_data``: decoder bias, Gaussian loc/scale, dispersion);
- the posterior-predictive used for held-out scores (``predictive_mean``,
  ``predictive_log_prob``) and display facts (``counts``, ``unit_label``, ``display_units``);
- on plain numpy, without an instance: the data check (``data_problem`` / ``accepts``) and the
  automatic choice (``auto_score``: how well the data looks like this likelihood's, and why).
  Both read a ``ValueSummary`` of the finite values, gathered block by block in one pass, so an
  hour-long session is never copied whole (``choose_likelihood`` stops the pass as soon as no
  further block can change the choice).

Adding a likelihood is one class decorated with ``@register`` (its ``name`` is what project
files store), its name in ``config.LIKELIHOODS`` (kept torch-free for the command line; a test
checks that the two agree) and its tests. Missing samples are handled by the caller's mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from mmgpvae_core.config import AUTO, SIGNALS
from mmgpvae_core.model import registry
from mmgpvae_core.model.prior import inv_softplus
from mmgpvae_core.model.registry import lookup
from mmgpvae_core.model.values import BLOCK_VALUES, WITNESSES, ValueSummary, nan_moments


@dataclass(frozen=True)
class Signal:
    """What the reader of a data set knew it read (``Dataset.signal``, ``config.SIGNALS``; ""
    unknown), and how to say it: "calcium (suite2p)"."""

    name: str = ""
    label: str = ""

    @classmethod
    def of(cls, data: Any) -> Signal:
        name, kind = getattr(data, "signal", ""), getattr(data, "kind", "")
        return cls(name, f"{SIGNALS[name]} ({kind})" if name in SIGNALS else "")


class Likelihood(nn.Module):
    """Base class. Subclasses set ``name`` and override the densities they support.

    ``closed_form``: ``expected_log_prob`` is exact (else the ELBO samples f).
    ``counts``: observations are counts per bin (encoders read log1p(y), views draw rasters,
    held-out scores report bits/spike).
    """

    name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    closed_form: ClassVar[bool] = False
    counts: ClassVar[bool] = False
    unit_label: ClassVar[str] = "signal (data units)"

    def __init__(self, n_channels: int = 1) -> None:
        super().__init__()
        self.n_channels = n_channels

    # ---------------------------------------------------------------- densities
    def log_prob(self, y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def expected_log_prob(
        self, y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, f: torch.Tensor, var: torch.Tensor | None = None) -> torch.Tensor:
        """E[y] given f (or, with ``var``, averaged over f ~ N(f, var))."""
        raise NotImplementedError

    # ---------------------------------------------------------------- many channels, linear decoder
    def linear_statistics(
        self, y: torch.Tensor, device: torch.device | None = None
    ) -> dict[str, torch.Tensor] | None:
        """Per-trial statistics of ``y`` (trials, time, channels; NaN = missing), on
        ``device`` (default y's), from which :meth:`expected_log_prob_linear` gives the
        expected log-likelihood of a linear decoder without a (trials, time, channels)
        temporary; computed once per fit. None: this likelihood has none (the ELBO takes the
        elementwise path)."""
        return None

    def expected_log_prob_linear(
        self,
        y: torch.Tensor,
        stats: dict[str, torch.Tensor],
        z_mean: torch.Tensor,
        z_var: torch.Tensor,
        W: torch.Tensor,
        b: torch.Tensor,
    ) -> torch.Tensor:
        """(trials,) Σ over bins and channels of ``expected_log_prob(y, z W^T + b, z_var
        (W²)^T)`` for trials with no missing value (``stats["complete"]``), from ``stats`` of
        these trials. z_mean, z_var (N, T, P); W (C, P); b (C,)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- set-up from data
    @torch.no_grad()
    def init_from_data(self, flat: torch.Tensor, out_bias: torch.Tensor) -> None:
        """Initialise from the training data ``flat`` (samples, channels; NaN = missing):
        this likelihood's own parameters and the decoder's output bias ``out_bias``
        (channels,), set in place. Statistics by ``nan_moments`` (row blocks: no temporary
        the size of ``flat``)."""

    # ---------------------------------------------------------------- posterior predictive
    def predictive_mean(
        self, f_mean: torch.Tensor, f_var: torch.Tensor | None = None
    ) -> torch.Tensor:
        """E[y] with f ~ N(f_mean, f_var) (linear decoders, closed form)."""
        return self.mean(f_mean, f_var)

    def sample_mean(self, f: torch.Tensor) -> torch.Tensor:
        """E[y] from samples f (S, ...) of the predictor (MLP decoders)."""
        return self.mean(f).mean(0)

    def predictive_log_prob(
        self, y: torch.Tensor, mean: torch.Tensor, f_var: torch.Tensor
    ) -> torch.Tensor:
        """log p(y) under the predictive density with mean ``mean`` (y's units) and predictor
        variance ``f_var``; y is finite (the caller masks missing samples)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- data, without an instance
    @classmethod
    def data_problem(cls, values: ValueSummary | Any) -> str | None:
        """Why the finite values (a ``ValueSummary``, or an array summarised here) cannot be
        modelled by this likelihood (None: they can)."""
        return None

    @classmethod
    def checks_values(cls) -> bool:
        """Whether ``data_problem`` looks at the values (False: any finite values will do, and
        ``check_for_likelihood`` skips its pass over the data)."""
        return cls.data_problem.__func__ is not Likelihood.data_problem.__func__

    @classmethod
    def accepts(cls, values: Any) -> bool:
        return cls.data_problem(ValueSummary.of(values)) is None

    @classmethod
    def auto_score(
        cls, values: ValueSummary, signal: Signal, modality: str
    ) -> tuple[float, str] | None:
        """(score, reason) if the automatic choice may pick this likelihood for the finite
        values summarised in ``values`` of a Dataset whose reader said ``signal`` (a
        :class:`Signal`) in ``modality``; the highest score wins. Convention: 10 when the
        signal names it, 1–3 from the values alone,
        None: never chosen. Read only the summary's predicates (``integer``, ``non_negative``,
        ``binary``, whether ``n_zero``/``n_one`` > 0): ``choose_likelihood`` stops reading the
        data once no further values could change them in a way that changes its choice."""
        return None

    @classmethod
    def display_units(cls, bin_size_s: float | None, units: str | None) -> tuple[float, str]:
        """(scale applied to the data, unit label) in figures."""
        return 1.0, units or "a.u."


class _DataProduct(torch.autograd.Function):
    """``y @ A`` for data ``y`` (N, T, C) (no gradient) and a thin ``A`` (C, P): both products
    with ``y`` in the layout BLAS is fast with (on one CPU thread at C = 5,000, P = 3: the
    backward's ``yᵀ g`` is 7× slower than ``(gᵀ y)ᵀ``, the forward's ``y A`` 2× slower than
    ``y (Aᵀ)ᵀ`` with ``Aᵀ`` contiguous)."""

    @staticmethod
    def forward(ctx, y, A):
        ctx.save_for_backward(y)
        flat = y.reshape(-1, y.shape[-1])
        return (flat @ A.T.contiguous().T).reshape(*y.shape[:-1], A.shape[1])

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        flat = y.reshape(-1, y.shape[-1])
        return None, (grad.reshape(flat.shape[0], grad.shape[-1]).T @ flat).T


def data_product(y: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """(N, T, P) ``y @ A``, differentiable in ``A`` only (:class:`_DataProduct`)."""
    return _DataProduct.apply(y, A)


#: values of the (trials, time, channels) array one chunk of :func:`rate_sum` holds (4 MiB)
RATE_CHUNK_VALUES = 1 << 20


def _rates(z, v, W, b):
    """(rows, E) over chunks of trials: E = exp(z Wᵀ + v (W²)ᵀ / 2 + b) of those trials."""
    half_sq = 0.5 * W * W
    step = max(1, RATE_CHUNK_VALUES // max(1, z.shape[1] * W.shape[0]))
    for s in range(0, z.shape[0], step):
        rows = slice(s, s + step)
        yield rows, (z[rows] @ W.T).add_(v[rows] @ half_sq.T).add_(b).exp_()


class _RateSum(torch.autograd.Function):
    """(N,) Σ over time and channels of exp(z Wᵀ + v (W²)ᵀ / 2 + b), for z, v (N, T, P),
    W (C, P), b (C,): E[exp f] summed, f ~ N(z Wᵀ + b, v (W²)ᵀ). Computed a chunk of trials at
    a time forward, and again backward (the exp recomputed, not kept), so no (N, T, C) array
    lives beyond one chunk of ``RATE_CHUNK_VALUES``."""

    @staticmethod
    def forward(ctx, z, v, W, b):
        ctx.save_for_backward(z, v, W, b)
        out = z.new_empty(z.shape[0])
        for rows, E in _rates(z, v, W, b):
            out[rows] = E.sum((1, 2))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        z, v, W, b = ctx.saved_tensors
        sq = W * W
        gz, gv = torch.empty_like(z), torch.empty_like(v)
        gzw, gvw, gb = torch.zeros_like(W), torch.zeros_like(W), torch.zeros_like(b)
        P = z.shape[-1]
        for rows, E in _rates(z, v, W, b):
            E.mul_(g[rows].view(-1, 1, 1))
            gz[rows] = E @ W
            gv[rows] = 0.5 * (E @ sq)
            flat = E.reshape(-1, E.shape[-1])  # (bins, C)
            bins = flat.shape[0]
            gzw += (z[rows].reshape(bins, P).T @ flat).T  # the layout BLAS is fast with
            gvw += (v[rows].reshape(bins, P).T @ flat).T
            gb += flat.sum(0)
        need = ctx.needs_input_grad
        return (gz if need[0] else None, gv if need[1] else None,
                gzw + gvw * W if need[2] else None, gb if need[3] else None)


def rate_sum(z: torch.Tensor, v: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) Σ_tc E[exp f] for f ~ N(z Wᵀ + b, v (W²)ᵀ), in chunks (:class:`_RateSum`)."""
    return _RateSum.apply(z, v, W, b)


def _trial_blocks(y: torch.Tensor, device: torch.device):
    """(rows, block, complete) over blocks of about ``BLOCK_VALUES`` values of ``y`` (N, T, C),
    each block on ``device`` (data kept in CPU memory are read by block); ``complete`` (n,): the
    block's trials with no value missing."""
    step = max(1, int(BLOCK_VALUES) // max(1, y.shape[1] * y.shape[2]))
    for s in range(0, y.shape[0], step):
        block = y[s : s + step].to(device)
        yield slice(s, s + step), block, ~torch.isnan(block).flatten(1).any(1)


# ---------------------------------------------------------------------------- registry
LIKELIHOOD_CLASSES: dict[str, type[Likelihood]] = {}


def register(cls: type[Likelihood]) -> type[Likelihood]:
    """Class decorator: make ``cls`` available under ``cls.name``; a name taken already is an
    error, never a silent overwrite (as for kernels)."""
    if not cls.name or cls.name == AUTO:
        raise ValueError(
            f"{cls.__name__}: a registered likelihood needs a name other than {AUTO!r}"
        )
    return registry.add(LIKELIHOOD_CLASSES, cls, "likelihood")


def likelihood_class(name: str) -> type[Likelihood]:
    hint = " (resolve 'auto' from the data first)" if name == AUTO else ""
    return lookup(LIKELIHOOD_CLASSES, name, "likelihood", hint)


def make_likelihood(name: str, n_channels: int) -> Likelihood:
    return likelihood_class(name)(n_channels)


@dataclass(frozen=True)
class LikelihoodChoice:
    """A resolved likelihood and why: ``reason`` is "auto: …" or "set"."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def choose_likelihood(
    data: Any, signal: Signal | None = None, modality: str = "neural"
) -> LikelihoodChoice:
    """The likelihood for ``data`` (a Dataset, whose reader's ``signal`` is used, or an array):
    the registered class with the highest ``auto_score``.

    The values are summarised block by block, and the pass stops as soon as no values still
    to come could change the choice (calcium and pose: after the first block; counts, which
    one negative or fractional value would turn Gaussian: at the end), so the choice is the
    one all the values give, without a copy of them."""
    signal = signal if signal is not None else Signal.of(data)
    if isinstance(data, ValueSummary):
        return _best_choice(data, signal, modality)
    seen = ValueSummary()
    blocks = ValueSummary.blocks(data)
    for block in blocks:
        seen = seen.merge(ValueSummary.of_block(block))
        choice = _best_choice(seen, signal, modality)
        if all(_best_choice(seen.merge(w), signal, modality) == choice for w in WITNESSES):
            return choice
    return _best_choice(seen, signal, modality)


def _best_choice(values: ValueSummary, signal: Signal, modality: str) -> LikelihoodChoice:
    best: tuple[float, str, str] | None = None
    for name, cls in LIKELIHOOD_CLASSES.items():
        scored = cls.auto_score(values, signal, modality)
        if scored is not None and (best is None or scored[0] > best[0]):
            best = (scored[0], name, scored[1])
    assert best is not None, "the Gaussian likelihood accepts any data"
    return LikelihoodChoice(best[1], f"auto: {best[2]}")


def resolve_likelihood(name: str, data: Any, modality: str = "neural") -> LikelihoodChoice:
    """``name`` itself, or, for "auto", the choice for ``data``."""
    if name == AUTO:
        return choose_likelihood(data, modality=modality)
    likelihood_class(name)
    return LikelihoodChoice(name, "set")


# ---------------------------------------------------------------------------- counts
class _CountLikelihood(Likelihood):
    """Shared by count models: non-negative integer data, log link, bias at the log mean rate."""

    counts = True
    unit_label = "counts per bin"

    @classmethod
    def data_problem(cls, values):
        s = ValueSummary.of(values)
        if not s.non_negative:
            return (
                f"{s.n_negative} negative values, minimum {s.min:g}; a "
                f"{cls.display_name} likelihood needs non-negative spike counts (use "
                "--neural-likelihood gaussian for calcium traces)"
            )
        if not s.integer:
            return (
                f"non-integer value {s.first_non_integer:g}; a {cls.display_name} likelihood "
                "needs integer spike counts (use a gaussian likelihood for continuous signals)"
            )
        return None

    @classmethod
    def display_units(cls, bin_size_s, units):
        if bin_size_s:
            return 1.0 / float(bin_size_s), "spikes/s"
        return 1.0, "spikes/bin"

    @torch.no_grad()
    def init_from_data(self, flat, out_bias):
        mean, _ = nan_moments(flat, var=False)
        out_bias.copy_(torch.log(mean.clamp_min(1e-3)))


@register
class PoissonLikelihood(_CountLikelihood):
    """y ~ Poisson(exp(f)); f is the log rate per bin."""

    name = "poisson"
    display_name = "Poisson"
    closed_form = True

    @classmethod
    def auto_score(cls, values, signal, modality):
        if cls.data_problem(values) is not None:
            return None
        if signal.name == "spikes":
            return 10.0, signal.label
        if signal.name or modality != "neural":
            return None  # integer calcium, pose or pixel values are not counts
        return 2.0, "non-negative integer counts"

    def log_prob(self, y, f):
        return y * f - torch.exp(f) - torch.lgamma(y + 1.0)

    def expected_log_prob(self, y, mean, var):
        # E[exp(f)] = exp(mean + var/2) for Gaussian f. In place where autograd allows (no
        # array it keeps is overwritten): three (N, T, C) temporaries instead of eight, the
        # same numbers.
        lp = y * mean
        lp -= (0.5 * var).add_(mean).exp_()
        return lp.sub_((y + 1.0).lgamma_())

    def mean(self, f, var=None):
        return torch.exp(f if var is None else f + 0.5 * var)

    @torch.no_grad()
    def linear_statistics(self, y, device=None):
        """``complete`` (N,) no value missing; ``sum`` (N, C) Σ over time of the counts;
        ``log_factorial`` (N,) Σ over time and channels of log y! (complete trials; trial
        blocks, float64)."""
        N, C, device = y.shape[0], y.shape[2], device or y.device
        out = {"complete": torch.empty(N, dtype=torch.bool, device=device),
               "sum": torch.empty((N, C), dtype=y.dtype, device=device),
               "log_factorial": torch.empty(N, dtype=y.dtype, device=device)}
        for rows, block, complete in _trial_blocks(y, device):
            x = torch.where(complete.view(-1, 1, 1), block, 0.0).double()
            out["complete"][rows] = complete
            out["sum"][rows] = x.sum(1)
            out["log_factorial"][rows] = (x + 1.0).lgamma_().sum((1, 2))
        return out

    def expected_log_prob_linear(self, y, stats, z_mean, z_var, W, b):
        """Σ_tc [y m − exp(m + v/2) − log y!], m = z Wᵀ + b, v = z_var (W²)ᵀ, as
        Σ_t z_t·(y_t W) + Σ_c b_c sum_c − Σ_tc exp(m + v/2) − log_factorial: the one product
        over every channel is ``y @ W``, the exp term is summed a chunk at a time
        (:func:`rate_sum`), so no (N, T, C) array is held for the backward pass."""
        yw = data_product(y, W)
        return ((z_mean * yw).sum((1, 2)) + stats["sum"] @ b
                - rate_sum(z_mean, z_var, W, b) - stats["log_factorial"])

    def predictive_log_prob(self, y, mean, f_var):
        lam = mean.clamp_min(1e-8)
        return y * torch.log(lam) - lam - torch.lgamma(y + 1.0)


@register
class NegativeBinomialLikelihood(_CountLikelihood):
    """y ~ NegBinomial(mean exp(f), dispersion r) with a learned r per channel, for
    over-dispersed spike counts: Var y = μ + μ²/r (Poisson as r → ∞).

    No closed form under Gaussian f: the ELBO samples f (``closed_form = False``). The predictive
    density is the negative binomial at the posterior-mean rate E[exp f] with the learned r.
    """

    name = "negbinomial"
    display_name = "negative binomial"
    closed_form = False

    def __init__(self, n_channels: int, dispersion_init: float = 10.0) -> None:
        super().__init__(n_channels)
        raw = inv_softplus(dispersion_init)
        self.raw_dispersion = nn.Parameter(torch.full((n_channels,), raw))

    @property
    def dispersion(self) -> torch.Tensor:
        """(channels,) r: smaller = more over-dispersed."""
        return F.softplus(self.raw_dispersion) + 1e-3

    def _log_prob_log_mean(self, y: torch.Tensor, log_mu: torch.Tensor) -> torch.Tensor:
        r = self.dispersion
        log_r = torch.log(r)
        log_r_mu = torch.logaddexp(log_r, log_mu)  # log(r + μ)
        return (
            torch.lgamma(y + r)
            - torch.lgamma(r)
            - torch.lgamma(y + 1.0)
            + r * (log_r - log_r_mu)
            + y * (log_mu - log_r_mu)
        )

    def log_prob(self, y, f):
        return self._log_prob_log_mean(y, f)

    def mean(self, f, var=None):
        return torch.exp(f if var is None else f + 0.5 * var)

    def predictive_log_prob(self, y, mean, f_var):
        return self._log_prob_log_mean(y, torch.log(mean.clamp_min(1e-8)))

    @torch.no_grad()
    def init_from_data(self, flat, out_bias):
        mean, var = nan_moments(flat)
        out_bias.copy_(torch.log(mean.clamp_min(1e-3)))
        # Method of moments, r = μ² / (Var − μ); near-Poisson channels start at r = 100.
        excess = var - mean
        r = torch.where(excess > 1e-6, mean**2 / excess.clamp_min(1e-6), torch.full_like(mean, 1e2))
        r = r.nan_to_num(1e2).clamp(0.5, 1e2)
        self.raw_dispersion.copy_(r + torch.log(-torch.expm1(-r)))  # softplus⁻¹


# ---------------------------------------------------------------------------- continuous
@register
class GaussianLikelihood(Likelihood):
    """y = loc + scale · (f + ε), ε ~ N(0, noise) with a learned noise per channel.

    ``loc``/``scale`` are each channel's data mean and std (buffers), so ``f`` and the noise live
    in standardized units whatever the data's units; log-densities are in the data's units.
    """

    name = "gaussian"
    display_name = "Gaussian"
    closed_form = True

    def __init__(self, n_channels: int, noise_init: float = 0.25) -> None:
        super().__init__(n_channels)
        raw = inv_softplus(noise_init)
        self.raw_noise = nn.Parameter(torch.full((n_channels,), raw))
        self.register_buffer("loc", torch.zeros(n_channels))
        self.register_buffer("scale", torch.ones(n_channels))

    @classmethod
    def auto_score(cls, values, signal, modality):
        if signal.name in ("calcium", "pose", "position"):
            return 10.0, signal.label
        if not values.integer:
            return 1.0, "non-integer values"
        if not values.non_negative:
            return 1.0, "negative values"
        return 1.0, "continuous behavior" if modality != "neural" else "continuous values"

    @property
    def noise(self) -> torch.Tensor:
        """(channels,) noise variance in standardized units."""
        return F.softplus(self.raw_noise) + 1e-4

    def _standardize(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.loc) / self.scale

    def log_prob(self, y, f):
        return self.expected_log_prob(y, f, torch.zeros_like(f))

    def expected_log_prob(self, y, mean, var):
        r = self._standardize(y) - mean
        noise = self.noise
        return -0.5 * (math.log(2 * math.pi) + torch.log(noise) + (r**2 + var) / noise) - torch.log(
            self.scale
        )

    def mean(self, f, var=None):
        return self.loc + self.scale * f

    @torch.no_grad()
    def linear_statistics(self, y, device=None):
        """``complete`` (N,) no value missing; ``sum``, ``sum_sq`` (N, C): Σ over time of
        the standardized data and of its square (complete trials; trial blocks, float64)."""
        N, C, device = y.shape[0], y.shape[2], device or self.loc.device
        # Allocated first, filled block by block (no small results kept between temporaries).
        out = {"complete": torch.empty(N, dtype=torch.bool, device=device),
               "sum": torch.empty((N, C), dtype=y.dtype, device=device),
               "sum_sq": torch.empty((N, C), dtype=y.dtype, device=device)}
        for rows, block, complete in _trial_blocks(y, device):
            x = torch.where(complete.view(-1, 1, 1), self._standardize(block), 0.0).double()
            out["complete"][rows] = complete
            out["sum"][rows] = x.sum(1)
            out["sum_sq"][rows] = (x**2).sum(1)
        return out

    def expected_log_prob_linear(self, y, stats, z_mean, z_var, W, b):
        """Σ_tc of :meth:`expected_log_prob` expanded: with ỹ standardized, m = z W^T + b,
        Σ_tc [(ỹ - m)² + v] / n_c = Σ_c sum_sq_c/n_c − 2 Σ_t z_t·(ỹ_t A) − 2 Σ_c b_c sum_c/n_c
        + Σ_t (z_tᵀ G z_t + 2 z_t·(Aᵀb) + Σ_c b_c²/n_c + var_t·diag G), A = W / n, G = WᵀA.
        The one product over every channel is ``y @ (A / scale)``: no (N, T, C) temporary."""
        noise = self.noise
        T = y.shape[1]
        A = W / noise.unsqueeze(1)  # (C, P)
        ya = data_product(y, A / self.scale.unsqueeze(1)) - (self.loc / self.scale) @ A  # ỹ A
        G = W.T @ A  # (P, P)
        h = A.T @ b  # (P,)
        quad = (
            (stats["sum_sq"] / noise).sum(1)
            - 2 * ((z_mean * ya).sum((1, 2)) + stats["sum"] @ (b / noise))
            + ((z_mean @ G) * z_mean).sum((1, 2))
            + 2 * (z_mean.sum(1) @ h)
            + T * (b**2 / noise).sum()
            + z_var.sum(1) @ torch.diagonal(G)
        )
        const = -0.5 * (math.log(2 * math.pi) + torch.log(noise)) - torch.log(self.scale)
        return T * const.sum() - 0.5 * quad

    def predictive_log_prob(self, y, mean, f_var):
        # Moment-matched N(E y, scale² (Var f + noise)) in the data's units.
        var = self.scale**2 * (self.noise + f_var)
        return -0.5 * (math.log(2 * math.pi) + torch.log(var) + (y - mean) ** 2 / var)

    @torch.no_grad()
    def init_from_data(self, flat, out_bias):
        mean, var = nan_moments(flat)
        self.loc.copy_(mean)
        self.scale.copy_(torch.sqrt(var).clamp_min(1e-6))


@register
class BernoulliLikelihood(Likelihood):
    """y ~ Bernoulli(sigmoid(f)), for binary pixels or events."""

    name = "bernoulli"
    display_name = "Bernoulli"
    closed_form = False
    unit_label = "P(event)"

    @classmethod
    def data_problem(cls, values):
        if not ValueSummary.of(values).binary:
            return "a Bernoulli likelihood needs values that are 0 or 1"
        return None

    @classmethod
    def auto_score(cls, values, signal, modality):
        if signal.name:  # the reader knows what it is: not a 0/1 signal
            return None
        if values.binary and values.n_zero and values.n_one:
            return 3.0, "only 0/1 values"
        return None

    @classmethod
    def display_units(cls, bin_size_s, units):
        return 1.0, "P(event)"

    def log_prob(self, y, f):
        return y * f - F.softplus(f)

    def mean(self, f, var=None):
        if var is not None:  # probit approximation of E[sigmoid(f)]
            f = f / torch.sqrt(1.0 + math.pi * var / 8.0)
        return torch.sigmoid(f)

    def predictive_log_prob(self, y, mean, f_var):
        p = mean.clamp(1e-6, 1 - 1e-6)
        return y * torch.log(p) + (1 - y) * torch.log1p(-p)

    @torch.no_grad()
    def init_from_data(self, flat, out_bias):
        p = nan_moments(flat, var=False)[0].clamp(1e-3, 1 - 1e-3)
        out_bias.copy_(torch.log(p / (1 - p)))
