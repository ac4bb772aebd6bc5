"""Generic trial-tensor files and the errors users see for bad ones."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mmgpvae_core.data import DataError, Dataset, check_for_likelihood, check_pair
from mmgpvae_core.loaders.generic import load_generic, save_generic


def _write_h5(path, **arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return path


def test_round_trip_generic_h5_and_npz(tmp_path, rng):
    data = rng.poisson(2.0, (5, 12, 3)).astype(float)
    data[1, 10:] = np.nan  # a shorter trial
    ds = Dataset(data, conditions=np.array(["a", "b", "a", "c", "b"]), channel_names=["x", "y", "z"],
                 bin_size_s=0.05)
    save_generic(tmp_path / "d.h5", ds)
    back = load_generic(tmp_path / "d.h5")
    np.testing.assert_array_equal(back.data, data)
    assert back.channel_names == ["x", "y", "z"]
    assert list(back.conditions) == ["a", "b", "a", "c", "b"]
    assert back.bin_size_s == 0.05
    assert back.trial_lengths.tolist() == [12, 10, 12, 12, 12]
    np.savez(tmp_path / "d.npz", data=data, conditions=np.arange(5), bin_size_s=0.05)
    z = load_generic(tmp_path / "d.npz")
    assert z.data.shape == (5, 12, 3) and z.bin_size_s == 0.05
    np.save(tmp_path / "d.npy", data)
    assert load_generic(tmp_path / "d.npy").data.shape == (5, 12, 3)


def test_lfads_layout(tmp_path, rng):
    p = _write_h5(tmp_path / "lfads.h5", train_encod_data=rng.random((4, 10, 3)),
                  valid_encod_data=rng.random((2, 10, 3)))
    assert load_generic(p).n_trials == 6


def test_missing_data_field_names_file_and_field(tmp_path, rng):
    p = _write_h5(tmp_path / "nodata.h5", spikes=rng.random((3, 4, 5)))
    with pytest.raises(DataError) as e:
        load_generic(p)
    msg = str(e.value)
    assert "nodata.h5" in msg and "'data'" in msg and "spikes" in msg


def test_wrong_rank(tmp_path, rng):
    p = _write_h5(tmp_path / "flat.h5", data=rng.random((30, 5)))
    with pytest.raises(DataError, match=r"flat\.h5.*'data'.*3-D.*\(30, 5\)"):
        load_generic(p)


def test_not_hdf5(tmp_path):
    p = tmp_path / "junk.h5"
    p.write_bytes(b"this is not hdf5")
    with pytest.raises(DataError, match=r"junk\.h5.*not a readable HDF5"):
        load_generic(p)


def test_trial_counts_differ():
    a = Dataset(np.zeros((4, 10, 2)), source="n.h5")
    b = Dataset(np.zeros((5, 10, 2)), source="b.h5")
    with pytest.raises(DataError, match=r"b\.h5.*5 trials.*n\.h5.*4"):
        check_pair(a, b)


def test_all_nan_channel(rng):
    x = rng.random((3, 8, 4))
    x[:, :, 2] = np.nan
    with pytest.raises(DataError, match=r"s\.h5.*'data'.*1 channel.*entirely missing.*ch2"):
        Dataset(x, source="s.h5")


def test_poisson_rejects_negative_and_non_integer():
    with pytest.raises(DataError, match=r"c\.h5.*negative.*Poisson"):
        check_for_likelihood(Dataset(np.full((2, 3, 1), -1.0), source="c.h5"), "poisson")
    with pytest.raises(DataError, match=r"c\.h5.*non-integer value 0\.5.*Poisson"):
        check_for_likelihood(Dataset(np.full((2, 3, 1), 0.5), source="c.h5"), "poisson")
    check_for_likelihood(Dataset(np.full((2, 3, 1), 0.5), source="c.h5"), "gaussian")


def test_non_finite_values(tmp_path):
    x = np.zeros((2, 3, 2))
    x[0, 1, 1] = np.inf
    p = _write_h5(tmp_path / "inf.h5", data=x)
    with pytest.raises(DataError, match=r"inf\.h5.*'data'.*1 infinite"):
        load_generic(p)


def test_conditions_length_mismatch(tmp_path, rng):
    p = _write_h5(tmp_path / "c.h5", data=rng.random((3, 4, 2)), conditions=np.arange(4))
    with pytest.raises(DataError, match=r"c\.h5.*'conditions'.*\(3,\)"):
        load_generic(p)
