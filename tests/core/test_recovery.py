"""The science bar: on the default simulation, the fit recovers shared and private latents and
keeps private information out of the shared ones — clearly better than PCA of both modalities."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.recovery import cv_r2, score_latents
from mmgpvae_core.simulate import simulate


def _pca_baseline(sim, n_shared: int) -> dict[str, float]:
    """Naive alternative: PCA of both modalities (z-scored, stacked), top components as 'shared'."""
    x = np.concatenate([np.log1p(sim.neural.data), sim.behavior.data], axis=2)
    rows = x.reshape(-1, x.shape[2])
    rows = (rows - rows.mean(0)) / (rows.std(0) + 1e-9)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    z = (rows @ vt[:n_shared].T).reshape(x.shape[0], x.shape[1], n_shared)
    return {
        "r2_shared": cv_r2(z, sim.truth["shared"]),
        "leakage": max(cv_r2(z, sim.truth["private_neural"]), cv_r2(z, sim.truth["private_behavior"])),
    }


@pytest.mark.slow
def test_default_fit_recovers_shared_and_private_latents():
    sim = simulate(seed=11)  # defaults: 100 trials × 80 bins, 2 shared, 1 + 1 private
    model = MMGPVAE(shared=2, private_neural=1, private_behavior=1, epochs=150, seed=0, device="cpu")
    model.fit(sim.neural, sim.behavior)
    scores = score_latents(model.transform(), sim.truth)
    pca = _pca_baseline(sim, 2)
    print("model", scores, "pca", pca)
    assert scores["r2_shared"] >= 0.90
    assert scores["r2_private_neural"] >= 0.80
    assert scores["r2_private_behavior"] >= 0.80
    assert scores["leakage"] <= 0.20
    assert scores["r2_shared"] > pca["r2_shared"] + 0.1
    assert scores["leakage"] < pca["leakage"]
    # Cross-modal: the shared latents inferred from neural activity alone still match the truth.
    from_neural = model.transform(neural=sim.neural)
    assert cv_r2(from_neural["shared"], sim.truth["shared"]) >= 0.85
