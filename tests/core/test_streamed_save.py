"""Writing a project streams the reconstruction batch by batch into its HDF5 datasets: the
file holds what one pass of inference gives, and saving never holds it whole."""

from __future__ import annotations

import tracemalloc

import h5py
import numpy as np
import pytest
import torch

from mmgpvae_core import api
from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.synthetic.simulate import simulate


@pytest.fixture(scope="module")
def fitted():
    data = simulate(n_trials=60, n_time=30, n_neurons=300, seed=4)
    return MMGPVAE(2, 1, 1, epochs=2, device="cpu", seed=0).fit(data.neural, data.behavior)


def test_saved_reconstruction_and_posterior_are_one_pass_of_inference(fitted, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "BATCH_VALUES", 30 * 320 * 7)  # batches of 7 trials
    with api.rng_unchanged("cpu"):  # the MLP decoder's samples: the same draws as saving's
        post, rec = fitted.infer(dtype=np.float32)
    state = torch.random.get_rng_state()
    fitted.save(tmp_path / "run.mmgp")
    assert torch.equal(torch.random.get_rng_state(), state)
    with h5py.File(tmp_path / "run.mmgp", "r") as f:
        for k, v in rec.items():
            assert f[f"reconstruction/{k}"].dtype == np.float32
            np.testing.assert_array_equal(f[f"reconstruction/{k}"][()], v)
        np.testing.assert_array_equal(f["posterior/raw_mean"][()], post["mean"].astype(np.float32))
        shown = fitted.display_latents(post)["shared"]["mean"].astype(np.float32)
        np.testing.assert_array_equal(f["posterior/shared/mean"][()], shown)


def test_saving_does_not_hold_the_reconstruction(fitted, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "BATCH_VALUES", 30 * 320 * 5)
    rec_bytes = 60 * 30 * 300 * 4
    tracemalloc.start()
    try:
        fitted.save(tmp_path / "run.mmgp")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.6 * rec_bytes, (peak, rec_bytes)


def test_reconstruction_a_few_trials_at_a_time_is_the_whole_batch_at_once(fitted, monkeypatch):
    """The reconstruction is computed in groups of trials (an MLP decoder's activations for 20
    samples of a batch would be several times the batch's data), its noise drawn for the whole
    batch in one call: the numbers of one pass over the whole batch, to float32 rounding."""
    from mmgpvae_core.model import module as module_mod
    from mmgpvae_core.model.module import select_latents

    m = fitted.module_
    y = torch.as_tensor(fitted.neural.data[:20], dtype=torch.float32)
    b = torch.as_tensor(fitted.behavior.data[:20], dtype=torch.float32)
    widest = []
    forward = type(m.dec_behavior).forward
    monkeypatch.setattr(type(m.dec_behavior), "forward",
                        lambda self, z: widest.append(z.shape[1]) or forward(self, z))
    monkeypatch.setattr(module_mod, "BLOCK_VALUES", 20 * 30 * 64 * 3)  # 3 trials' samples
    with torch.no_grad():
        post = m.posterior(y, b)
        torch.manual_seed(5)
        parts = m.reconstruct(post)
        torch.manual_seed(5)
        z = post.sample_time(20)
        whole = {"behavior": m.lik_behavior.mean(m.dec_behavior(select_latents(z, m.idx_behavior))).mean(0)}
        mean, var = m.predictor_moments("neural", post.time_mean(), post.time_var())
        whole["neural"] = m.lik_neural.predictive_mean(mean, var)
    assert max(widest[:-1]) == 3  # the decoder saw 3 trials at a time (the last call: all 20)
    for k, v in whole.items():
        torch.testing.assert_close(parts[k], v, rtol=1e-5, atol=1e-5 * float(v.abs().max()))


def test_encoding_a_batch_in_parts_gives_its_posterior(fitted, monkeypatch):
    """Within a batch the encoders read ``ENCODE_VALUES`` at a time: the same posterior."""
    whole = fitted.posterior()
    monkeypatch.setattr(api, "ENCODE_VALUES", 30 * 320 * 4)  # 4 trials at a time
    parts = fitted.posterior()
    for k in ("mean", "var"):
        np.testing.assert_allclose(parts[k], whole[k], rtol=1e-5, atol=1e-6 * np.abs(whole[k]).max())
