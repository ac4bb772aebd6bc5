"""The training loop's schedule and the per-step shortcuts that keep it fast (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmgpvae_core import training
from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.model.fourier import FourierBasis
from mmgpvae_core.model.module import embed_latents, select_latents
from mmgpvae_core.model.posterior import fourier_posterior
from mmgpvae_core.model.prior import FourierGPPrior


def test_on_a_plateau_the_learning_rate_anneals_then_the_fit_stops(tiny_sim):
    # min_delta = 10: any window-to-window gain counts as a plateau, found at epoch 2w = 4.
    m = MMGPVAE(2, 1, 1, epochs=50, seed=0, device="cpu", kl_warmup=0.0, patience=4,
                min_delta=10.0, lr=1e-2)
    lrs = []
    m.fit(tiny_sim.neural, tiny_sim.behavior,
          on_epoch=lambda r: lrs.append(m.optimizer.param_groups[0]["lr"]))
    length = round(training.ANNEAL_LENGTH * 4)
    assert m.outcome.status == "converged"
    assert m.outcome.epochs_run == 4 + length
    assert "plateaued after 4 epochs" in m.outcome.message
    # lrs[e] is the rate epoch e + 1 trained at: constant to the plateau, then a cosine to the floor.
    np.testing.assert_allclose(lrs[:4], 1e-2)
    want = [1e-2 * (training.ANNEAL_FLOOR + (1 - training.ANNEAL_FLOOR)
                    * 0.5 * (1 + math.cos(math.pi * j / length))) for j in range(1, length + 1)]
    assert lrs[4:] == pytest.approx(want)
    assert lrs[-1] == pytest.approx(1e-2 * training.ANNEAL_FLOOR)
    # The optimizer is left at the configured rate, so a continued fit starts there.
    assert m.optimizer.param_groups[0]["lr"] == 1e-2


def test_a_continued_fit_trains_at_the_configured_learning_rate(tiny_sim):
    m = MMGPVAE(2, 1, 1, epochs=30, seed=0, device="cpu", kl_warmup=0.0, patience=4,
                min_delta=10.0)
    m.fit(tiny_sim.neural, tiny_sim.behavior)
    seen = []
    m.partial_fit(tiny_sim.neural, tiny_sim.behavior, epochs=2,
                  on_epoch=lambda r: seen.append(m.optimizer.param_groups[0]["lr"]))
    assert seen == [m.train_config.lr] * 2


def test_without_annealing_the_fit_stops_at_the_plateau(tiny_sim, monkeypatch):
    monkeypatch.setattr(training, "ANNEAL_LENGTH", 0.0)
    m = MMGPVAE(2, 1, 1, epochs=50, seed=0, device="cpu", kl_warmup=0.0, patience=4,
                min_delta=10.0)
    m.fit(tiny_sim.neural, tiny_sim.behavior)
    assert (m.outcome.status, m.outcome.epochs_run) == ("converged", 4)


def test_the_optimizer_is_fused_on_the_cpu(tiny_sim):
    m = MMGPVAE(2, 1, 1, epochs=1, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    assert m.optimizer.param_groups[0]["fused"] is True


def test_frequencies_that_no_latent_keeps_are_dropped_without_changing_the_posterior():
    torch.manual_seed(0)
    N, T, D = 3, 30, 2
    basis = FourierBasis(T, 50, 3.0, 1e-8)
    prior = FourierGPPrior(D, 9.0, 3.0)  # ℓ = 9 keeps far fewer coefficients than ℓ = 3 needs
    log_s, keep = prior.log_variances(basis.omega.double())
    n_kept = int(keep.any(0).sum())
    assert n_kept < basis.n_freq
    mu = torch.randn(N, T, D, dtype=torch.float64)
    prec = torch.rand(N, T, D, dtype=torch.float64)
    B = basis.B.double()
    post = fourier_posterior(mu, prec, B, log_s, keep)
    assert post.basis.shape[-1] == n_kept and post.keep.shape == (D, n_kept)
    # The same posterior computed with every coefficient: pruned ones have zero basis columns,
    # unit prior precision and no KL term.
    b = B.unsqueeze(0) * keep.unsqueeze(1)
    lam = torch.einsum("dtm,ntd,dtk->ndmk", b, prec, b) + torch.diag_embed(
        torch.exp(-torch.where(keep, log_s, torch.zeros_like(log_s)))
    )
    cov = torch.linalg.inv(lam)
    mean = torch.einsum("ndmk,dtk,ntd->ndm", cov, b, prec * mu)
    torch.testing.assert_close(post.time_mean(), torch.einsum("dtm,ndm->ntd", b, mean))
    var = torch.einsum("dtm,ndmk,dtk->ntd", b, cov, b)
    torch.testing.assert_close(post.time_var(), var)
    k = keep.to(mu.dtype)
    inv_s = torch.exp(-log_s) * k
    kl = 0.5 * (((torch.diagonal(cov, dim1=-2, dim2=-1) + mean**2) * inv_s).sum(-1) - k.sum(-1)
                + (log_s * k).sum(-1) + torch.logdet(lam))
    torch.testing.assert_close(post.kl(), kl)


@pytest.mark.parametrize("idx", [[0, 1], [0, 1, 3], [2], [1, 3], []])
def test_latent_groups_are_selected_and_placed_back_by_slices(idx):
    z = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    torch.testing.assert_close(select_latents(z, idx), z[..., idx])
    x = select_latents(z, idx)
    want = torch.zeros_like(z)
    want[..., idx] = x
    torch.testing.assert_close(embed_latents(x, idx, 4), want)
