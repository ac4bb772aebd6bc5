"""Naming the arrays to read in MAT (v5, v7.3), NPZ and HDF5 files that hold several, joining
them as channels, and reading a MATLAB (channels × time) matrix the right way round."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from mmgpvae_core.cli import main
from mmgpvae_core.cli.common import add_data_arguments, load_data
from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import (
    AxisChoiceError,
    FieldChoiceError,
    inspect_file,
    list_arrays,
    load_dataset,
    load_pair,
    read_source,
)

S1 = (
    Path(__file__).resolve().parents[2].parent
    / "shared" / "real-samples" / "paired" / "s1_area2_reaching.mat"
)
needs_s1 = pytest.mark.skipif(not S1.is_file(), reason="shared/real-samples/paired is absent")
T = 300  # samples


def _session(seed=0):
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(2.0, (T, 7)).astype(np.uint8)
    pos = rng.normal(size=(T, 2))
    vel = rng.normal(size=(T, 2))
    return spikes, pos, vel


def _write_v73(path, **variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 after a 512-byte user block, arrays stored
    column-major (so h5py sees them transposed), each with its MATLAB_class."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            value = np.asarray(value)
            f.create_dataset(name, data=value.T)
            cls = "uint8" if value.dtype == np.uint8 else "double"
            f[name].attrs["MATLAB_class"] = np.bytes_(cls)
    return path


def test_mat_v5_fields_are_named_and_joined_as_channels(tmp_path):
    spikes, pos, vel = _session()
    path = tmp_path / "s.mat"
    scipy.io.savemat(path, {"spikes": spikes, "pos": pos, "vel": vel})
    neural = read_source(path, field="spikes")
    assert neural.values.shape == (T, 7) and neural.field == "spikes"
    np.testing.assert_array_equal(neural.values, spikes)
    behavior = read_source(path, field="pos,vel")
    assert behavior.channel_names == ["pos_x", "pos_y", "vel_x", "vel_y"]
    np.testing.assert_allclose(behavior.values, np.hstack([pos, vel]))
    assert behavior.field == "pos,vel"


def test_mat_v73_fields_are_named_and_read_in_matlab_order(tmp_path):
    spikes, pos, vel = _session(1)
    path = _write_v73(tmp_path / "s73.mat", spikes=spikes, pos=pos, vel=vel)
    assert list_arrays(path) == {"spikes": (T, 7), "pos": (T, 2), "vel": (T, 2)}
    np.testing.assert_array_equal(read_source(path, field="spikes").values, spikes)
    both = read_source(path, field=["vel", "pos"])
    np.testing.assert_allclose(both.values, np.hstack([vel, pos]))
    assert both.channel_names == ["vel_x", "vel_y", "pos_x", "pos_y"]


def test_npz_and_hdf5_fields_recordings_and_tensors(tmp_path):
    spikes, pos, vel = _session(2)
    npz = tmp_path / "s.npz"
    np.savez(npz, spikes=spikes, pos=pos, speed=np.linalg.norm(vel, axis=1), rate_hz=100.0)
    rec = read_source(npz, field="pos,speed")
    assert rec.channel_names == ["pos_x", "pos_y", "speed"] and rec.rate_hz == 100.0
    np.testing.assert_allclose(rec.values[:, 2], np.linalg.norm(vel, axis=1))
    h5 = tmp_path / "s.h5"
    rng = np.random.default_rng(3)
    a, b = rng.random((4, 10, 3)), rng.random((4, 10, 5))
    with h5py.File(h5, "w") as f:
        f["counts"] = spikes
        f.create_group("tensors")
        f["tensors/a"], f["tensors/b"] = a, b
        f.attrs["bin_size_s"] = 0.02
    ds = load_dataset(h5, field="tensors/a,tensors/b")
    assert ds.data.shape == (4, 10, 8) and ds.bin_size_s == 0.02
    np.testing.assert_allclose(ds.data[..., 3:], b)
    assert ds.channel_names[2:4] == ["tensors/a_z", "tensors/b_0"]  # 3 columns: x, y, z
    np.testing.assert_array_equal(read_source(h5, field="counts").values, spikes)


def test_several_arrays_and_no_data_lists_them_and_names_the_option(tmp_path):
    spikes, pos, _ = _session()
    mat, npz = tmp_path / "s.mat", tmp_path / "s.npz"
    scipy.io.savemat(mat, {"spikes": spikes, "pos": pos})
    np.savez(npz, spikes=spikes, pos=pos)
    for path in (mat, npz):
        with pytest.raises(FieldChoiceError) as e:
            load_pair(path, None, neural_rate_hz=20.0)
        msg = str(e.value)
        assert "pos (300, 2)" in msg and "spikes (300, 7)" in msg, msg
        assert "--neural-field NAME" in msg and "--neural-field A,B" in msg, msg
        with pytest.raises(FieldChoiceError, match="--behavior-field NAME"):
            load_pair(npz, path, neural_rate_hz=20.0, behavior_rate_hz=20.0,
                      neural_options={"field": "spikes"})


def test_a_wrong_name_lists_what_the_file_has(tmp_path):
    spikes, pos, vel = _session()
    path = tmp_path / "s.mat"
    scipy.io.savemat(path, {"spikes": spikes, "pos": pos, "vel": vel})
    with pytest.raises(DataError) as e:
        read_source(path, field="pos,velocity", role="behavior")
    msg = str(e.value)
    assert msg.startswith(f"{path}: field 'velocity': no such array; the file has ")
    assert "spikes (300, 7)" in msg and "vel (300, 2)" in msg and "--behavior-field" in msg
    with pytest.raises(DataError, match=r"field 'nope': no such array; .*counts \(300, 7\)"):
        np.savez(tmp_path / "c.npz", counts=spikes)
        read_source(tmp_path / "c.npz", field="nope")


def test_channels_by_time_matrix_is_turned_by_a_time_vector(tmp_path):
    spikes, _, _ = _session()
    wide = spikes[:40].T  # 7 units × 40 samples: wider than tall
    path = tmp_path / "wide.mat"
    scipy.io.savemat(path, {"spikes": wide, "time": np.arange(40)[None] / 20.0})
    rec = read_source(path, field="spikes")
    assert rec.values.shape == (40, 7)
    np.testing.assert_array_equal(rec.values, spikes[:40])
    # no field named: the only matrix besides the time vector is read
    assert read_source(path).values.shape == (40, 7)
    # a long recording stored (channels × time) in v7.3, with 'timestamps'
    v73 = _write_v73(tmp_path / "wide73.mat", spikes=spikes.T, timestamps=np.arange(T) / 20.0)
    np.testing.assert_array_equal(read_source(v73, field="spikes").values, spikes)


def test_an_evenly_stepped_time_vector_tells_the_rate(tmp_path, capsys):
    """The motor-cortex file of issue 20 (spikes, handPos, handVel as channels × time, a 'time'
    vector in ms-rounded 50 ms steps, handPos/handVel with a third row of zeros): read with no
    rate option, the constant rows left out and named."""
    spikes, pos, vel = _session()
    t = np.round(12.591 + np.arange(T) * 0.05 + np.random.default_rng(1).normal(0, 1e-4, T), 3)
    flat = np.zeros((T, 1))
    path = tmp_path / "m1.mat"
    scipy.io.savemat(path, {"spikes": spikes.T, "handPos": np.hstack([pos, flat]).T,
                            "handVel": np.hstack([vel, flat]).T, "time": t[None]})
    rec = read_source(path, field="spikes")
    assert rec.rate_hz == pytest.approx(20.0, rel=1e-3) and rec.rate_from == "time vector 'time'"
    for fmt in ("npz", "h5"):  # NPZ and HDF5 files tell it the same way
        other = tmp_path / f"m1.{fmt}"
        if fmt == "npz":
            np.savez(other, spikes=spikes, time=t)
        else:
            with h5py.File(other, "w") as f:
                f["spikes"], f["time"] = spikes, t
        assert read_source(other, field="spikes").rate_hz == pytest.approx(20.0, rel=1e-3)
    gap = t.copy()
    gap[100:] += 0.05  # a dropped sample: the steps are not even, no rate is guessed
    scipy.io.savemat(path, {"spikes": spikes.T, "time": gap[None]})
    assert read_source(path, field="spikes").rate_hz is None

    scipy.io.savemat(path, {"spikes": spikes.T, "handPos": np.hstack([pos, flat]).T,
                            "handVel": np.hstack([vel, flat]).T, "time": t[None]})
    p = argparse.ArgumentParser()
    add_data_arguments(p)
    a = p.parse_args(["--neural", str(path), "--neural-field", "spikes", "--behavior", str(path),
                      "--behavior-field", "handPos,handVel", "--window", "5"])
    neural, behavior = load_data(a)
    assert neural.bin_size_s == pytest.approx(0.05, rel=1e-3) and neural.n_time == 100
    assert behavior.channel_names == ["handPos_x", "handPos_y", "handVel_x", "handVel_y"]
    assert behavior.preprocessing["dropped_channels"] == ["handPos_z", "handVel_z"]
    assert "left out 2 channel(s) entirely missing or constant" in capsys.readouterr().err


def test_channels_by_time_matrix_is_turned_by_the_other_modality(tmp_path):
    spikes, pos, _ = _session()
    neural = tmp_path / "neural.mat"
    scipy.io.savemat(neural, {"spikes": spikes.T})  # 7 × 300, no time vector
    behavior = tmp_path / "pose.npz"
    np.savez(behavior, pos=pos)
    n, b = load_pair(neural, behavior, neural_rate_hz=20.0, behavior_rate_hz=20.0,
                     neural_options={"field": "spikes"}, behavior_options={"field": "pos"},
                     window_s=5.0)
    assert n.n_channels == 7 and b.n_channels == 2 and n.n_trials == 3
    np.testing.assert_array_equal(n.data[0], spikes[:100])


def test_channels_by_time_matrix_with_nothing_to_tell_is_refused_with_how_to_choose(tmp_path):
    spikes, _, _ = _session()
    path = tmp_path / "wide.mat"
    scipy.io.savemat(path, {"spikes": spikes.T, "pos": np.zeros((5, 2))})
    with pytest.raises(AxisChoiceError) as e:
        load_pair(path, None, neural_rate_hz=20.0, neural_options={"field": "spikes"})
    msg = str(e.value)
    assert msg.startswith(f"{path}: field 'spikes': shape (7, 300) is wider than tall"), msg
    assert "the file has pos (5, 2), spikes (7, 300)" in msg, msg
    assert "--neural-field spikes.T" in msg and "vector 'time'" in msg, msg
    # a time vector of another length tells nothing, and says so
    scipy.io.savemat(path, {"spikes": spikes.T, "t": np.arange(50.0)})
    with pytest.raises(AxisChoiceError, match="'t' has 50 samples, matching neither axis"):
        read_source(path, field="spikes")
    # the user's choice: NAME.T
    np.testing.assert_array_equal(read_source(path, field="spikes.T").values, spikes)


def test_inspect_lists_the_arrays_of_a_multi_array_file(tmp_path, capsys):
    spikes, pos, vel = _session()
    path = tmp_path / "s.mat"
    scipy.io.savemat(path, {"spikes": spikes, "pos": pos, "vel": vel})
    assert main(["inspect", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arrays"] == {"pos": [T, 2], "spikes": [T, 7], "vel": [T, 2]}
    assert "--field NAME" in info["choose"]
    assert main(["inspect", str(path), "--field", "pos,vel", "--rate", "20"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [T, 4] and info["rate_hz"] == 20.0 and "spikes" in info["arrays"]
    assert main(["inspect", str(path), "--field", "speed"]) == 2
    assert "no such array" in capsys.readouterr().err


def test_a_field_for_a_format_without_arrays_is_refused(tmp_path):
    path = tmp_path / "stim.csv"
    path.write_text("time,contrast\n0,1\n0.1,2\n0.2,3\n")
    with pytest.raises(DataError, match="a csv file; an array is named .* in MAT, NPZ and HDF5"):
        read_source(path, field="contrast")
    assert inspect_file(path)["channels"] == 1


@needs_s1
def test_s1_inspect_names_the_spikes(capsys):
    assert main(["inspect", str(S1), "--field", "spikes"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [35129, 52] and info["field"] == "spikes"
    assert info["arrays"] == {"pos": [35129, 2], "spikes": [35129, 52], "vel": [35129, 2]}


@needs_s1
def test_s1_pair_loads_from_the_command_line_options():
    p = argparse.ArgumentParser()
    add_data_arguments(p)
    a = p.parse_args([
        "--neural", str(S1), "--behavior", str(S1), "--neural-field", "spikes",
        "--behavior-field", "pos,vel", "--neural-rate", "20", "--behavior-rate", "20",
        "--window", "5",
    ])
    neural, behavior = load_data(a)
    assert neural.n_channels == 52 and behavior.n_channels == 4
    assert behavior.channel_names == ["pos_x", "pos_y", "vel_x", "vel_y"]
    assert neural.data.shape[:2] == behavior.data.shape[:2] == (351, 100)
    assert neural.bin_size_s == pytest.approx(0.05)
