"""suite2p plane folders written with numpy, read back through the loaders."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import DataWarning, inspect_file, load_dataset

FS = 30.0
N_ROI, N_FRAMES = 5, 300  # 10 s at 30 Hz


def write_plane(root, fs=FS, settings=False):
    plane = root / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    frames = np.arange(N_FRAMES, dtype=np.float32)
    F = 100 + 10 * np.arange(N_ROI, dtype=np.float32)[:, None] + frames[None, :]
    Fneu = np.full_like(F, 20.0)
    spks = np.zeros_like(F)
    spks[:, ::3] = 1.0
    iscell = np.array([[1, 0.9], [1, 0.6], [0, 0.4], [1, 0.95], [0, 0.55]])
    for name, arr in (("F", F), ("Fneu", Fneu), ("spks", spks), ("iscell", iscell)):
        np.save(plane / f"{name}.npy", arr)
    np.save(plane / ("settings.npy" if settings else "ops.npy"), {"fs": fs, "nplanes": 1})
    return plane


def test_neuropil_signal_binned_to_the_sample(tmp_path):
    write_plane(tmp_path)
    trials = tmp_path / "trials.csv"
    trials.write_text("start_time,stop_time,condition\n1.0,2.0,a\n3.01,3.5,b\n")
    ds = load_dataset(tmp_path, trials=trials, bin_size_s=0.1)
    assert ds.kind == "suite2p"
    assert ds.channel_names == ["roi0", "roi1", "roi3"]  # iscell label filter
    assert ds.data.shape == (2, 10, 3)
    assert list(ds.conditions) == ["a", "b"]
    # trial 1, bin 0 = frames 30, 31, 32; signal = F - 0.7 * 20
    expect = 100 + np.array([0, 10, 30]) + 31 - 14
    np.testing.assert_allclose(ds.data[0, 0], expect, rtol=1e-6)
    # trial 2 starts at 3.01 s: first frame at or after is 91 (3.0333 s); bin 0 = frames 91-93
    np.testing.assert_allclose(ds.data[1, 0], 100 + np.array([0, 10, 30]) + 92 - 14, rtol=1e-6)
    # 0.49 s is 4 full bins; the rest is padding, masked as NaN
    assert np.isnan(ds.data[1, 4:]).all() and not np.isnan(ds.data[1, :4]).any()
    assert list(ds.trial_lengths) == [10, 4]
    assert ds.preprocessing["signal"] == "neuropil"
    assert ds.preprocessing["neuropil_coefficient"] == 0.7
    assert ds.preprocessing["roi_selection"] == "iscell label == 1"


def test_probability_threshold_spks_and_dff(tmp_path):
    write_plane(tmp_path, settings=True)
    plane = tmp_path / "suite2p" / "plane0"
    ds = load_dataset(plane, signal="spks", iscell_threshold=0.5, bin_size_s=0.1)
    assert ds.channel_names == ["roi0", "roi1", "roi3", "roi4"]
    assert ds.data.shape == (1, 100, 4)  # 10 s is one 10-s window
    np.testing.assert_allclose(ds.data[0, :, 0], 1 / 3)  # a spike every 3rd frame
    dff = load_dataset(plane, signal="dff", dff_percentile=0.0, use_iscell=False)
    assert dff.bin_size_s == pytest.approx(1 / FS)
    base = 100 - 14 + 10 * np.arange(N_ROI)  # the minimum over time (frame 0)
    np.testing.assert_allclose(dff.data[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(dff.data[0, 299], 299 / base, rtol=1e-5)
    assert dff.preprocessing["dff_baseline_percentile"] == 0.0


def test_zscore_recorded(tmp_path):
    write_plane(tmp_path)
    ds = load_dataset(tmp_path, zscore=True, bin_size_s=0.5)
    assert ds.data.dtype == np.float32  # suite2p's dtype, the model's: held once
    np.testing.assert_allclose(np.nanmean(ds.data, axis=(0, 1)), 0, atol=1e-6)
    np.testing.assert_allclose(np.nanstd(ds.data, axis=(0, 1)), 1, atol=1e-6)
    assert len(ds.preprocessing["zscore"]["mean"]) == 3


def test_inspect(tmp_path):
    write_plane(tmp_path)
    info = inspect_file(tmp_path)
    assert info["kind"] == "suite2p"
    assert info["shape"] == [N_FRAMES, 3]
    assert info["rate_hz"] == FS and info["rate_from"] == "ops.fs"
    assert info["missing_fraction"] == 0.0


def test_folder_that_is_not_suite2p(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError) as e:
        load_dataset(tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "field 'F.npy'" in msg
    assert "not a suite2p output folder (found ['notes.txt'])" in msg


def test_missing_file_and_contradicting_rate(tmp_path):
    plane = write_plane(tmp_path)
    with pytest.raises(DataError, match=r"ops\.fs'.*file says 30 Hz but --rate says 20 Hz"):
        load_dataset(tmp_path, rate_hz=20.0)
    (plane / "Fneu.npy").unlink()
    with pytest.raises(DataError, match=r"plane0: field 'Fneu': \['Fneu.npy'\] missing"):
        load_dataset(tmp_path)


def test_dff_drops_cells_without_a_positive_baseline(tmp_path):
    """Real suite2p output has cells whose F - 0.7*Fneu sits at or under zero: ΔF/F drops them,
    says so in one warning, and reads the rest of the plane."""
    plane = write_plane(tmp_path)
    fneu = np.load(plane / "Fneu.npy")
    fneu[1] = 1000.0  # roi1: F - 0.7*Fneu < 0 throughout
    np.save(plane / "Fneu.npy", fneu)
    with pytest.warns(DataWarning) as caught:
        ds = load_dataset(plane, signal="dff")
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert msg.startswith(f"{plane / 'F.npy'}: field 'F': 1 of 3 ROI(s) dropped from ΔF/F")
    assert "roi1 (" in msg
    assert ds.channel_names == ["roi0", "roi3"]
    assert ds.preprocessing["dff_dropped_rois"] == [1]
    assert ds.preprocessing["rois_kept"] == 2
    fneu[:] = 1000.0
    np.save(plane / "Fneu.npy", fneu)
    with pytest.raises(DataError, match=r"not positive for any of the 3 ROI\(s\)"):
        load_dataset(plane, signal="dff")
