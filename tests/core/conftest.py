from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.synthetic.simulate import simulate


@pytest.fixture(scope="session")
def tiny_sim():
    """A small simulated session: 24 trials × 40 bins, 20 neurons, 8 pose channels."""
    return simulate(n_trials=24, n_time=40, n_neurons=20, n_keypoints=4, seed=3)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
