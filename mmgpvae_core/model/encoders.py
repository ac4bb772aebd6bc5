"""Per-bin MLP encoders that emit Gaussian pseudo-observations of the latents.

Departure from the reference code: there, each encoder's time-domain output goes through a
learned ``Linear(T, M)`` to Fourier means and log-stds, which fixes T for the whole data set.
Here an encoder emits, per bin and latent, a pseudo-observation mean and precision; the posterior
is then the exact GP posterior under those pseudo-observations, computed in the Fourier domain
(``posterior.py``). Any trial length works (the basis is fixed, not learned), missing bins simply
carry zero precision, and either modality alone yields a posterior for the shared latents.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: values one block of ``fit_input_stats`` reads (4 MiB of float32)
BLOCK_VALUES = 1 << 20


class Linear(nn.Linear):
    """``nn.Linear`` that does not initialise an empty weight. A latent group of size 0 (no
    shared, or no private, latents) gives layers with no inputs or no outputs, and torch warns
    "Initializing zero-element tensors is a no-op" for each one, on every fit of a sweep."""

    def reset_parameters(self) -> None:
        if self.weight.numel():
            super().reset_parameters()
        elif self.bias is not None and self.bias.numel():
            nn.init.uniform_(self.bias, -0.0, 0.0)  # as nn.Linear does with no inputs (same draws)


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [Linear(n_in, h), nn.ELU()]
        n_in = h
    layers.append(Linear(n_in, n_out))
    return nn.Sequential(*layers)


class PseudoObservationEncoder(nn.Module):
    """y (trials, time, channels) with NaN → mean, precision (trials, time, n_latents).

    Inputs are transformed (``log1p`` for counts), standardized with the training data's
    per-channel statistics and zero-filled where missing; the missing mask is a second input so the
    network knows a zero is a gap. A bin with every channel missing gets precision exactly 0.
    """

    def __init__(
        self, n_channels: int, n_latents: int, hidden: tuple[int, ...], log_transform: bool
    ) -> None:
        super().__init__()
        self.n_latents = n_latents
        self.log_transform = log_transform
        self.net = mlp(2 * n_channels, hidden, 2 * n_latents)
        self.register_buffer("in_loc", torch.zeros(n_channels))
        self.register_buffer("in_scale", torch.ones(n_channels))
        with torch.no_grad():
            last = self.net[-1]
            last.weight[n_latents:] *= 0.1
            last.bias[n_latents:] = 0.0

    def transform(self, y: torch.Tensor) -> torch.Tensor:
        return torch.log1p(y.clamp_min(0)) if self.log_transform else y

    @torch.no_grad()
    def fit_input_stats(self, y: torch.Tensor) -> None:
        """Set the standardization from training data (trials, time, channels) with NaN.

        Two passes over row blocks of about ``BLOCK_VALUES`` values (views of ``y``), so the
        transform and the masks are never the size of an hour-long session; the block sums
        are added in ``y``'s dtype (data that fit in one block: the whole-array numbers)."""
        flat = y.reshape(-1, y.shape[-1])
        blocks = flat.split(max(1, int(BLOCK_VALUES) // max(1, flat.shape[-1])))
        total = count = None
        for b in blocks:
            x = self.transform(b)
            obs = ~torch.isnan(x)
            part = torch.where(obs, x, torch.zeros_like(x)).sum(0)
            total = part if total is None else total + part
            count = obs.sum(0) if count is None else count + obs.sum(0)
        n = count.clamp_min(1)
        loc = total / n
        sq = None
        for b in blocks:
            x = self.transform(b)
            part = torch.where(~torch.isnan(x), (x - loc) ** 2, torch.zeros_like(x)).sum(0)
            sq = part if sq is None else sq + part
        var = sq / n
        self.in_loc.copy_(loc)
        self.in_scale.copy_(torch.sqrt(var).clamp_min(1e-3))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        obs = ~torch.isnan(y)
        x = (self.transform(torch.nan_to_num(y)) - self.in_loc) / self.in_scale
        x = torch.where(obs, x, torch.zeros_like(x))
        out = self.net(torch.cat([x, obs.to(x.dtype)], dim=-1))
        mean, raw_prec = out[..., : self.n_latents], out[..., self.n_latents :]
        prec = F.softplus(raw_prec + 0.5413)  # softplus(0.5413) = 1
        any_obs = obs.any(dim=-1, keepdim=True)
        return mean, torch.where(any_obs, prec, torch.zeros_like(prec))
