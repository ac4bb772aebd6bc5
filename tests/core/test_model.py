"""The model, ELBO and training loop on tiny data."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import MODEL_BEFORE_OPTION, ModelConfig
from mmgpvae_core.model.elbo import elbo_terms
from mmgpvae_core.model.posterior import fourier_posterior


def _model(sim, **kw):
    kw.setdefault("epochs", 0)
    m = MMGPVAE(2, 1, 1, seed=0, device="cpu", **kw)
    m.fit(sim.neural, sim.behavior)
    return m


def _tensors(m, sim):
    return m._tensor(sim.neural), m._tensor(sim.behavior)


@pytest.mark.parametrize(
    "neural_lik,behavior_lik,behavior_dec",
    [("poisson", "gaussian", "mlp"), ("poisson", "gaussian", "linear"), ("gaussian", "bernoulli", "mlp")],
)
def test_elbo_terms_finite_and_kl_nonnegative(tiny_sim, neural_lik, behavior_lik, behavior_dec):
    neural, behavior = tiny_sim.neural, tiny_sim.behavior
    if behavior_lik == "bernoulli":
        behavior = behavior.subset(np.arange(behavior.n_trials))
        behavior.data = (behavior.data > 0).astype(float)
    m = MMGPVAE(2, 1, 1, neural_likelihood=neural_lik, behavior_likelihood=behavior_lik,
                behavior_decoder=behavior_dec, epochs=0, device="cpu")
    m.fit(neural, behavior)
    terms = elbo_terms(m.module, m._tensor(neural), m._tensor(behavior))
    for v in (terms.ell_neural, terms.ell_behavior, terms.kl, terms.loss):
        assert torch.isfinite(v)
    kl = m.module.posterior(m._tensor(neural), m._tensor(behavior)).kl()
    assert (kl >= -1e-3).all()


def test_kl_is_zero_when_the_posterior_is_the_prior():
    T, D, N = 30, 2, 3
    from mmgpvae_core.model.fourier import FourierBasis
    from mmgpvae_core.model.prior import FourierGPPrior

    b = FourierBasis(T, 50, 4.0, 1e-8)
    prior = FourierGPPrior(D, 8.0, 4.0)
    log_s, keep = prior.log_variances(b.omega)
    post = fourier_posterior(torch.zeros(N, T, D), torch.zeros(N, T, D), b.B, log_s, keep)
    assert torch.allclose(post.kl(), torch.zeros(N, D), atol=1e-3)
    # The prior's own marginal variance comes back in the time domain.
    assert torch.allclose(post.time_var(), torch.ones(N, T, D), atol=0.02)


def test_missing_samples_are_masked_not_imputed(tiny_sim):
    m = _model(tiny_sim)
    yn, yb = _tensors(m, tiny_sim)
    yb_missing = yb.clone()
    yb_missing[0, 5:15, :] = float("nan")
    yb_missing[1, :, 2] = float("nan")
    torch.manual_seed(0)
    a = elbo_terms(m.module, yn, yb_missing)
    assert torch.isfinite(a.loss)
    # Whatever sits under the mask cannot change anything.
    yb_other = yb_missing.clone()
    torch.manual_seed(0)
    b = elbo_terms(m.module, yn, yb_other)
    assert torch.allclose(a.loss, b.loss)
    # A fully missing behavior bin gets zero encoder precision: the posterior there comes from
    # the neural data and the prior alone.
    _, prec = m.module.pseudo_observations(None, yb_missing)
    assert (prec[0, 5:15][:, m.module.idx_private_behavior] == 0).all()


def test_short_fit_improves_the_elbo(tiny_sim):
    m = MMGPVAE(2, 1, 1, epochs=60, seed=0, device="cpu", kl_warmup=0.0, batch_size=8)
    m.fit(tiny_sim.neural, tiny_sim.behavior)
    elbo = np.asarray(m.history.elbo)
    assert np.isfinite(elbo).all()
    assert elbo[-10:].mean() > elbo[:5].mean() + 0.05 * abs(elbo[:5].mean())


def test_fit_is_deterministic_with_a_seed(tiny_sim):
    a = MMGPVAE(2, 1, 1, epochs=5, seed=7, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    b = MMGPVAE(2, 1, 1, epochs=5, seed=7, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    np.testing.assert_array_equal(a.history.elbo, b.history.elbo)
    np.testing.assert_array_equal(a.transform()["shared"], b.transform()["shared"])


def test_cancel_from_another_thread_stops_within_one_epoch(tiny_sim):
    m = MMGPVAE(2, 1, 1, epochs=10_000, seed=0, device="cpu", patience=10_000)
    stop = threading.Event()
    seen = []

    def on_epoch(r):
        seen.append(r.epoch)
        if r.epoch == 3:
            threading.Thread(target=stop.set).start()

    worker = threading.Thread(
        target=m.fit, args=(tiny_sim.neural, tiny_sim.behavior),
        kwargs=dict(on_epoch=on_epoch, should_stop=stop.is_set),
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert m.outcome.status == "cancelled"
    assert 3 <= len(seen) <= 5  # the epoch in flight when the flag was set may finish
    assert len(m.history) == len(seen)
    # Its last good state is usable: finite posterior, and training can continue.
    z = m.transform()["shared"]
    assert np.isfinite(z).all()
    m.partial_fit(tiny_sim.neural, tiny_sim.behavior, epochs=2)
    assert len(m.history) == len(seen) + 2


def test_non_finite_elbo_restores_last_good_state(tiny_sim):
    from mmgpvae_core.training import TrainingFailed

    m = _model(tiny_sim)
    m.fit(tiny_sim.neural, tiny_sim.behavior, epochs=2)
    before = {k: v.clone() for k, v in m.module.state_dict().items()}

    def poison(r):
        with torch.no_grad():
            m.module.dec_neural.head.weight.fill_(float("nan"))

    with pytest.raises(TrainingFailed, match="non-finite"):
        m.partial_fit(tiny_sim.neural, tiny_sim.behavior, epochs=3, on_epoch=poison)
    # The weights are back to the last epoch that completed, not NaN.
    assert all(torch.isfinite(v).all() for v in m.module.state_dict().values() if v.is_floating_point())
    assert set(before) == set(m.module.state_dict())


def test_single_modality_and_zero_private_dims(tiny_sim):
    m = MMGPVAE(2, 0, 0, epochs=3, device="cpu").fit(tiny_sim.neural)
    z = m.transform()
    assert z["shared"].shape == (24, 40, 2)
    assert z["private_neural"].shape == (24, 40, 0)
    assert z["private_behavior"].shape == (24, 40, 0)


def test_cross_modal_posterior_from_either_modality(tiny_sim):
    m = MMGPVAE(2, 1, 1, epochs=3, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    from_neural = m.transform(neural=tiny_sim.neural)
    from_behavior = m.transform(behavior=tiny_sim.behavior)
    assert np.isfinite(from_neural["shared"]).all() and np.isfinite(from_behavior["shared"]).all()
    # With no behavior data, the private behavior latent falls back to its prior mean: zero.
    np.testing.assert_allclose(from_neural["private_behavior"], 0.0, atol=1e-6)


def test_unequal_trial_lengths(tiny_sim):
    neural = tiny_sim.neural.subset(np.arange(24))
    behavior = tiny_sim.behavior.subset(np.arange(24))
    neural.data[::2, 30:] = np.nan
    behavior.data[::2, 30:] = np.nan
    m = MMGPVAE(2, 1, 1, epochs=3, device="cpu").fit(neural, behavior)
    assert np.isfinite(m.history.elbo).all()
    np.testing.assert_array_equal(neural.trial_lengths[:4], [30, 40, 30, 40])


@pytest.mark.gpu
@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_runs_on_accelerator(tiny_sim, device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if device == "mps" and not torch.backends.mps.is_available():
        pytest.skip("no MPS device")
    m = MMGPVAE(2, 1, 1, epochs=3, device=device).fit(tiny_sim.neural, tiny_sim.behavior)
    assert np.isfinite(m.history.elbo).all()


def test_length_scale_floor_spread_and_parametrisation_survive_a_save(tiny_sim, tmp_path):
    from mmgpvae_core.model.module import ModelShape

    m = _model(
        tiny_sim, length_scale_init=9.0, min_length_scale_fraction=1 / 3,
        length_scale_spread=2.0, length_scale_param="log",
    )
    assert m.shape_.min_length_scale == pytest.approx(3.0)
    assert m.shape_.length_scale_param == "log"
    # shared latents spread over [9 / 2, 9 × 2]; one-dimensional subspaces start at 9
    np.testing.assert_allclose(m.length_scales, [4.5, 18.0, 9.0, 9.0], rtol=1e-5)
    m.save(tmp_path / "p.mmgp")
    np.testing.assert_allclose(MMGPVAE.load(tmp_path / "p.mmgp").length_scales, m.length_scales)
    # a project saved before the option existed has none in its shape: it was fitted softplus
    d = m.shape_.to_dict()
    d.pop("length_scale_param")
    assert ModelShape(**d).length_scale_param == "softplus"


def test_a_project_saved_before_the_length_scale_options_reopens_as_it_was_fitted(
    tiny_sim, tmp_path
):
    """Files written before ``length_scale_param`` / ``min_length_scale_fraction`` existed
    lack those keys; they were fitted "softplus" with the floor at half the initial
    length-scale, so that is what they must reopen, report, refit and re-save with — not
    today's defaults."""
    import json

    import h5py

    from mmgpvae_core.project.file import read_project

    m = _model(tiny_sim, min_length_scale_fraction=0.5, length_scale_param="softplus")
    path = tmp_path / "old.mmgp"
    m.save(path)
    with h5py.File(path, "r+") as f:  # make it look like a file of that time
        lacks = {"model": list(MODEL_BEFORE_OPTION), "shape": ["length_scale_param"]}
        for key, names in lacks.items():
            d = json.loads(f["config"].attrs[key])
            for name in names:
                d.pop(name)
            f["config"].attrs[key] = json.dumps(d)
    assert ModelConfig().length_scale_param != "softplus"  # else this test shows nothing

    old = MMGPVAE.load(path)
    assert old.model_config_.length_scale_param == "softplus"
    assert old.model_config_.min_length_scale_fraction == 0.5
    assert old.shape_.length_scale_param == "softplus"
    np.testing.assert_allclose(old.length_scales, m.length_scales, rtol=1e-6)
    assert read_project(path, posterior=False)["config"]["model"]["length_scale_param"] == "softplus"
    old.save(tmp_path / "again.mmgp")
    again = read_project(tmp_path / "again.mmgp", posterior=False)["config"]
    assert again["model"]["length_scale_param"] == again["shape"]["length_scale_param"] == "softplus"
