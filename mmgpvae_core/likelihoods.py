"""Observation models. Each maps a linear predictor ``f`` (trials, time, channels) to a
distribution over observations ``y`` of the same shape.

``expected_log_prob(y, mean, var)`` is E_{f ~ N(mean, var)}[log p(y | f)] in closed form where
one exists (Poisson, Gaussian); the model uses it for linear decoders, so their likelihood term
has no Monte Carlo noise at all. Missing samples are handled by the caller's mask.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class Likelihood(nn.Module):
    """Base class. ``closed_form`` says whether ``expected_log_prob`` is exact."""

    closed_form = False

    def log_prob(self, y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def expected_log_prob(
        self, y: torch.Tensor, mean: torch.Tensor, var: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, f: torch.Tensor, var: torch.Tensor | None = None) -> torch.Tensor:
        """E[y] given f (or, with ``var``, averaged over f ~ N(f, var))."""
        raise NotImplementedError


class PoissonLikelihood(Likelihood):
    """y ~ Poisson(exp(f)); f is the log rate per bin."""

    closed_form = True

    def log_prob(self, y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return y * f - torch.exp(f) - torch.lgamma(y + 1.0)

    def expected_log_prob(self, y, mean, var):
        # E[exp(f)] = exp(mean + var/2) for Gaussian f.
        return y * mean - torch.exp(mean + 0.5 * var) - torch.lgamma(y + 1.0)

    def mean(self, f, var=None):
        return torch.exp(f if var is None else f + 0.5 * var)


class GaussianLikelihood(Likelihood):
    """y = loc + scale · (f + ε), ε ~ N(0, noise) with a learned noise per channel.

    ``loc``/``scale`` are each channel's data mean and std (buffers), so ``f`` and the noise live
    in standardized units whatever the data's units; log-densities are in the data's units.
    """

    closed_form = True

    def __init__(self, n_channels: int, noise_init: float = 0.25) -> None:
        super().__init__()
        raw = math.log(math.expm1(noise_init))
        self.raw_noise = nn.Parameter(torch.full((n_channels,), raw))
        self.register_buffer("loc", torch.zeros(n_channels))
        self.register_buffer("scale", torch.ones(n_channels))

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


class BernoulliLikelihood(Likelihood):
    """y ~ Bernoulli(sigmoid(f)), for binary pixels or events."""

    closed_form = False

    def log_prob(self, y, f):
        return y * f - F.softplus(f)

    def mean(self, f, var=None):
        if var is not None:  # probit approximation of E[sigmoid(f)]
            f = f / torch.sqrt(1.0 + math.pi * var / 8.0)
        return torch.sigmoid(f)


def make_likelihood(name: str, n_channels: int) -> Likelihood:
    if name == "poisson":
        return PoissonLikelihood()
    if name == "gaussian":
        return GaussianLikelihood(n_channels)
    if name == "bernoulli":
        return BernoulliLikelihood()
    raise ValueError(f"unknown likelihood {name!r}")
