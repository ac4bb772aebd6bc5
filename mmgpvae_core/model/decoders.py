"""Loadings and decoders: latents ``[z_S; z_X]`` (trials, time, P) → linear predictor
(trials, time, channels) of one modality.

Every decoder starts with the paper's linear mixing layer ``x = W z`` (an embedding the size of
the latent space); a *linear* decoder then applies ``C x + d``, an *MLP* decoder a small ELU network.
For linear decoders the composition is one affine map, exposed by ``affine()`` so the ELBO can
take expectations in closed form.
"""

from __future__ import annotations

import torch
from torch import nn

from mmgpvae_core.model.encoders import Linear, mlp


class Decoder(nn.Module):
    def __init__(
        self, n_latents: int, n_channels: int, kind: str, hidden: tuple[int, ...] = (64, 64)
    ) -> None:
        super().__init__()
        self.kind = kind
        self.mixing = Linear(n_latents, n_latents, bias=False)
        nn.init.eye_(self.mixing.weight)
        if kind == "linear":
            self.head: nn.Module = Linear(n_latents, n_channels)
            nn.init.normal_(self.head.weight, std=0.3 / max(1, n_latents) ** 0.5)
            nn.init.zeros_(self.head.bias)
        elif kind == "mlp":
            self.head = mlp(n_latents, hidden, n_channels)
        else:
            raise ValueError(f"unknown decoder {kind!r}")

    @property
    def is_linear(self) -> bool:
        return self.kind == "linear"

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Linear decoders: effective loadings (channels, P) and bias (channels,)."""
        assert self.is_linear
        return self.head.weight @ self.mixing.weight, self.head.bias

    def width(self) -> int:
        """The widest of its layers' outputs (channels or hidden units) per bin."""
        return max(m.out_features for m in self.modules() if isinstance(m, nn.Linear))

    def out_bias(self) -> torch.Tensor:
        return self.head.bias if self.is_linear else self.head[-1].bias

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.mixing(z))
