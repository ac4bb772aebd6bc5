"""Cross-modal training: trials encoded from one modality alone, both modalities scored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import ConfigError, TrainConfig
from mmgpvae_core.evaluation.heldout import evaluate, train_val_split
from mmgpvae_core.model.elbo import ENCODE_BEHAVIOR, ENCODE_BOTH, ENCODE_NEURAL, elbo_terms
from mmgpvae_core.synthetic.simulate import simulate


def test_cross_modal_config_is_validated():
    assert TrainConfig().cross_modal >= 0
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ConfigError, match="cross_modal"):
            TrainConfig(cross_modal=bad)


def test_single_encoder_terms_are_the_one_modality_posterior(tiny_sim):
    """A trial coded neural-only (behavior-only) gets exactly the posterior of the neural
    (behavior) encoder alone, while both modalities are still scored."""
    model = MMGPVAE(2, 1, 1, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior, epochs=2)
    m = model.module
    m.eval()
    yn = torch.as_tensor(tiny_sim.neural.data[:6], dtype=torch.float32)
    yb = torch.as_tensor(tiny_sim.behavior.data[:6], dtype=torch.float32)
    codes = torch.tensor([ENCODE_BOTH, ENCODE_NEURAL, ENCODE_BEHAVIOR] * 2)
    with torch.no_grad():
        torch.manual_seed(0)  # the MLP behavior decoder's term is sampled: same noise twice
        mixed = elbo_terms(m, yn, yb, encoders=codes)
        kl = {
            ENCODE_BOTH: m.posterior(yn, yb).kl().sum(-1),
            ENCODE_NEURAL: m.posterior(yn, None).kl().sum(-1),
            ENCODE_BEHAVIOR: m.posterior(None, yb).kl().sum(-1),
        }
        torch.manual_seed(0)
        plain = elbo_terms(m, yn, yb)
    for i, c in enumerate(codes.tolist()):
        assert mixed.per_trial[2, i] == pytest.approx(float(kl[c][i]), rel=1e-4)
    full = codes == ENCODE_BOTH
    assert torch.allclose(mixed.per_trial[:, full], plain.per_trial[:, full], rtol=1e-4)
    assert (mixed.per_trial[1] != 0).all()  # behavior is scored on neural-only trials too
    # The per-trial terms add up to the batch sums.
    assert float(plain.per_trial[2].sum()) == pytest.approx(float(plain.kl), rel=1e-5)


def test_cross_modal_training_improves_behavior_from_neural():
    """Same data, same seed, same epochs: with cross-modal training (the default fraction) the
    neural encoder alone infers the shared latents well enough to predict held-out behavior
    clearly better. (Measured: R² 0.40 without, 0.74 with; ~10 s.)"""
    torch.set_num_threads(1)
    sim = simulate(
        n_trials=60, n_time=40, n_neurons=30, n_keypoints=4, seed=3, private_behavior_weight=0.5
    )
    train, val = train_val_split(sim.neural.n_trials, 0.25, sim.neural.conditions, seed=0)
    default = TrainConfig().cross_modal
    assert default > 0
    r2 = {}
    for cm in (0.0, default):
        model = MMGPVAE(2, 1, 1, seed=0, device="cpu", cross_modal=cm, patience=1000)
        model.fit(sim.neural.subset(train), sim.behavior.subset(train), epochs=60)
        assert np.isfinite(model.history.elbo).all()
        ev = evaluate(model, sim.neural.subset(val), sim.behavior.subset(val), n_samples=10)
        r2[cm] = ev["r2_behavior_from_neural"]
    print("R² behavior from neural alone:", r2)
    assert r2[default] > r2[0.0] + 0.1
    assert r2[default] > 0.6
