"""A training step's full-size arrays written in place (issue 24: the epochs of an hour of 500
units held ~15-20 arrays of the batch's size): the same numbers and gradients as the plain
formulas they replace."""

from __future__ import annotations

import torch

from mmgpvae_core.model.elbo import _masked
from mmgpvae_core.model.encoders import PseudoObservationEncoder
from mmgpvae_core.model.likelihoods import PoissonLikelihood


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * float(b.abs().max()))


def test_encoder_inputs_in_place_are_the_standardized_data_and_the_mask():
    torch.manual_seed(0)
    enc = PseudoObservationEncoder(37, 3, (16,), log_transform=True)
    y = torch.poisson(torch.rand(6, 20, 37) * 4)
    y[0, :5, :3] = float("nan")
    enc.fit_input_stats(y)
    obs = ~torch.isnan(y)
    x = (torch.log1p(torch.nan_to_num(y).clamp_min(0)) - enc.in_loc) / enc.in_scale
    expected = torch.cat([torch.where(obs, x, torch.zeros_like(x)), obs.float()], dim=-1)
    _close(enc._inputs(y, obs), expected)
    _close(enc._inputs(y.clone().requires_grad_(True), obs).detach(), expected)  # out of place


def test_poisson_expected_log_prob_in_place_keeps_values_and_gradients():
    torch.manual_seed(1)
    y = torch.poisson(torch.rand(4, 25, 30) * 3)
    mean = torch.randn(4, 25, 30, requires_grad=True)
    var = torch.rand(4, 25, 30, requires_grad=True)
    plain = y * mean - torch.exp(mean + 0.5 * var) - torch.lgamma(y + 1.0)
    lp = PoissonLikelihood.expected_log_prob(PoissonLikelihood.__new__(PoissonLikelihood), y, mean, var)
    _close(lp.detach(), plain.detach())
    for g, h in zip(torch.autograd.grad(lp.sum(), (mean, var)),
                    torch.autograd.grad(plain.sum(), (mean, var)), strict=True):
        _close(g, h)


def test_complete_data_need_no_mask():
    y = torch.rand(2, 3, 4)
    assert _masked(y)[0] is y and _masked(y)[1] is None
    y[0, 0, 0] = float("nan")
    y0, mask = _masked(y)
    assert y0[0, 0, 0] == 0 and mask[0, 0, 0] == 0 and mask.sum() == y.numel() - 1
