"""The time-domain GP-VAE baseline: exactness against brute force, agreement with the Fourier
posterior on a well-padded window (validates both), KL properties, and that it trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.model.elbo import elbo_terms
from mmgpvae_core.model.fourier import frequencies, max_frequency_index, real_fourier_basis
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.posterior import fourier_posterior
from mmgpvae_core.model.prior import rbf_kernel, rbf_log_spectral_density
from mmgpvae_core.model.time_domain import (
    TimeDomainMMGPVAEModule,
    TimeDomainPosterior,
    rbf_covariance,
    time_domain_posterior,
)
from mmgpvae_core.synthetic.simulate import simulate

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    """These problems are tiny: one thread is fastest, and on a busy 2-core machine two spinning
    OpenMP threads can slow a step down a hundredfold."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _pseudo_obs(N: int, T: int, D: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn((N, T, D), generator=g, dtype=F64)
    prec = 0.1 + 2.0 * torch.rand((N, T, D), generator=g, dtype=F64)
    prec[0, 5:15, 0] = 0.0  # a gap: bins without any observation
    return mu, prec


def test_covariance_matches_numpy_kernel():
    K = rbf_covariance(30, torch.tensor([3.0, 9.0], dtype=F64), variance=2.0, jitter=1e-3)
    for d, ell in enumerate([3.0, 9.0]):
        expected = rbf_kernel(30, ell, 2.0) + 2e-3 * np.eye(30)
        np.testing.assert_allclose(K[d].numpy(), expected, atol=1e-12)


def test_matches_brute_force_gaussian_algebra():
    """Mean, variance and KL equal the textbook formulas with explicit inverses and log-dets."""
    N, T, D = 2, 25, 2
    mu, prec = _pseudo_obs(N, T, D)
    K = rbf_covariance(T, torch.tensor([3.0, 6.0], dtype=F64), jitter=1e-4)
    post = time_domain_posterior(mu, prec, K)
    for n in range(N):
        for d in range(D):
            Kd = K[d]
            cov = torch.linalg.inv(torch.linalg.inv(Kd) + torch.diag(prec[n, :, d]))
            m = cov @ (prec[n, :, d] * mu[n, :, d])
            kl = 0.5 * (
                torch.trace(torch.linalg.solve(Kd, cov))
                + m @ torch.linalg.solve(Kd, m)
                - T
                + torch.logdet(Kd)
                - torch.logdet(cov)
            )
            torch.testing.assert_close(post.time_mean()[n, :, d], m, atol=1e-7, rtol=1e-6)
            torch.testing.assert_close(
                post.time_var()[n, :, d], torch.diag(cov), atol=1e-7, rtol=1e-6
            )
            torch.testing.assert_close(post.kl()[n, d], kl, atol=1e-6, rtol=1e-6)


def test_samples_have_posterior_moments():
    mu, prec = _pseudo_obs(2, 20, 2, seed=1)
    K = rbf_covariance(20, torch.tensor([2.0, 5.0], dtype=F64))
    post = time_domain_posterior(mu, prec, K)
    torch.manual_seed(0)
    z = post.sample_time(20000)
    assert z.shape == (20000, 2, 20, 2)
    torch.testing.assert_close(z.mean(0), post.time_mean(), atol=0.04, rtol=0)
    torch.testing.assert_close(z.var(0), post.time_var(), atol=0.04, rtol=0.05)


@pytest.mark.parametrize("ells", [(4.0, 7.0), (6.0, 10.0)])
def test_fourier_posterior_matches_time_domain_on_padded_window(ells):
    """With the same pseudo-observations and a circular extension of 8 length-scales (wrap-around
    correlation e^-32), the Fourier posterior restricted to the window is the time-domain one."""
    N, T, D = 3, 40, 2
    mu, prec = _pseudo_obs(N, T, D, seed=2)
    ell = torch.tensor(ells, dtype=F64)
    t_circ = T + int(8 * max(ells))
    k_max = max_frequency_index(t_circ, min(ells), 1e-12)
    basis = torch.tensor(real_fourier_basis(T, t_circ, k_max), dtype=F64)
    omega = torch.tensor(frequencies(t_circ, k_max), dtype=F64)
    log_s = rbf_log_spectral_density(omega, ell, 1.0)
    keep = torch.ones_like(log_s, dtype=torch.bool)
    fp = fourier_posterior(mu, prec, basis, log_s, keep)
    tp = time_domain_posterior(mu, prec, rbf_covariance(T, ell, 1.0, jitter=1e-7))
    torch.testing.assert_close(fp.time_mean(), tp.time_mean(), atol=1e-4, rtol=0)
    torch.testing.assert_close(fp.time_var(), tp.time_var(), atol=1e-4, rtol=0)
    # The KLs are over different variables (M coefficients on the circle vs T bins) but the
    # window carries almost all the information, so they nearly agree too.
    torch.testing.assert_close(fp.kl(), tp.kl(), atol=0.02, rtol=0.01)


def test_kl_nonnegative_and_zero_without_observations():
    N, T, D = 4, 30, 3
    mu, prec = _pseudo_obs(N, T, D, seed=3)
    K = rbf_covariance(T, torch.tensor([2.0, 5.0, 12.0], dtype=F64))
    kl = time_domain_posterior(mu * 3.0, prec * 10.0, K).kl()
    assert kl.shape == (N, D)
    assert (kl > 0).all()
    post0 = time_domain_posterior(mu, torch.zeros_like(prec), K)
    # Float64 Cholesky solves of a 30 x 30 kernel (condition number up to ~1e4 with the jitter):
    # rounding stays far below 1e-8 on any BLAS; a wrong KL or mean is off by O(1).
    torch.testing.assert_close(post0.kl(), torch.zeros(N, D, dtype=F64), atol=1e-8, rtol=0)
    torch.testing.assert_close(post0.time_mean(), torch.zeros_like(mu), atol=1e-8, rtol=0)
    # With no data the posterior is the prior: variance diag(K) = σ²(1 + jitter).
    torch.testing.assert_close(post0.time_var(), torch.full_like(mu, 1.001), atol=1e-8, rtol=0)


def _small_module(cls, t_circ_pad: int = 0):
    sim = simulate(n_trials=16, n_time=30, n_neurons=12, n_keypoints=3, seed=3)
    neural = torch.tensor(sim.neural.data, dtype=torch.float32)
    behavior = torch.tensor(sim.behavior.data, dtype=torch.float32)
    shape = ModelShape(
        n_neural=12,
        n_behavior=6,
        n_time=30,
        t_circ=30 + (t_circ_pad or 15),
        length_scale_init=5.0,
        min_length_scale=3.0,
    )
    cfg = ModelConfig(encoder_hidden=(32,), decoder_hidden=(16,))
    torch.manual_seed(0)
    m = cls(cfg, shape)
    m.init_from_data(neural, behavior)
    return m, neural, behavior


def test_module_posterior_agrees_with_fourier_module():
    """Same parameters, same data: the two modules' posteriors agree on a well-padded window."""
    fm, neural, behavior = _small_module(MMGPVAEModule, t_circ_pad=60)
    tm = TimeDomainMMGPVAEModule(fm.cfg, fm.shape, jitter=1e-6)
    tm.load_state_dict(fm.state_dict())
    with torch.no_grad():
        fp, tp = fm.posterior(neural, behavior), tm.posterior(neural, behavior)
        assert isinstance(tp, TimeDomainPosterior)
        torch.testing.assert_close(fp.time_mean(), tp.time_mean(), atol=2e-3, rtol=2e-3)
        torch.testing.assert_close(fp.time_var(), tp.time_var(), atol=2e-3, rtol=2e-3)
        # neural alone (cross-modal inference) works the same way
        fp1, tp1 = fm.posterior(neural, None), tm.posterior(neural, None)
        torch.testing.assert_close(fp1.time_mean(), tp1.time_mean(), atol=2e-3, rtol=2e-3)
        # channels hidden from the encoders (channel masking) reach the pseudo-observations
        hidden = {"neural": torch.zeros(neural.shape[0], neural.shape[-1], dtype=torch.bool)}
        hidden["neural"][:, :3] = True
        fp2, tp2 = fm.posterior(neural, behavior, hidden), tm.posterior(neural, behavior, hidden)
        torch.testing.assert_close(fp2.time_mean(), tp2.time_mean(), atol=2e-3, rtol=2e-3)
        assert not torch.allclose(tp2.time_mean(), tp.time_mean(), atol=1e-4)


def test_training_steps_reduce_loss_and_reach_length_scales():
    m, neural, behavior = _small_module(TimeDomainMMGPVAEModule)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    torch.manual_seed(1)
    losses = []
    for step in range(25):
        terms = elbo_terms(m, neural, behavior)
        loss = terms.loss / neural.shape[0]
        assert torch.isfinite(loss)
        assert terms.kl.item() >= 0
        opt.zero_grad()
        loss.backward()
        if step == 0:
            g = m.prior.raw_length_scale.grad
            assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.05 * abs(np.mean(losses[:5]))


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_from_fourier_single_modality_same_start_and_trains(kernel):
    """``from_fourier`` copies a module's parameters and data statistics (the identifiability
    benchmark's same start); a single-modality module (images as the one modality, as the
    benchmark's rotating digit) with any kernel gives the Fourier posterior on a well-padded
    window, and its ELBO trains."""
    sim = simulate(n_trials=12, n_time=30, n_neurons=10, n_keypoints=3, seed=4)
    y = torch.tensor(sim.behavior.data, dtype=torch.float32)  # one Gaussian modality
    shape = ModelShape(
        n_neural=6, n_behavior=0, n_time=30, t_circ=90, length_scale_init=5.0,
        min_length_scale=3.0,
    )
    cfg = ModelConfig(
        shared=2, private_neural=0, private_behavior=0, neural_likelihood="gaussian",
        neural_decoder="mlp", encoder_hidden=(16,), decoder_hidden=(16,), kernel=kernel,
    )
    torch.manual_seed(0)
    fm = MMGPVAEModule(cfg, shape)
    fm.init_from_data(y, None)
    tm = TimeDomainMMGPVAEModule.from_fourier(fm, jitter=1e-6)
    assert not tm.has_behavior and tm.jitter == 1e-6
    for k, v in fm.state_dict().items():
        torch.testing.assert_close(tm.state_dict()[k], v, atol=0, rtol=0)
    with torch.no_grad():
        fp, tp = fm.posterior(y, None), tm.posterior(y, None)
        assert isinstance(tp, TimeDomainPosterior)
        torch.testing.assert_close(fp.time_mean(), tp.time_mean(), atol=5e-3, rtol=5e-3)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-2)
    torch.manual_seed(1)
    losses = []
    for _ in range(20):
        loss = elbo_terms(tm, y, None).loss / y.shape[0]
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    # the copy is independent: training it left the Fourier module's parameters alone
    assert not torch.equal(fm.prior.raw_length_scale, tm.prior.raw_length_scale)
