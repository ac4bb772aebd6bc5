"""The Fourier-domain GP prior against the time-domain RBF kernel it stands for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core.model.fourier import (
    FourierBasis,
    circular_length,
    max_frequency_index,
    real_fourier_basis,
)
from mmgpvae_core.model.prior import FourierGPPrior, rbf_kernel


@pytest.mark.parametrize("n_time,ell", [(60, 5.0), (80, 10.0), (200, 25.0)])
def test_fourier_covariance_matches_rbf_on_window(n_time, ell):
    t_circ = circular_length(n_time, ell, padding=4.0)
    basis = FourierBasis(n_time, t_circ, min_length_scale=ell, prune_threshold=1e-10)
    prior = FourierGPPrior(1, ell, min_length_scale=ell / 4, variance=1.3)
    with torch.no_grad():
        assert prior.length_scale.item() == pytest.approx(ell)
        log_s, keep = prior.log_variances(basis.omega)
    B = basis.B.double().numpy()
    s = np.exp(log_s[0].double().numpy()) * keep[0].numpy()
    cov = (B * s) @ B.T
    K = rbf_kernel(n_time, ell, variance=1.3)
    assert np.abs(cov - K).max() < 0.01 * 1.3


def test_basis_is_orthonormal_on_the_circle():
    B = real_fourier_basis(50, 50, 24)
    np.testing.assert_allclose(B.T @ B, np.eye(B.shape[1]), atol=1e-10)


def test_pruning_keeps_fewer_frequencies_for_longer_length_scales():
    counts = [max_frequency_index(200, ell, 1e-8) for ell in (2.0, 5.0, 10.0, 20.0, 40.0)]
    assert all(a > b for a, b in zip(counts, counts[1:])), counts
    # Per latent, the kept set follows the learned length-scale too.
    basis = FourierBasis(100, 150, min_length_scale=3.0, prune_threshold=1e-8)
    prior = FourierGPPrior(2, 10.0, min_length_scale=3.0)
    with torch.no_grad():
        prior.raw_length_scale[:] = torch.tensor([1.0, 20.0])
        _, keep = prior.log_variances(basis.omega)
    assert keep[0].sum() > keep[1].sum()


def test_number_of_coefficients_does_not_grow_with_padding_beyond_need():
    # M depends on the window and the smallest length-scale, far below T for smooth latents.
    b = FourierBasis(1600, circular_length(1600, 20.0, 4.0), 10.0, 1e-8)
    assert b.n_freq < 1600 / 4


def test_reference_pruning_rule_matches_its_published_count():
    # Reference defaults: T = 60, nxcirc = 1.2 T, minlens = 10, condthresh = 1e8 → 12 coefficients
    # (the reference counts |k| < kmax on the complex grid, i.e. k = 0..5 as cos+sin, ±).
    k = max_frequency_index(72, 10.0, 1e-8)
    assert k == int(np.floor(72 / (np.pi * 10) * np.sqrt(0.5 * np.log(1e8))))


@pytest.mark.parametrize("param", ["softplus", "log"])
def test_each_latent_starts_at_its_own_length_scale_above_the_floor(param):
    prior = FourierGPPrior(3, [4.0, 8.0, 2.0], min_length_scale=3.0, param=param)
    ell = prior.length_scale.detach().numpy()
    # 2.0 is under the floor: started at 1.5 × the floor, as a scalar init would be
    np.testing.assert_allclose(ell, [4.0, 8.0, 4.5], rtol=1e-5)
    same = FourierGPPrior(2, 6.0, min_length_scale=3.0, param=param).length_scale.detach()
    np.testing.assert_allclose(same.numpy(), [6.0, 6.0], rtol=1e-5)


def test_log_parametrisation_moves_the_length_scale_by_relative_steps():
    # d ℓ / d raw = ℓ − floor under "log" (relative steps), ≈ 1 bin under "softplus"
    grads = {}
    for param in ("softplus", "log"):
        prior = FourierGPPrior(1, 9.0, min_length_scale=3.0, param=param)
        prior.length_scale.sum().backward()
        grads[param] = float(prior.raw_length_scale.grad[0])
    assert grads["log"] == pytest.approx(6.0, rel=1e-5)
    assert grads["softplus"] == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError):
        FourierGPPrior(1, 9.0, 3.0, param="linear")
