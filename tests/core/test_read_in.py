"""Many channels: the neural encoder's fixed PCA read-in and the Gaussian and Poisson
likelihoods' sufficient statistics give what the elementwise paths give (small C, a lowered
threshold)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.config import ModelConfig, TrainConfig
from mmgpvae_core.model import likelihoods
from mmgpvae_core.model.elbo import ENCODE_BEHAVIOR, ENCODE_BOTH, ENCODE_NEURAL, elbo_terms
from mmgpvae_core.model.likelihoods import GaussianLikelihood, PoissonLikelihood, data_product
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape, fixed_rows, is_session_own
from mmgpvae_core.synthetic.simulate import simulate
from mmgpvae_core.training import fit, hidden_channels

C, B, T, N = 40, 5, 30, 12


def _data(seed: int = 0, missing: bool = False):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(N, T, 3, generator=g).cumsum(1) * 0.2
    y = 50 + 10 * (z @ torch.randn(3, C, generator=g)) + torch.randn(N, T, C, generator=g)
    b = z @ torch.randn(3, B, generator=g) + 0.1 * torch.randn(N, T, B, generator=g)
    if missing:
        y[2, 5:9, 3:7] = float("nan")
    return y, b


def _module(y, b, **cfg) -> MMGPVAEModule:
    cfg = ModelConfig(neural_likelihood="gaussian", behavior_likelihood="gaussian",
                      read_in_above=10, read_in_components=8, **cfg)
    torch.manual_seed(0)
    m = MMGPVAEModule(cfg, ModelShape(C, B, T, 45, 5.0, 2.0))
    m.init_from_data(y, b)
    return m


def test_only_many_channels_get_a_read_in():
    y, b = _data()
    assert _module(y, b).enc_neural.n_read_in == 8
    assert _module(y, b).enc_behavior.n_read_in == 0
    small = MMGPVAEModule(ModelConfig(read_in_above=C), ModelShape(C, B, T, 45, 5.0, 2.0))
    assert small.enc_neural.n_read_in == 0 and "enc_neural.read_in" not in small.state_dict()
    assert ModelConfig.saved_dict({})["read_in_above"] == 0  # projects from before: none


def test_read_in_is_the_principal_subspace_of_low_rank_data():
    y, b = _data()
    m = _module(y, b)
    V = m.enc_neural.read_in  # (C, 8), orthonormal columns
    assert torch.allclose(V.T @ V, torch.eye(8), atol=1e-4)
    x, _ = m.enc_neural.standardized(y.reshape(-1, C))
    top = torch.linalg.svd(x, full_matrices=False).Vh[:3]
    assert float(((top @ V) ** 2).sum() / 3) > 0.99
    again = _module(y, b).enc_neural.read_in
    assert torch.equal(V, again)  # seeded: the same axes every time


def test_hidden_channels_in_the_read_in_are_the_same_as_missing_ones():
    y, b = _data(missing=True)
    enc = _module(y, b).enc_neural
    hidden = torch.zeros(N, C, dtype=torch.bool)
    hidden[1, :10] = True
    hidden[2, 20:] = True  # a trial with missing values too
    hidden[4] = True  # every channel: precision 0
    nan = torch.where(hidden.unsqueeze(1), torch.full_like(y, float("nan")), y)
    features = enc.read_in_features(y)
    with torch.no_grad():
        mean_h, prec_h = enc(y, hidden, features)
        mean_n, prec_n = enc(nan)
    assert torch.allclose(prec_h, prec_n, atol=1e-5)
    seen = torch.arange(N) != 4  # a trial with nothing seen: its mean carries no weight
    assert torch.allclose(mean_h[seen], mean_n[seen], atol=1e-5)
    assert (prec_h[4] == 0).all() and (prec_h[1] > 0).all()


def _likelihood_case(name: str):
    """(likelihood, data) of the sufficient-statistics test: a Gaussian with random noise on
    ``_data``, or Poisson counts."""
    if name == "poisson":
        g = torch.Generator().manual_seed(2)
        return PoissonLikelihood(C), torch.poisson(torch.rand(N, T, C, generator=g) * 3)
    y, _ = _data()
    lik = GaussianLikelihood(C)
    lik.init_from_data(y.reshape(-1, C), torch.zeros(C))
    with torch.no_grad():
        lik.raw_noise.uniform_(-2, 1)
    return lik, y


@pytest.mark.parametrize("chunk", [None, 2 * T * C])  # Poisson's exp term: trials 2 at a time
@pytest.mark.parametrize("name", ["gaussian", "poisson"])
def test_sufficient_statistics_equal_the_elementwise_sum(monkeypatch, name, chunk):
    if chunk:
        monkeypatch.setattr(likelihoods, "RATE_CHUNK_VALUES", chunk)
    lik, y = _likelihood_case(name)
    g = torch.Generator().manual_seed(3)
    z = (0.5 * torch.randn(N, T, 3, generator=g)).requires_grad_(True)
    v = (0.3 * torch.rand(N, T, 3, generator=g)).requires_grad_(True)
    W = (0.4 * torch.randn(C, 3, generator=g)).requires_grad_(True)
    bias = torch.randn(C, generator=g, requires_grad=True)
    stats = lik.linear_statistics(y)
    assert stats["complete"].all()
    fast = lik.expected_log_prob_linear(y, stats, z, v, W, bias)
    slow = lik.expected_log_prob(y, z @ W.T + bias, v @ (W**2).T).sum((1, 2))
    assert torch.allclose(fast, slow, rtol=1e-4)
    params = [z, v, W, bias, *lik.parameters()]
    gf = torch.autograd.grad(fast.sum(), params)
    gs = torch.autograd.grad(slow.sum(), params)
    for a, e in zip(gf, gs, strict=True):
        assert torch.allclose(a, e, rtol=1e-3, atol=1e-2 * float(e.abs().max()))


def test_data_product_gradient():
    y = torch.randn(2, 5, 7, dtype=torch.float64)
    A = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: data_product(y, a), (A,))


@pytest.mark.parametrize("missing", [False, True])
def test_elbo_with_fixed_inputs_equals_the_elbo_without(missing):
    y, b = _data(missing=missing)
    m = _module(y, b)
    fixed = m.fixed_inputs(y, b)
    assert set(fixed["features"]) == {"neural"} and set(fixed["statistics"]) == {"neural"}
    assert bool(fixed["statistics"]["neural"]["complete"].all()) is not missing
    idx = torch.tensor([0, 2, 3, 5, 7, 9])
    gen = torch.Generator().manual_seed(1)
    hidden = hidden_channels(len(idx), C, B, 0.9, gen, torch.device("cpu"))
    encoders = torch.tensor([ENCODE_BOTH, ENCODE_NEURAL, ENCODE_BEHAVIOR, ENCODE_BOTH,
                             ENCODE_BOTH, ENCODE_BOTH])
    args = (m, y[idx], b[idx], 0.7, 1, encoders, hidden)
    torch.manual_seed(5)  # the behavior decoder (MLP) samples
    a = elbo_terms(*args, fixed=fixed_rows(fixed, idx))
    torch.manual_seed(5)
    e = elbo_terms(*args)
    assert torch.allclose(a.per_trial, e.per_trial, rtol=1e-4)
    ga = torch.autograd.grad(a.loss, list(m.parameters()), allow_unused=True)
    ge = torch.autograd.grad(e.loss, list(m.parameters()), allow_unused=True)
    for x, w in zip(ga, ge):
        if w is not None:
            assert torch.allclose(x, w, rtol=1e-3, atol=1e-3 * float(w.abs().max()) + 1e-6)


def test_a_fit_with_a_read_in_learns_and_is_saved(tmp_path):
    data = simulate(n_trials=30, n_time=40, n_neurons=60, seed=2)
    model = MMGPVAE(2, 1, 1, read_in_above=20, read_in_components=12, epochs=30, seed=0,
                    device="cpu")
    model.fit(data.neural, data.behavior)
    h = model.history
    assert h.elbo[-1] > h.elbo[0]
    assert model.module_.enc_neural.n_read_in == 12
    model.save(tmp_path / "run.mmgp")
    again = MMGPVAE.load(tmp_path / "run.mmgp")
    assert torch.equal(again.module_.enc_neural.read_in, model.module_.enc_neural.read_in)
    np.testing.assert_allclose(again.transform()["shared"], model.transform()["shared"],
                               rtol=1e-5, atol=1e-6)


def test_the_read_in_belongs_to_its_session():
    assert is_session_own("enc_neural.read_in")
    assert not is_session_own("enc_behavior.net.0.weight")


def test_fit_uses_what_it_computed_once():
    y, b = _data()
    m = _module(y, b)
    calls = []
    enc = m.enc_neural
    original = enc.read_in_features
    enc.read_in_features = lambda x: calls.append(x.shape) or original(x)
    fit(m, y, b, TrainConfig(epochs=2, batch_size=4, device="cpu"))
    assert calls == [y.shape]  # once, for the whole session


def test_sessions_each_have_their_own_read_in(tmp_path):
    from mmgpvae_core.synthetic.simulate import simulate_sessions

    sims = simulate_sessions(n_neurons=(24, 8, 30), n_trials=10, n_time=30, seed=3)
    neural, behavior = [s.neural for s in sims], [s.behavior for s in sims]
    m = MMGPVAE(2, 1, 1, epochs=2, read_in_above=12, read_in_components=6, device="cpu")
    m.fit(neural, behavior, names=["a", "b", "c"])
    v = m.multi_.sessions
    assert [s.enc_neural.n_read_in for s in v] == [6, 0, 6]  # session b: 8 channels, no read-in
    assert v[2].enc_neural.net[2] is v[0].enc_neural.net[2]  # the trunk past the read-in shared
    assert v[0].enc_neural.net[0].in_features == v[2].enc_neural.net[0].in_features == 12
    assert v[1].enc_neural.net[0].in_features == 16
    assert not torch.equal(v[0].enc_neural.read_in[:24], v[2].enc_neural.read_in[:24])
    m.save(tmp_path / "s.mmgp")
    again = MMGPVAE.load(tmp_path / "s.mmgp")
    for a, e in zip(again.multi_.sessions, v):
        assert a.enc_neural.n_read_in == e.enc_neural.n_read_in
        if e.enc_neural.n_read_in:
            assert torch.equal(a.enc_neural.read_in, e.enc_neural.read_in)
    np.testing.assert_allclose(again.transform(session="c")["shared"],
                               m.transform(session="c")["shared"], rtol=1e-5, atol=1e-6)
