"""A training step's full-size arrays written in place or not made (issue 24: the epochs of an
hour of 500 units held ~15-20 arrays of the batch's size): the same numbers and gradients as
the plain formulas they replace."""

from __future__ import annotations

import torch

from mmgpvae_core.model.elbo import _masked
from mmgpvae_core.model.encoders import PseudoObservationEncoder
from mmgpvae_core.model.likelihoods import PoissonLikelihood, rate_sum


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * float(b.abs().max()))


def _encoder(n_channels: int, seed: int) -> tuple[PseudoObservationEncoder, torch.Tensor]:
    """An encoder of counts and its training data (6 trials, some values missing)."""
    torch.manual_seed(seed)
    enc = PseudoObservationEncoder(n_channels, 3, (16,), log_transform=True)
    y = torch.poisson(torch.rand(6, 20, n_channels) * 4)
    y[0, :5, :3] = float("nan")
    enc.fit_input_stats(y)
    return enc, y


def test_encoder_inputs_in_place_are_the_standardized_data_and_the_mask():
    enc, y = _encoder(37, 0)
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


def test_poisson_statistics_mark_trials_with_missing_counts():
    y = torch.poisson(torch.full((3, 4, 5), 2.0))
    y[1, 2, 3] = float("nan")
    stats = PoissonLikelihood(5).linear_statistics(y)
    assert stats["complete"].tolist() == [True, False, True]
    assert torch.equal(stats["sum"][0], y[0].sum(0))
    assert torch.allclose(stats["log_factorial"][2], torch.lgamma(y[2] + 1).sum())


def test_rate_sum_gradient():
    g = torch.Generator().manual_seed(4)
    args = [0.3 * torch.randn(3, 4, 2, generator=g, dtype=torch.float64),
            0.2 * torch.rand(3, 4, 2, generator=g, dtype=torch.float64),
            0.5 * torch.randn(5, 2, generator=g, dtype=torch.float64),
            0.1 * torch.randn(5, generator=g, dtype=torch.float64)]
    args = [a.requires_grad_(True) for a in args]
    assert torch.autograd.gradcheck(rate_sum, args)


def test_hidden_channels_read_as_missing_without_a_copy_of_the_data():
    enc, y = _encoder(12, 3)
    hidden = torch.zeros(6, 12, dtype=torch.bool)
    hidden[1, :3] = True
    hidden[2] = True  # every channel: precision 0
    nan = torch.where(hidden.unsqueeze(1), torch.full_like(y, float("nan")), y)
    with torch.no_grad():
        mean_h, prec_h = enc(y, hidden)
        mean_n, prec_n = enc(nan)
    assert torch.equal(prec_h, prec_n) and torch.equal(mean_h, mean_n)
    assert (prec_h[2] == 0).all() and (prec_h[1] > 0).all()


def test_complete_data_read_the_mask_once_per_trial():
    """No value missing: the first layer's mask half is one product per trial (the fast path),
    with the numbers and gradients of the full (…, 2C) input."""
    enc, y = _encoder(12, 4)
    y = torch.nan_to_num(y, nan=1.0)
    hidden = torch.zeros(6, 12, dtype=torch.bool)
    hidden[1, :3] = True
    hidden[2] = True  # every channel: precision 0
    for h in (None, hidden):
        fast_mean, fast_prec = enc(y, h)
        obs = torch.ones_like(y, dtype=torch.bool) if h is None else ~h.unsqueeze(1).expand_as(y)
        out = enc.net(enc._inputs(y, obs))
        full_mean = out[..., :3]
        full_prec = torch.where(obs.any(-1, keepdim=True),
                                torch.nn.functional.softplus(out[..., 3:] + 0.5413), 0.0)
        _close(fast_mean.detach(), full_mean.detach())
        _close(fast_prec.detach(), full_prec.detach())
        params = list(enc.parameters())
        for a, e in zip(torch.autograd.grad(fast_mean.sum() + fast_prec.sum(), params),
                        torch.autograd.grad(full_mean.sum() + full_prec.sum(), params), strict=True):
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5 * float(e.abs().max()))
    assert (fast_prec[2] == 0).all() and (fast_prec[1] > 0).all()
