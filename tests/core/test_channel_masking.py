"""Channel masking in training: encoders learn to infer the latents from the channels given."""

from __future__ import annotations

import json

import numpy as np
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import TRAIN_BEFORE_OPTION, TrainConfig
from mmgpvae_core.model.elbo import elbo_terms
from mmgpvae_core.synthetic.simulate import simulate
from mmgpvae_core.training import hidden_channels


def test_hidden_channels_hide_a_quarter_of_one_modality_in_the_chosen_trials():
    gen = torch.Generator().manual_seed(0)
    assert hidden_channels(50, 12, 4, 0.0, gen, torch.device("cpu")) is None
    h = hidden_channels(400, 12, 4, 0.5, gen, torch.device("cpu"))
    n_hid, b_hid = h["neural"].sum(1), h["behavior"].sum(1)
    assert set(n_hid.tolist()) <= {0, 3} and set(b_hid.tolist()) <= {0, 1}
    assert not ((n_hid > 0) & (b_hid > 0)).any()  # one modality per trial
    chosen = ((n_hid > 0) | (b_hid > 0)).float().mean()
    assert 0.4 < chosen < 0.6  # about half the trials
    assert 0.35 < (n_hid > 0).float().sum() / ((n_hid > 0) | (b_hid > 0)).float().sum() < 0.65
    # every channel gets hidden sometimes: a random quarter, not always the same one
    assert (h["neural"].sum(0) > 0).all() and (h["behavior"].sum(0) > 0).all()
    again = hidden_channels(400, 12, 4, 0.5, torch.Generator().manual_seed(0), torch.device("cpu"))
    h0 = hidden_channels(400, 12, 4, 0.5, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert all(torch.equal(again[k], h0[k]) for k in h0)  # seeded


def test_hidden_channels_are_missing_to_the_encoders_but_scored_by_the_likelihood():
    sim = simulate(n_trials=6, n_time=20, n_neurons=8, n_keypoints=2, seed=0)
    model = MMGPVAE(2, 1, 1, epochs=2, device="cpu", seed=0).fit(sim.neural, sim.behavior)
    module = model.module_
    module.eval()
    y_n = torch.as_tensor(sim.neural.data, dtype=torch.float32)
    y_b = torch.as_tensor(sim.behavior.data, dtype=torch.float32)
    hide = torch.zeros(6, 8, dtype=torch.bool)
    hide[:, :2] = True
    gapped = y_n.clone()
    gapped[..., :2] = float("nan")
    with torch.no_grad():
        hidden = elbo_terms(module, y_n, y_b, hidden={"neural": hide})
        # the same posterior as when those channels are missing from the data...
        missing = elbo_terms(module, gapped, y_b)
        full = elbo_terms(module, y_n, y_b)
    torch.testing.assert_close(hidden.kl, missing.kl)
    # ...but the hidden channels are still scored: their log-likelihood is in the ELBO
    assert hidden.ell_neural < missing.ell_neural
    assert not torch.isclose(hidden.kl, full.kl)


def test_a_project_saved_before_channel_masking_goes_on_training_without_it(tmp_path):
    import h5py

    sim = simulate(n_trials=6, n_time=20, n_neurons=8, n_keypoints=2, seed=0)
    model = MMGPVAE(2, 1, 1, epochs=2, device="cpu", channel_masking=0.0)
    model.fit(sim.neural, sim.behavior)
    path = tmp_path / "old.mmgp"
    model.save(path)
    with h5py.File(path, "r+") as f:  # as written before the option existed
        d = json.loads(f["config"].attrs["train"])
        for name in TRAIN_BEFORE_OPTION:
            d.pop(name)
        f["config"].attrs["train"] = json.dumps(d)
    assert TrainConfig().channel_masking > 0  # else this test shows nothing
    assert MMGPVAE.load(path).train_config.channel_masking == 0.0
    np.testing.assert_allclose(MMGPVAE.load(path).length_scales, model.length_scales)
