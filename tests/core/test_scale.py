"""Hour-long sessions in bounded memory: chunked checks, lazy suite2p traces, float32 held
once, batched continuous export, and NWB export of overlapping trials (small data only;
benchmarks/scale.py measures the real sizes)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from mmgpvae_core import data as data_mod
from mmgpvae_core.continuous import Stitcher, continuous_latents, stitch, window_starts
from mmgpvae_core.data import DataError, Dataset, check_for_likelihood, data_blocks
from mmgpvae_core.loaders import DataWarning, load_dataset, read_source
from mmgpvae_core.loaders.suite2p import Traces
from mmgpvae_core.loaders.trials import zscore_channels
from mmgpvae_core.model import encoders as enc_mod
from mmgpvae_core.model import prior as prior_mod
from mmgpvae_core.model import values as values_mod
from mmgpvae_core.model.encoders import PseudoObservationEncoder
from mmgpvae_core.model.likelihoods import choose_likelihood, make_likelihood
from mmgpvae_core.model.prior import length_scale_from_data
from mmgpvae_core.model.values import ValueSummary, nan_moments
from mmgpvae_core.synthetic.simulate import simulate


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Blocks of 7 values: every chunked pass takes many blocks, split inside trials."""
    monkeypatch.setattr(data_mod, "CHUNK_ELEMENTS", 7)
    for mod in (values_mod, enc_mod, prior_mod):
        monkeypatch.setattr(mod, "BLOCK_VALUES", 7)


def test_blocks_cover_every_value_once():
    for shape in [(5, 4, 3), (2, 50, 3), (1, 9, 1), (3, 1, 20)]:
        seen = np.zeros(shape[:2], dtype=int)
        for sl in data_blocks(shape, elements=7):
            seen[sl] += 1
        assert (seen == 1).all(), shape


def test_chunked_checks_agree_with_whole_array_ones(tiny_chunks):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 10, 3))
    x[1, 6:] = np.nan  # a shorter trial
    x[2, :, 1] = np.nan
    ds = Dataset(x.copy())
    assert ds.trial_lengths.tolist() == [10, 6, 10, 10]
    assert ds.missing_fraction == pytest.approx(np.isnan(x).mean())
    bad = x.copy()
    bad[3, 2, 0], bad[0, 9, 2] = np.inf, -np.inf
    with pytest.raises(DataError, match="2 infinite values"):
        Dataset(bad)
    big = x.copy()
    big[0, 0, 0], big[3, 9, 2] = 2e15, -5e39
    with pytest.raises(DataError, match=r"2 value\(s\) as large as 5e\+39, which overflow float32"):
        Dataset(big)
    gone = x.copy()
    gone[:, :, 2] = np.nan
    with pytest.raises(DataError, match="1 channel"):
        Dataset(gone)
    counts = np.abs(np.round(x * 3))
    counts[0, 3, 0], counts[3, 8, 1] = -1, -4
    with pytest.raises(DataError, match="2 negative values, minimum -4"):
        check_for_likelihood(Dataset(counts), "poisson")  # counted over all blocks


def test_float32_data_stay_float32_and_other_dtypes_become_float64():
    assert Dataset(np.ones((2, 3, 4), np.float32)).data.dtype == np.float32
    assert Dataset(np.ones((2, 3, 4), np.int64)).data.dtype == np.float64
    assert Dataset(np.ones((2, 3, 4), np.float16)).data.dtype == np.float64


def test_chunked_zscore_matches_numpy(tiny_chunks):
    x = np.random.default_rng(1).normal(3, 2, size=(3, 12, 4))
    x[0, 5:, 1] = np.nan
    x[:, :, 3] = 7.0  # constant: centred only
    z, mean, std = zscore_channels(x.copy())
    np.testing.assert_allclose(mean, np.nanmean(x, axis=(0, 1)))
    np.testing.assert_allclose(std[:3], np.nanstd(x, axis=(0, 1))[:3])
    np.testing.assert_allclose(np.nanmean(z, axis=(0, 1)), 0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(z, axis=(0, 1))[:3], 1)
    assert np.isnan(z[0, 5:, 1]).all() and (z[:, :, 3] == 0).all()


# ---------------------------------------------------------------------------- fit set-up by blocks
def _counts(seed=0, shape=(5, 9, 4)):
    x = np.random.default_rng(seed).poisson(2.0, shape).astype(float)
    x[1, 4:] = np.nan  # a shorter trial
    x[3, :, 2] = np.nan
    return x


def test_value_summary_by_blocks_is_the_whole_arrays(tiny_chunks):
    x = _counts()
    x[0, 3, 1], x[2, 5, 2], x[3, 1, 0] = -2.0, 0.25, 1.5
    s = ValueSummary.of(Dataset(x))
    v = x[np.isfinite(x)]
    assert (s.n, s.n_negative, s.min, s.n_non_integer) == (v.size, 1, -2.0, 2)
    assert s.first_non_integer == 0.25  # the first in C order, whatever the blocks
    assert (s.n_zero, s.n_one) == ((v == 0).sum(), (v == 1).sum())
    strided = x[:, 1::2]  # not contiguous: read trial by trial, no copy of the whole
    assert ValueSummary.of(strided) == ValueSummary.of(np.ascontiguousarray(strided))
    assert ValueSummary.of([0.0, 1.0, np.nan]).binary


#: the signal each loader kind below says it read (Dataset.signal)
SIGNAL_OF = {"suite2p": "calcium", "nwb:Units": "spikes", "deeplabcut": "pose"}
CHOICE_CASES = [  # (values, kind, modality): the automatic-choice tests' data
    (np.random.default_rng(0).poisson(3.0, (4, 10, 5)), "generic", "neural"),
    (np.random.default_rng(1).uniform(0, 5, (4, 10, 5)), "generic", "neural"),
    (-np.random.default_rng(2).poisson(3.0, (4, 10, 5)), "generic", "neural"),
    (np.random.default_rng(3).integers(0, 2, (4, 10, 5)), "generic", "neural"),
    (np.random.default_rng(3).integers(0, 2, (4, 10, 5)), "generic", "behavior"),
    (np.random.default_rng(4).poisson(200.0, (4, 10, 5)), "suite2p", "neural"),
    (np.random.default_rng(5).integers(0, 2, (4, 10, 5)), "nwb:Units", "neural"),
    (np.random.default_rng(5).integers(0, 2, (4, 10, 5)) - 0.5, "nwb:Units", "neural"),
    (np.random.default_rng(6).integers(0, 256, (4, 10, 5)), "generic", "behavior"),
    (np.random.default_rng(6).integers(0, 256, (4, 10, 5)), "deeplabcut", "behavior"),
]


def test_blockwise_choice_is_the_whole_arrays(monkeypatch):
    def choices():
        return [
            str(choose_likelihood(
                Dataset(v.astype(float), kind=k, signal=SIGNAL_OF.get(k, "")), modality=m
            ))
            for v, k, m in CHOICE_CASES
        ]

    whole = choices()  # each array is one block
    monkeypatch.setattr(values_mod, "BLOCK_VALUES", 7)
    assert choices() == whole
    # counts with one negative value in the last block: read to the end, then Gaussian
    late = np.random.default_rng(0).poisson(3.0, (4, 10, 5)).astype(float)
    late[-1, -1, -1] = -1.0
    assert str(choose_likelihood(Dataset(late))) == "gaussian (auto: negative values)"


def test_the_choice_stops_reading_once_the_rest_cannot_change_it(monkeypatch):
    monkeypatch.setattr(values_mod, "BLOCK_VALUES", 7)
    read = []
    of_block = ValueSummary.of_block.__func__
    monkeypatch.setattr(
        ValueSummary,
        "of_block",
        classmethod(lambda cls, b: read.append(b.size) or of_block(cls, b)),
    )
    f = np.random.default_rng(0).normal(100, 5, (4, 10, 5))
    assert choose_likelihood(Dataset(f, kind="suite2p", signal="calcium")).name == "gaussian"
    assert len(read) == 1  # calcium: whatever comes next, Gaussian
    read.clear()
    assert choose_likelihood(Dataset(np.ones((4, 10, 5)) * 2)).name == "poisson"
    assert sum(read) == 200  # counts: one fractional value later would make it Gaussian


def test_the_choice_and_checks_hold_a_block_not_a_copy(monkeypatch):
    monkeypatch.setattr(values_mod, "BLOCK_VALUES", 1 << 12)
    counts = np.random.default_rng(0).poisson(2.0, (40, 100, 250)).astype(np.float32)  # 4 MB
    ds = Dataset(counts)
    tracemalloc.start()
    try:
        assert choose_likelihood(ds).name == "poisson"
        check_for_likelihood(ds, "poisson")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < counts.nbytes / 8  # blocks of 4096 values; was 2.5× the data in float64


def _set_up_stats(y):
    """Every likelihood's initial parameters and the encoder's standardization of y."""
    out = {}
    for name in ("poisson", "negbinomial", "gaussian", "bernoulli"):
        lik = make_likelihood(name, y.shape[-1])
        bias = torch.zeros(y.shape[-1])
        lik.init_from_data(y.reshape(-1, y.shape[-1]), bias)
        out.update({f"{name}.{k}": v.clone() for k, v in lik.state_dict().items()})
        out[f"{name}.bias"] = bias
    for log in (False, True):
        enc = PseudoObservationEncoder(y.shape[-1], 2, (4,), log)
        enc.fit_input_stats(y)
        out[f"enc{log}.loc"], out[f"enc{log}.scale"] = enc.in_loc.clone(), enc.in_scale.clone()
    return out


def test_blockwise_set_up_statistics_match_whole_array_ones(monkeypatch):
    y = torch.as_tensor(_counts(shape=(6, 11, 4)), dtype=torch.float32)
    flat = y.reshape(-1, 4)
    mean, var = nan_moments(flat)  # one block: exactly torch's whole-array numbers
    assert torch.equal(mean, torch.nanmean(flat, dim=0))
    assert torch.equal(var, torch.nanmean((flat - mean) ** 2, dim=0))
    whole = _set_up_stats(y)
    monkeypatch.setattr(values_mod, "BLOCK_VALUES", 7)
    monkeypatch.setattr(enc_mod, "BLOCK_VALUES", 7)
    blocks = _set_up_stats(y)
    for k, v in whole.items():
        torch.testing.assert_close(blocks[k], v, rtol=1e-5, atol=1e-6, msg=k)
    gone = flat.clone()
    gone[:, 1] = np.nan
    assert torch.isnan(nan_moments(gone)[0][1])  # as torch.nanmean: NaN, no error


def _whole_array_length_scale(arrays, log_transform):
    """The estimate as it was before blocks: the autocovariance from whole-array temporaries of
    every trial (the fit to it is the module's own)."""
    T = arrays[0].shape[1]
    max_lag = max(3, T // 3)
    acs = []
    for y, log in zip(arrays, log_transform):
        x = np.log1p(np.clip(y, 0, None)) if log else np.array(y, dtype=float)
        x = np.nan_to_num(x - np.nanmean(x, axis=(0, 1), keepdims=True))
        acs.append(np.array([(x[:, : T - k] * x[:, k:]).mean() for k in range(max_lag)]))
    return prior_mod.length_scale_from_autocovariance(acs, T)


def test_length_scale_by_blocks_is_the_whole_arrays(monkeypatch):
    sim = simulate(n_trials=12, n_time=40, n_neurons=10, n_keypoints=3, seed=3)
    behavior = sim.behavior.data.copy()
    behavior[2, 30:] = np.nan
    arrays = [sim.neural.data, behavior]
    for logs in ([True, False], [False, False]):
        whole = _whole_array_length_scale(arrays, logs)
        assert length_scale_from_data(arrays, logs) == pytest.approx(whole, rel=1e-12)
        monkeypatch.setattr(prior_mod, "BLOCK_VALUES", 7)  # one trial × one channel a block
        assert length_scale_from_data(arrays, logs) == pytest.approx(whole, rel=1e-12)
        monkeypatch.setattr(prior_mod, "BLOCK_VALUES", 40 * 10 * 3)  # 3 trials a block
        assert length_scale_from_data(arrays, logs) == pytest.approx(whole, rel=1e-12)
        monkeypatch.undo()


def test_length_scale_of_a_long_session_from_a_sample_of_windows(monkeypatch):
    sim = simulate(n_trials=120, n_time=40, n_neurons=10, n_keypoints=3, seed=4)
    arrays, logs = [sim.neural.data, sim.behavior.data], [True, False]
    whole = _whole_array_length_scale(arrays, logs)
    monkeypatch.setattr(prior_mod, "SAMPLE_VALUES", 30 * 40 * 10)  # 30 of the 120 windows
    sampled = length_scale_from_data(arrays, logs)
    assert sampled == length_scale_from_data(arrays, logs)  # seeded
    assert sampled != whole and sampled == pytest.approx(whole, rel=0.15)
    assert length_scale_from_data(arrays, logs, seed=1) == pytest.approx(whole, rel=0.15)


# ---------------------------------------------------------------------------- suite2p
def _plane(root, n_roi=6, n_frames=90):
    plane = root / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    rng = np.random.default_rng(2)
    F = (200 + 20 * rng.random((n_roi, n_frames))).astype(np.float32)
    Fneu = (50 + 5 * rng.random((n_roi, n_frames))).astype(np.float32)
    spks = rng.random((n_roi, n_frames)).astype(np.float32)
    iscell = np.column_stack([np.array([1, 1, 0, 1, 1, 0]), np.linspace(0.2, 1, n_roi)])
    for name, arr in (("F", F), ("Fneu", Fneu), ("spks", spks), ("iscell", iscell)):
        np.save(plane / f"{name}.npy", arr)
    np.save(plane / "ops.npy", {"fs": 30.0})
    return plane, F, Fneu, spks


def test_suite2p_traces_are_memory_mapped_and_computed_per_chunk(tmp_path):
    plane, F, Fneu, _ = _plane(tmp_path)
    rec = read_source(plane)
    assert isinstance(rec.values, Traces)
    assert all(isinstance(a, np.memmap) for a in rec.values.arrays.values())
    keep = [0, 1, 3, 4]
    full = (F[keep] - np.float32(0.7) * Fneu[keep]).T  # what reading it whole gives
    assert rec.values.shape == full.shape and rec.values.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(rec.values), full)
    np.testing.assert_array_equal(rec.values[10:25], full[10:25])
    np.testing.assert_array_equal(rec.values[7], full[7])
    np.testing.assert_array_equal(rec.values[:, [1, 3]][5:9], full[5:9, [1, 3]])
    rows = np.array([2, 5, 30])  # it indexes as the array it stands for
    np.testing.assert_array_equal(rec.values[rows], full[rows])
    np.testing.assert_array_equal(rec.values[rows, :], full[rows, :])
    np.testing.assert_array_equal(rec.values[full[:, 0] > full[0, 0]], full[full[:, 0] > full[0, 0]])
    np.testing.assert_array_equal(rec.values[(slice(0, 9, 2),)], full[0:9:2])
    dff = read_source(plane, signal="dff", dff_percentile=10.0).values
    base = np.percentile(full, 10.0, axis=0).astype(np.float32)
    np.testing.assert_allclose(np.asarray(dff), (full - base) / base, rtol=1e-6)


def test_suite2p_bins_to_float32_that_the_fit_shares(tmp_path):
    import torch

    _plane(tmp_path)
    ds = load_dataset(tmp_path, bin_size_s=0.1, window_s=1.0)
    assert ds.data.dtype == np.float32 and ds.data.shape == (3, 10, 4)
    t = torch.as_tensor(ds.data, dtype=torch.float32)
    assert t.data_ptr() == ds.data.ctypes.data  # the model's tensor is the same memory


# ---------------------------------------------------------------------------- continuous
def test_stitching_batch_by_batch_equals_stitching_at_once():
    rng = np.random.default_rng(3)
    starts = window_starts(170, 40, 20)
    means = rng.normal(size=(len(starts), 40, 2))
    variances = rng.random((len(starts), 40, 2))
    m, v = stitch(means, variances, starts, 170)
    st = Stitcher(starts, 40, 170)
    for b in range(0, len(starts), 3):
        st.add(b, means[b : b + 3], variances[b : b + 3])
    m2, v2 = st.result()
    np.testing.assert_allclose(m2, m)
    np.testing.assert_allclose(v2, v)


@pytest.fixture(scope="module")
def session_model():
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.synthetic.simulate import simulate_session

    sim = simulate_session(n_bins=400, window_bins=20, n_neurons=12, n_keypoints=3, seed=2)
    model = MMGPVAE(1, 1, 1, epochs=3, seed=0, behavior_likelihood="gaussian", device="cpu")
    return model.fit(sim.neural, sim.behavior)


def test_continuous_latents_do_not_depend_on_the_batch(session_model):
    one = continuous_latents(session_model, batch_windows=10_000)
    done = []
    small = continuous_latents(
        session_model, batch_windows=3, on_progress=lambda d, n: done.append((d, n))
    )
    assert len(done) == 13 and done[-1] == (39, 39)  # 39 half-overlapping windows
    assert one.keys() == small.keys()
    for k in one:
        np.testing.assert_allclose(small[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_posterior_and_reconstruction_do_not_depend_on_the_batch(session_model, monkeypatch):
    from mmgpvae_core import api

    post, rec = session_model.posterior(session_model.neural), session_model.reconstruct()
    n = session_model.neural
    monkeypatch.setattr(api, "BATCH_VALUES", 3 * n.n_time * n.n_channels)  # a few trials each
    assert len(list(api._batches(n))) > 3
    small_post, small_rec = session_model.posterior(n), session_model.reconstruct()
    for k in post:
        np.testing.assert_allclose(small_post[k], post[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert small_rec.keys() == rec.keys()
    np.testing.assert_allclose(small_rec["neural"], rec["neural"], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- NWB
def test_overlapping_trials_export_to_nwb_as_per_trial_columns(tmp_path):
    pynwb = pytest.importorskip("pynwb")
    from mmgpvae_core.project.export import Latents, write_nwb

    rng = np.random.default_rng(4)
    n, T = 3, 10
    data = rng.poisson(2.0, size=(n, T, 4)).astype(float)
    data[2, 7:] = np.nan  # a shorter trial
    # Peri-event windows: trial 1 (2-2.2 s) starts inside trial 0 (1.9-2.1 s).
    start, stop = [1.9, 2.0, 5.0], [2.1, 2.2, 5.14]
    neural = Dataset(
        data, bin_size_s=0.02, source="events.nwb", conditions=np.array(["a", "b", "a"]),
        preprocessing={"trials": {"source": "events.csv", "start_s": start, "stop_s": stop}},
    )
    arrays = {}
    for name, d in (("shared", 2), ("private_neural", 1), ("private_behavior", 0)):
        arrays[name] = rng.normal(size=(n, T, d))
        arrays[f"{name}_var"] = rng.random((n, T, d))
        arrays[name][2, 7:] = arrays[f"{name}_var"][2, 7:] = np.nan
    arrays["conditions"] = neural.conditions
    arrays["bin_size_s"] = np.asarray(0.02)
    out = tmp_path / "lat.nwb"
    with pytest.warns(DataWarning, match=r"trials 1 \(1.9-2.1 s\) and 2 \(2-2.2 s\) overlap"):
        write_nwb(Latents(arrays, neural, None, {}), out)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        assert len(nwb.processing["mmgpvae"].data_interfaces) == 0  # no non-ascending series
        trials = nwb.trials
        assert trials["start_time"].data[:].tolist() == start
        assert trials["trial_index"].data[:].tolist() == [0, 1, 2]
        for key in ("shared", "shared_var", "private_neural", "private_neural_var"):
            np.testing.assert_array_equal(trials[key].data[:], arrays[key], err_msg=key)
        assert "private_behavior" not in trials.colnames  # no dimension, no column
