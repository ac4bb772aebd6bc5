"""The CUDA path (``pytest -m gpu``; skipped without a CUDA device): a fit keeps the training
data in CPU memory and moves each mini-batch through a pinned buffer; fit, save, reload and
the continuous export run on the GPU, with a PCA read-in and the Gaussian statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core import training
from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.continuous import continuous_latents
from mmgpvae_core.data import Dataset
from mmgpvae_core.model.module import is_session_own
from mmgpvae_core.model.sessions import PRECISION_SCALES
from mmgpvae_core.project.export import export_continuous

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def _windows(x: np.ndarray, bins: int, rate: float) -> Dataset:
    """A continuous (bins, channels) recording cut into consecutive windows."""
    n = x.shape[0] // bins
    return Dataset(
        data=x[: n * bins].reshape(n, bins, x.shape[1]).astype(np.float32),
        bin_size_s=1 / rate,
        preprocessing={"trials": {"source": "windows", "span_s": [0.0, n * bins / rate]}},
    )


@pytest.fixture(scope="module")
def session():
    rng = np.random.default_rng(0)
    t = np.arange(6000) / 30.0
    z = np.stack([np.sin(2 * np.pi * f * t) for f in (0.1, 0.23, 0.37)], 1)
    neural = z @ rng.normal(size=(3, 80)) + 0.3 * rng.normal(size=(6000, 80))
    pose = z @ rng.normal(size=(3, 6)) + 0.05 * rng.normal(size=(6000, 6))
    return _windows(neural, 60, 30.0), _windows(pose, 60, 30.0), z


def test_a_cuda_fit_moves_the_data_by_batch(session, monkeypatch):
    neural, behavior, _ = session
    seen = []
    real = training.fit

    def spy(model, n, b, *args, **kw):
        seen.append((n.device.type, n.is_pinned(), next(model.parameters()).device.type))
        return real(model, n, b, *args, **kw)

    monkeypatch.setattr("mmgpvae_core.api.fit", spy)
    m = MMGPVAE(2, 1, 1, neural_likelihood="gaussian", behavior_likelihood="gaussian",
                read_in_above=40, read_in_components=16, epochs=5, device="cuda")
    m.fit(neural, behavior)
    assert seen == [("cpu", False, "cuda")]  # the data stay where they were
    assert m.module_.enc_neural.n_read_in == 16
    assert np.isfinite(m.history.elbo).all() and m.history.elbo[-1] > m.history.elbo[0]


def test_fit_save_reload_and_export_on_cuda(session, tmp_path):
    neural, behavior, z = session
    m = MMGPVAE(2, 1, 1, neural_likelihood="gaussian", behavior_likelihood="gaussian",
                read_in_above=40, read_in_components=16, epochs=40, device="cuda")
    m.fit(neural, behavior)
    m.save(tmp_path / "run.mmgp")
    again = MMGPVAE.load(tmp_path / "run.mmgp")
    assert next(again.module_.parameters()).device.type == "cuda"
    out = export_continuous(tmp_path / "run.mmgp", tmp_path / "lat.npz")
    with np.load(out) as f:
        assert f["shared"].shape == (neural.n_trials * neural.n_time, 2)
    cpu = MMGPVAE.load(tmp_path / "run.mmgp", device="cpu")
    a, b = continuous_latents(again), continuous_latents(cpu)
    np.testing.assert_allclose(a["shared"], b["shared"], rtol=1e-3, atol=1e-3)


def test_sessions_fit_join_save_and_reopen_on_cuda(tmp_path):
    """Several sessions on CUDA: one fit of two, a third joining it (``--from``: the carried
    read-in, the precision scale's folds, the shared parts frozen), saved and reopened on
    the GPU and on the CPU with the same latents."""
    from mmgpvae_core.synthetic.simulate import simulate_sessions

    sims = simulate_sessions(n_neurons=(12, 18, 15), n_trials=10, n_time=30, seed=3)
    run = MMGPVAE(2, 1, 1, epochs=5, device="cuda").fit(
        [s.neural for s in sims[:2]], [s.behavior for s in sims[:2]], names=["a", "b"])
    shared = {k: v.clone() for k, v in run.module_.state_dict().items()}
    new = run.add_sessions([sims[2].neural], [sims[2].behavior], ["c"], epochs=3)
    view = new.multi_.sessions[0]
    assert next(view.parameters()).device.type == "cuda"
    assert float(view.neural_precision) in PRECISION_SCALES
    for k, v in new.module_.state_dict().items():
        if k in shared and not is_session_own(k):
            assert torch.equal(v, shared[k]), k
    new.save(tmp_path / "new.mmgp")
    gpu, cpu = (MMGPVAE.load(tmp_path / "new.mmgp", device=d) for d in ("cuda", "cpu"))
    a, b = gpu.transform(session="c")["shared"], cpu.transform(session="c")["shared"]
    assert a.shape == (10, 30, 2)
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
