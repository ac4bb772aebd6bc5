"""MMGPVAE follows scikit-learn's estimator conventions: parameters in, fitted attributes out."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE, PARAMS
from mmgpvae_core.config import ConfigError, ModelConfig, TrainConfig


def _tiny(**kw):
    return MMGPVAE(1, 1, 1, epochs=2, seed=0, device="cpu", **kw)


def test_the_parameters_are_the_constructor_arguments_with_the_configs_defaults():
    m = MMGPVAE(3, lr=0.05)
    params = m.get_params()
    assert list(params) == list(PARAMS)
    assert list(inspect.signature(MMGPVAE).parameters) == list(PARAMS)
    assert params["shared"] == 3 and params["lr"] == 0.05
    assert params["epochs"] == TrainConfig().epochs
    assert params["neural_likelihood"] == ModelConfig().neural_likelihood
    assert not m.is_fitted and m.module is None and len(m.history) == 0
    assert not [k for k in vars(m) if k.endswith("_")]  # nothing fitted before fit


def test_set_params_changes_them_and_a_bad_value_changes_nothing():
    m = _tiny()
    assert m.set_params(epochs=7, shared=2) is m
    assert m.train_config.epochs == 7 and m.model_config.shared == 2
    with pytest.raises(ConfigError, match="lr"):
        m.set_params(lr=-1.0)
    assert m.lr == TrainConfig().lr
    with pytest.raises(ValueError, match="nonsense"):
        m.set_params(nonsense=1)
    with pytest.raises(TypeError, match="nonsense"):
        MMGPVAE(nonsense=1)


def test_fit_starts_afresh_and_partial_fit_goes_on(tiny_sim):
    m = _tiny().fit(tiny_sim.neural, tiny_sim.behavior)
    first = m.history_.elbo.copy()
    assert len(m.history_) == 2 and m.module is m.module_
    m.partial_fit(tiny_sim.neural, tiny_sim.behavior, epochs=3)
    assert len(m.history_) == 5
    m.fit(tiny_sim.neural, tiny_sim.behavior)
    assert len(m.history_) == 2
    np.testing.assert_allclose(m.history_.elbo, first)  # the same seed, the same fresh fit


def test_a_new_learning_rate_applies_to_the_next_partial_fit(tiny_sim):
    m = _tiny(lr=0.01).fit(tiny_sim.neural, tiny_sim.behavior)
    m.set_params(lr=0.05)
    seen = []
    m.partial_fit(
        tiny_sim.neural, tiny_sim.behavior, epochs=1,
        on_epoch=lambda r: seen.append(m.optimizer_.param_groups[0]["lr"]),
    )
    assert seen == [pytest.approx(0.05)]


def test_posterior_without_data_is_the_training_datas(tiny_sim):
    m = _tiny().fit(tiny_sim.neural, tiny_sim.behavior)
    for k, v in m.posterior().items():
        np.testing.assert_array_equal(v, m.posterior(tiny_sim.neural, tiny_sim.behavior)[k])


def test_sklearn_clone_gives_an_unfitted_copy_with_the_same_parameters(tiny_sim):
    base = pytest.importorskip("sklearn.base")
    m = _tiny(behavior_likelihood="auto").fit(tiny_sim.neural, tiny_sim.behavior)
    copy = base.clone(m)
    assert copy.get_params() == m.get_params() and not copy.is_fitted
    assert copy.behavior_likelihood == "auto"  # the parameter, not the fitted model's choice
    assert m.model_config_.behavior_likelihood != "auto"


def test_a_grid_search_chooses_by_the_held_out_score(tiny_sim):
    model_selection = pytest.importorskip("sklearn.model_selection")
    search = model_selection.GridSearchCV(_tiny(), {"shared": [1, 2]}, cv=2)
    search.fit(tiny_sim.neural.data, tiny_sim.behavior.data)
    assert search.best_params_["shared"] in (1, 2)
    assert np.isfinite(search.best_score_)
