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
