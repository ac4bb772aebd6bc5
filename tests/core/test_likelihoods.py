"""Likelihoods: the registry, the automatic choice from the data, the negative binomial."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import AUTO, LIKELIHOODS, ConfigError, ModelConfig
from mmgpvae_core.data import DataError, Dataset, check_for_likelihood
from mmgpvae_core.evaluation.heldout import cosmooth, evaluate
from mmgpvae_core.model.likelihoods import (
    LIKELIHOOD_CLASSES,
    GaussianLikelihood,
    Likelihood,
    NegativeBinomialLikelihood,
    PoissonLikelihood,
    choose_likelihood,
    likelihood_class,
    make_likelihood,
    register,
    resolve_likelihood,
)


def _ds(values, kind="generic", signal=""):
    return Dataset(np.asarray(values, dtype=float), kind=kind, signal=signal)


# ---------------------------------------------------------------------------- registry
def test_the_registry_holds_every_name_the_config_accepts():
    assert set(LIKELIHOOD_CLASSES) == set(LIKELIHOODS)
    for name in LIKELIHOODS:
        cls = likelihood_class(name)
        assert cls.name == name and issubclass(cls, Likelihood)
        lik = make_likelihood(name, 3)
        assert isinstance(lik, cls)


def test_saved_names_stay_the_same_strings():
    assert likelihood_class("poisson") is PoissonLikelihood
    assert likelihood_class("gaussian") is GaussianLikelihood
    assert likelihood_class("negbinomial") is NegativeBinomialLikelihood


def test_unknown_and_unresolved_names_are_refused():
    with pytest.raises(ValueError, match="unknown likelihood 'student'"):
        make_likelihood("student", 2)
    with pytest.raises(ValueError, match="resolve 'auto'"):
        make_likelihood(AUTO, 2)
    with pytest.raises(ConfigError, match="neural_likelihood"):
        ModelConfig(neural_likelihood="student")
    assert ModelConfig(neural_likelihood=AUTO).neural_likelihood == AUTO


def test_a_new_likelihood_is_one_registered_class():
    @register
    class Doubled(GaussianLikelihood):
        name = "doubled-test"

    try:
        assert likelihood_class("doubled-test") is Doubled
        assert isinstance(make_likelihood("doubled-test", 2), Doubled)
    finally:
        del LIKELIHOOD_CLASSES["doubled-test"]
    with pytest.raises(ValueError, match="name"):
        register(type("Nameless", (Likelihood,), {}))


def test_each_class_says_how_it_is_shown():
    assert PoissonLikelihood.counts and NegativeBinomialLikelihood.counts
    assert not GaussianLikelihood.counts
    assert PoissonLikelihood.unit_label == "counts per bin"
    assert PoissonLikelihood.display_units(0.02, None) == (50.0, "spikes/s")
    assert likelihood_class("bernoulli").display_units(None, "mm") == (1.0, "P(event)")
    assert GaussianLikelihood.display_units(None, "mm") == (1.0, "mm")


# ---------------------------------------------------------------------------- data checks
@pytest.mark.parametrize("name", ["poisson", "negbinomial"])
def test_count_likelihoods_refuse_negative_and_non_integer_data(name):
    assert likelihood_class(name).accepts(np.array([0.0, 3.0, np.nan]))
    with pytest.raises(DataError, match="negative"):
        check_for_likelihood(_ds(np.full((2, 3, 1), -1.0)), name)
    with pytest.raises(DataError, match="non-integer value 0.5"):
        check_for_likelihood(_ds(np.full((2, 3, 1), 0.5)), name)


def test_bernoulli_accepts_only_zeros_and_ones():
    assert likelihood_class("bernoulli").accepts([0.0, 1.0, 1.0])
    assert not likelihood_class("bernoulli").accepts([0.0, 2.0])


# ---------------------------------------------------------------------------- auto choice
def test_auto_chooses_poisson_for_integer_counts(rng):
    choice = choose_likelihood(_ds(rng.poisson(3.0, (4, 10, 5))))
    assert choice.name == "poisson"
    assert str(choice) == "poisson (auto: non-negative integer counts)"


def test_auto_chooses_gaussian_for_float_data(rng):
    choice = choose_likelihood(_ds(rng.uniform(0, 5, (4, 10, 5))))
    assert (choice.name, choice.reason) == ("gaussian", "auto: non-integer values")
    negative = choose_likelihood(_ds(-rng.poisson(3.0, (4, 10, 5))))
    assert (negative.name, negative.reason) == ("gaussian", "auto: negative values")


def test_auto_chooses_bernoulli_for_binary_data(rng):
    choice = choose_likelihood(_ds(rng.integers(0, 2, (4, 10, 5))))
    assert (choice.name, choice.reason) == ("bernoulli", "auto: only 0/1 values")
    assert choose_likelihood(_ds(rng.integers(0, 2, (4, 10, 5))), modality="behavior").name == (
        "bernoulli"
    )


def test_auto_follows_the_signal_a_loader_says_it_read(rng):
    # suite2p-like: non-negative fluorescence, even if it happens to be whole numbers.
    f = rng.poisson(200.0, (4, 10, 5)).astype(float)
    choice = choose_likelihood(_ds(f, kind="suite2p", signal="calcium"))
    assert (choice.name, choice.reason) == ("gaussian", "auto: calcium (suite2p)")
    assert choose_likelihood(_ds(f, kind="suite2p")).name == "poisson"  # no signal: the values
    assert choose_likelihood(
        _ds(f + 0.25, kind="nwb:RoiResponseSeries", signal="calcium")
    ).name == "gaussian"
    # NWB units binned to 0/1 at fine bins are still spike counts.
    spikes = rng.integers(0, 2, (4, 10, 5))
    units = choose_likelihood(_ds(spikes, kind="nwb:Units", signal="spikes"))
    assert (units.name, units.reason) == ("poisson", "auto: spike counts (nwb:Units)")
    # ... unless they were z-scored.
    assert choose_likelihood(_ds(spikes - 0.5, kind="nwb:Units", signal="spikes")).name == (
        "gaussian"
    )
    pose = _ds(f, kind="deeplabcut", signal="pose")
    assert choose_likelihood(pose, modality="behavior").name == "gaussian"


def test_integer_behavior_is_not_taken_for_spike_counts(rng):
    pixels = _ds(rng.integers(0, 256, (4, 10, 5)))
    assert choose_likelihood(pixels, modality="behavior").name == "gaussian"
    assert choose_likelihood(pixels, modality="neural").name == "poisson"


def test_resolve_keeps_a_name_the_user_set(rng):
    data = _ds(rng.uniform(0, 1, (2, 5, 3)))
    assert str(resolve_likelihood("poisson", data)) == "poisson (set)"
    assert resolve_likelihood(AUTO, data).name == "gaussian"


def test_the_api_resolves_auto_at_fit_and_saves_the_concrete_name(tiny_sim, tmp_path):
    calcium = tiny_sim.neural.subset(np.arange(tiny_sim.neural.n_trials))
    calcium.data = calcium.data + 0.5  # non-integer: not spike counts
    m = MMGPVAE(1, 1, 1, neural_likelihood=AUTO, behavior_likelihood=AUTO, epochs=1, device="cpu")
    m.fit(calcium, tiny_sim.behavior)
    assert (m.model_config.neural_likelihood, m.model_config.behavior_likelihood) == (
        "gaussian",
        "gaussian",
    )
    assert isinstance(m.module.lik_neural, GaussianLikelihood)
    m.save(tmp_path / "run.mmgp")
    again = MMGPVAE.load(tmp_path / "run.mmgp")
    assert again.model_config.neural_likelihood == "gaussian"


# ---------------------------------------------------------------------------- negative binomial
def _overdispersed(n_trials=40, n_time=30, n_neurons=12, r=1.0, seed=0) -> np.ndarray:
    """Counts with two smooth latents and gamma-distributed rates: NB(mean μ, dispersion r)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time)
    phase = rng.uniform(0, 2 * np.pi, (n_trials, 1))
    z = np.stack([np.sin(2 * np.pi * t / 20 + phase), np.cos(2 * np.pi * t / 15 + phase)], -1)
    mu = np.exp(z @ rng.normal(0, 0.5, (2, n_neurons)) + np.log(rng.uniform(2, 5, n_neurons)))
    return rng.poisson(rng.gamma(r, mu / r)).astype(float)


def test_negbinomial_log_prob_matches_torch_and_tends_to_poisson():
    lik = NegativeBinomialLikelihood(2)
    y = torch.tensor([[0.0, 3.0], [7.0, 1.0]])
    f = torch.tensor([[0.5, 1.0], [2.0, -1.0]])
    r = lik.dispersion
    ref = torch.distributions.NegativeBinomial(r, logits=f - torch.log(r)).log_prob(y)
    torch.testing.assert_close(lik.log_prob(y, f), ref)
    lik = lik.double()  # lgamma(y + r) − lgamma(r) at large r needs float64
    with torch.no_grad():
        lik.raw_dispersion.fill_(1e8)
    y, f = y.double(), f.double()
    torch.testing.assert_close(
        lik.log_prob(y, f), PoissonLikelihood().log_prob(y, f), atol=1e-5, rtol=1e-5
    )


def test_negbinomial_beats_poisson_on_over_dispersed_counts():
    y = _overdispersed()
    train, test = Dataset(y[:30]), Dataset(y[30:])
    scores, models = {}, {}
    for name in ("poisson", "negbinomial"):
        m = MMGPVAE(1, 1, 0, neural_likelihood=name, epochs=15, batch_size=30, seed=0, device="cpu")
        m.fit(train)
        held_out = cosmooth(m, "neural", test, n_groups=2)["log_prob"]
        scores[name] = float(np.nansum(held_out)) / test.n_trials
        models[name] = m
    assert scores["negbinomial"] > scores["poisson"] + 100, scores  # nats per trial
    r = models["negbinomial"].module.lik_neural.dispersion.detach().numpy()
    assert np.all(r < 3.0), r  # the truth is r = 1: far from Poisson
    # Count likelihoods report bits/spike.
    assert "cosmooth_bps" in evaluate(models["negbinomial"], test, n_groups=2)
