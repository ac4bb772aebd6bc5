"""run_compare stops when asked (should_stop, as the sweep's): a fold cut short is not scored."""

from __future__ import annotations

import time

from mmgpvae_core.compare import CompareSettings, run_compare
from mmgpvae_core.synthetic.simulate import simulate_session


def test_should_stop_ends_the_comparison_at_the_next_epoch_and_scores_no_cut_fold():
    sim = simulate_session(n_bins=600, window_bins=50, n_neurons=10, n_keypoints=2)
    epochs = []
    settings = CompareSettings(folds=3, model_kwargs={"epochs": 100000, "device": "cpu"})
    t0 = time.perf_counter()
    result = run_compare(
        sim.neural, sim.behavior, settings,
        on_epoch=epochs.append, should_stop=lambda: len(epochs) >= 3,
    )
    assert time.perf_counter() - t0 < 120
    assert result.cancelled and result.rows == [] and len(epochs) == 3


def test_without_a_stop_every_fold_is_scored():
    sim = simulate_session(n_bins=600, window_bins=50, n_neurons=10, n_keypoints=2)
    settings = CompareSettings(model_kwargs={"epochs": 2, "device": "cpu"})
    result = run_compare(sim.neural, sim.behavior, settings, should_stop=lambda: False)
    assert not result.cancelled
    # the Bayesian decoder too: the simulated neurons are spike counts
    assert {r["method"] for r in result.rows} == {"mmgpvae", "wiener", "wiener_causal", "bayes", "glm"}
