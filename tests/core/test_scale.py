"""Hour-long sessions in bounded memory: chunked checks, lazy suite2p traces, float32 held
once, batched continuous export, and NWB export of overlapping trials (small data only;
benchmarks/scale.py measures the real sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core import data as data_mod
from mmgpvae_core.continuous import Stitcher, continuous_latents, stitch, window_starts
from mmgpvae_core.data import DataError, Dataset, check_for_likelihood, data_blocks
from mmgpvae_core.loaders import DataWarning, load_dataset, read_source
from mmgpvae_core.loaders.suite2p import Traces
from mmgpvae_core.loaders.trials import zscore_channels


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Blocks of 7 values: every chunked pass takes many blocks, split inside trials."""
    monkeypatch.setattr(data_mod, "CHUNK_ELEMENTS", 7)


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
    from mmgpvae_core.simulate import simulate_session

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
    from mmgpvae_core.export import Latents, write_nwb

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
