"""The science bar: on the default simulation, the fit recovers shared and private latents and
keeps private information out of the shared ones — clearly better than PCA of both modalities."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.evaluation.recovery import cv_r2, score_latents
from mmgpvae_core.synthetic.simulate import simulate


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


def _smooth(rng, n: int, d: int, width: int = 60) -> np.ndarray:
    kernel = np.hanning(width)
    return np.stack(
        [np.convolve(rng.normal(size=n + width), kernel, "same")[:n] for _ in range(d)], 1
    )


def test_a_session_on_its_clock_is_scored_on_blocks_and_unrelated_latents_score_nothing():
    """Latents unrelated to the truth, both slow: a map scored on bins dealt at random between
    its training bins looks good; on contiguous blocks with 10 s unused beside each, it does
    not."""
    from mmgpvae_core.evaluation.recovery import latent_splits, random_splits

    rng = np.random.default_rng(0)
    n = 3000
    lat = {"shared": _smooth(rng, n, 40), "time": np.arange(n) * 0.05, "bin_size_s": np.array(0.05)}
    truth = _smooth(rng, n, 1)
    splits, how = latent_splits(lat)
    assert how.startswith("5 blocked folds over the session's bins") and "10 s" in how
    for train, test in splits:
        assert np.abs(train[:, None] - test[None, :]).min() > 200  # 10 s of 50 ms bins
    assert cv_r2(lat["shared"], truth, splits=splits) < 0.1
    assert cv_r2(lat["shared"], truth, splits=random_splits(n)) > 0.2  # flattered (0.29)
    trials = {"shared": rng.normal(size=(20, 30, 2))}
    assert latent_splits(trials)[1] == "5 folds over trials, dealt at random"


def test_cli_score_says_how_it_held_out(tmp_path, capsys):
    from mmgpvae_core.cli import main

    rng = np.random.default_rng(1)
    z = _smooth(rng, 2000, 2)
    np.savez(tmp_path / "lat.npz", shared=z, time=np.arange(2000) * 0.02, bin_size_s=0.02)
    np.savez(tmp_path / "truth.npz", shared=z @ np.array([[1.0, 0.5], [0.0, 2.0]]))
    assert main(["score", str(tmp_path / "lat.npz"), str(tmp_path / "truth.npz")]) == 0
    captured = capsys.readouterr()
    assert "5 blocked folds over the session's bins" in captured.err
    assert float(captured.out.split()[1]) > 0.99  # an invertible map of the truth
