"""The harder simulated benchmark: sparse, ragged, occluded, with short and long latents."""

from __future__ import annotations

import numpy as np

from mmgpvae_core.synthetic.simulate import simulate, simulate_hard


def test_harder_data_has_sparse_ragged_occluded_observations_and_spread_length_scales():
    sim = simulate_hard(n_trials=40, seed=3)
    y, pose = sim.neural.data, sim.behavior.data
    lengths = sim.truth["lengths"]
    assert y.shape == (40, 80, 50) and pose.shape == (40, 80, 12)
    assert lengths.min() >= 48 and lengths.max() <= 80 and len(set(lengths)) > 5
    for i, n in enumerate(lengths):  # NaN-padded after each trial's end, in every array
        for x in (y, pose, sim.truth["shared"], sim.truth["private_neural"]):
            assert np.isnan(x[i, n:]).all()
        assert not np.isnan(y[i, :n]).any()
    assert abs(np.nanmean(y) - 0.3) < 0.05  # sparse firing, spikes per bin
    observed = ~np.isnan(y[..., 0])
    missing = np.isnan(pose)[observed]  # occlusion inside the trials
    assert 0.05 < missing.mean() < 0.3
    np.testing.assert_array_equal(missing[:, 0::2], missing[:, 1::2])  # x and y go together
    np.testing.assert_allclose(np.sort(sim.truth["length_scales"]), np.geomspace(3, 20, 4))


def test_the_standard_simulation_draws_what_it_drew_before_the_rate_option():
    # Sums of simulate()'s output at fd33cf3, before ``_observe`` took ``mean_rate``: benchmarks
    # and recovery thresholds were measured on these draws. The counts are integers (exact on any
    # machine); the latents and pose pass through a Cholesky factor and matrix products whose
    # rounding differs between CPUs and BLAS builds (2.5e-12 seen), so their sums are pinned at
    # 1e-6: any change of the generator's stream moves them by O(1).
    a = simulate(n_trials=6, n_time=20, n_neurons=5, n_keypoints=2, seed=4)
    assert a.neural.data.sum() == 540.0
    np.testing.assert_allclose(a.behavior.data.sum(), -105.7421767000788, rtol=1e-6)
    np.testing.assert_allclose(a.truth["shared"].sum(), -33.49546799859676, rtol=1e-6)
