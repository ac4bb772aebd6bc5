"""SLEAP analysis files (h5py, the layout SLEAP writes), MATLAB v5 (scipy) and v7.3 (h5py),
CSV of time + columns, and generic NPY/NPZ/HDF5 recordings and trial tensors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import inspect_file, load_dataset, load_pair, read_source

N = 120  # frames


def write_sleap(path, n_tracks=1, fps=None):
    """tracks stored (tracks, 2, nodes, frames), as SLEAP's analysis export does."""
    nodes = [b"head", b"thorax", b"abdomen"]
    locs = np.empty((N, len(nodes), 2, n_tracks))  # what users see after tracks[:].T
    for t in range(n_tracks):
        for k in range(len(nodes)):
            locs[:, k, 0, t] = np.arange(N) + 100 * k + 1000 * t
            locs[:, k, 1, t] = -locs[:, k, 0, t]
    locs[5:10, 1, :, 0] = np.nan  # thorax lost for 5 frames
    with h5py.File(path, "w") as f:
        f.create_dataset("tracks", data=locs.T)
        f.create_dataset("node_names", data=nodes)
        f.create_dataset("track_names", data=[f"fly{t}".encode() for t in range(n_tracks)])
        f.create_dataset("track_occupancy", data=np.ones((N, n_tracks), dtype=np.uint8))
        if fps:
            f.attrs["fps"] = fps
    return path


def test_sleap_transposed_layout_and_missing(tmp_path):
    path = write_sleap(tmp_path / "flies.analysis.h5")
    rec = read_source(path)
    assert rec.kind == "sleap"
    assert rec.channel_names == [
        "head_x",
        "head_y",
        "thorax_x",
        "thorax_y",
        "abdomen_x",
        "abdomen_y",
    ]
    np.testing.assert_allclose(rec.values[:, 4], np.arange(N) + 200)
    assert np.isnan(rec.values[5:10, 2:4]).all() and not np.isnan(rec.values[:5]).any()
    ds = load_dataset(path, rate_hz=60.0, bin_size_s=0.05)  # 3 frames a bin
    np.testing.assert_allclose(ds.data[0, 1, 2], 100 + 3.5)  # frames 3, 4 seen, 5 missing
    assert inspect_file(path, rate_hz=60.0)["missing_fraction"] == round(10 / (N * 6), 4)


def test_sleap_multi_track_with_fps(tmp_path):
    path = write_sleap(tmp_path / "two.h5", n_tracks=2, fps=30.0)
    rec = read_source(path)
    assert rec.rate_hz == 30.0 and rec.rate_from == "fps"
    assert rec.channel_names[6:8] == ["fly1_head_x", "fly1_head_y"]
    np.testing.assert_allclose(rec.values[:, 6], np.arange(N) + 1000)
    with pytest.raises(DataError, match="file says 30 Hz but --rate says 60 Hz"):
        load_dataset(path, rate_hz=60.0)


def test_matlab_v5_recording_and_spikes(tmp_path):
    path = tmp_path / "sess.mat"
    data = np.arange(200, dtype=float).reshape(100, 2)
    scipy.io.savemat(
        path, {"data": data, "fs": 50.0, "channel_names": np.array(["lick", "run"], dtype=object)}
    )
    ds = load_dataset(path, bin_size_s=0.1)
    assert ds.channel_names == ["lick", "run"] and ds.data.shape == (1, 20, 2)
    np.testing.assert_allclose(ds.data[0, 0], [4.0, 5.0])  # mean of rows 0-4
    spk = tmp_path / "spikes.mat"
    cells = np.empty((2,), dtype=object)
    cells[0] = np.array([0.05, 0.15, 0.17])
    cells[1] = np.array([0.9])
    scipy.io.savemat(spk, {"spike_times": cells})
    counts = load_dataset(spk, bin_size_s=0.1)
    assert counts.channel_names == ["unit0", "unit1"]
    np.testing.assert_array_equal(counts.data[0, :2, 0], [1, 2])


def test_matlab_v73_is_transposed(tmp_path):
    path = tmp_path / "tensor.mat"
    tensor = np.random.default_rng(0).random((3, 5, 2))  # (trials, time, channels) in MATLAB
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("data", data=tensor.T)  # MATLAB writes column-major
        f.create_dataset("bin_size_s", data=np.array([[0.02]]))
        f.create_dataset("conditions", data=np.array([[1.0, 2.0, 1.0]]))
    ds = load_dataset(path)
    assert ds.data.shape == (3, 5, 2) and ds.bin_size_s == 0.02
    np.testing.assert_allclose(ds.data, tensor)
    np.testing.assert_array_equal(ds.conditions, [1, 2, 1])


def test_matlab_without_data(tmp_path):
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, {"a": np.ones((2, 2)), "b": np.ones((3, 3))})
    with pytest.raises(DataError) as e:
        load_dataset(path)
    assert str(e.value).startswith(f"{path}: field 'data': not found; the file has a (2, 2), b (3, 3)")


def test_csv_time_columns_irregular_and_aligned(tmp_path):
    path = tmp_path / "stim.csv"
    t = np.array([0.0, 0.1, 0.2, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    rows = "".join(f"{a},{a * 10},{'' if i == 2 else i}\n" for i, a in enumerate(t))
    path.write_text("time,contrast,phase\n" + rows)
    rec = read_source(path)
    assert rec.timestamps is not None and rec.channel_names == ["contrast", "phase"]
    ds = load_dataset(path, bin_size_s=0.2, window_s=1.0)
    assert ds.data.shape == (1, 5, 2)
    np.testing.assert_allclose(ds.data[0, :, 0], [0.5, 2.75, 4.5, 6.5, 8.5])
    np.testing.assert_allclose(ds.data[0, 1, 1], 3.0)  # row 2 (0.2 s) is empty = missing


def test_generic_recording_and_tensor(tmp_path):
    npz = tmp_path / "counts.npz"
    np.savez(npz, data=np.ones((400, 3)), rate_hz=100.0)
    h5 = tmp_path / "tensor.h5"
    with h5py.File(h5, "w") as f:
        f["data"] = np.zeros((4, 10, 2))
        f.attrs["bin_size_s"] = 0.05
    npy = tmp_path / "pose.npy"
    np.save(npy, np.arange(800, dtype=float).reshape(400, 2))
    neural, behavior = load_pair(npz, npy, behavior_rate_hz=100.0, bin_size_s=0.05)
    assert neural.data.shape == (1, 80, 3) and behavior.data.shape == (1, 80, 2)
    np.testing.assert_allclose(behavior.data[0, 0], [4.0, 5.0])
    ds = load_dataset(h5)
    assert ds.kind == "generic" and ds.data.shape == (4, 10, 2)
    with pytest.raises(DataError, match="continuous recording, but the other modality is a trial"):
        load_pair(h5, npy, behavior_rate_hz=100.0)


def test_all_missing_channel_dropped_and_recorded(tmp_path):
    path = tmp_path / "rec.npz"
    data = np.ones((100, 3))
    data[:, 1] = np.nan
    np.savez(path, data=data, rate_hz=10.0, channel_names=np.array(["a", "b", "c"]))
    ds = load_dataset(path)
    assert ds.channel_names == ["a", "c"]
    assert ds.preprocessing["dropped_channels"] == ["b"]
    with pytest.raises(DataError, match="entirely missing"):
        load_dataset(path, drop_missing_channels=False)


def test_a_constant_channel_is_dropped_and_recorded(tmp_path):
    path = tmp_path / "rec.npz"
    data = np.random.default_rng(0).normal(size=(100, 3))
    data[:, 0] = 0.0  # e.g. the z of a planar task
    data[:5, 2], data[5:, 2] = np.nan, 2.5  # constant where observed
    np.savez(path, data=data, rate_hz=10.0, channel_names=np.array(["a", "b", "c"]))
    ds = load_dataset(path, drop_constant_channels=True)  # load_pair's default for behavior
    assert ds.channel_names == ["b"] and ds.preprocessing["dropped_channels"] == ["a", "c"]
    assert load_dataset(path).channel_names == ["a", "b", "c"]  # neural: a silent unit stays
