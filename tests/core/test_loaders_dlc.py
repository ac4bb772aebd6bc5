"""DeepLabCut CSV and H5 written with pandas, read back through the loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import inspect_file, load_dataset, read_source

N = 200  # frames


def dlc_frame(parts=("nose", "tail"), animals=None, seed=0):
    """x = frame index + 1000*part, y = -x, likelihood 0.9 except every 10th frame of part 0."""
    rng = np.random.default_rng(seed)
    levels = [["DLC_resnet50_testJan1shuffle1_1000"]]
    names = ["scorer"]
    if animals:
        levels.append(list(animals))
        names.append("individuals")
    levels += [list(parts), ["x", "y", "likelihood"]]
    names += ["bodyparts", "coords"]
    cols = pd.MultiIndex.from_product(levels, names=names)
    data = np.empty((N, len(cols)))
    for j in range(0, len(cols), 3):
        k = j // 3
        data[:, j] = np.arange(N) + 1000 * k
        data[:, j + 1] = -data[:, j]
        data[:, j + 2] = 0.9 + 0.05 * rng.random(N)
        if k == 0:
            data[::10, j + 2] = 0.2
    return pd.DataFrame(data, columns=cols)


def test_csv_single_animal_likelihood_mask(tmp_path):
    path = tmp_path / "videoDLC_resnet50.csv"
    dlc_frame().to_csv(path)
    rec = read_source(path)
    assert rec.kind == "deeplabcut"
    assert rec.channel_names == ["nose_x", "nose_y", "tail_x", "tail_y"]
    assert rec.values.shape == (N, 4)
    assert np.isnan(rec.values[::10, :2]).all()
    assert not np.isnan(rec.values[1::10]).any() and not np.isnan(rec.values[:, 2:]).any()
    assert rec.preprocessing["points_masked_low_likelihood"] == N // 10
    ds = load_dataset(path, rate_hz=100.0, bin_size_s=0.05)
    assert ds.data.shape == (1, 40, 4)
    # bin 0 = frames 0-4 with frame 0 masked: mean of 1..4 for the nose, 0..4 for the tail
    np.testing.assert_allclose(ds.data[0, 0], [2.5, -2.5, 1002.0, -1002.0])


def test_h5_multi_animal_and_threshold(tmp_path):
    path = tmp_path / "mice.h5"
    dlc_frame(parts=("nose", "ear"), animals=("m1", "m2")).to_hdf(path, key="df_with_missing")
    rec = read_source(path, likelihood_threshold=0.1)
    assert rec.channel_names[:4] == ["m1_nose_x", "m1_nose_y", "m1_ear_x", "m1_ear_y"]
    assert rec.values.shape == (N, 8)
    assert not np.isnan(rec.values).any()  # 0.2 passes a 0.1 threshold
    np.testing.assert_allclose(rec.values[:, 4], np.arange(N) + 2000)  # m2 nose


def test_multi_animal_csv_egocentric(tmp_path):
    path = tmp_path / "pose.csv"
    dlc_frame(parts=("nose", "ear"), animals=("m1", "m2")).to_csv(path)
    ds = load_dataset(path, rate_hz=100.0, egocentric="nose", likelihood_threshold=0.0)
    assert ds.channel_names == ["m1_ear_x", "m1_ear_y", "m2_ear_x", "m2_ear_y"]
    np.testing.assert_allclose(ds.data[0, :, 0], 1000.0)  # ear - nose of m1
    np.testing.assert_allclose(ds.data[0, :, 1], -1000.0)
    assert ds.preprocessing["egocentric_reference"] == "nose"


def test_inspect_without_rate_and_rate_needed(tmp_path):
    path = tmp_path / "videoDLC_x.csv"
    dlc_frame().to_csv(path)
    info = inspect_file(path)
    assert info["kind"] == "deeplabcut" and info["shape"] == [N, 4]
    assert info["rate_hz"] is None
    assert info["missing_fraction"] == pytest.approx(0.05)
    assert inspect_file(path, rate_hz=50.0)["time_range_s"] == [0.0, 4.0]
    with pytest.raises(DataError, match=r"field 'sampling rate'.*give it with --rate HZ"):
        load_dataset(path, bin_size_s=0.1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frame,x,y\n0,1,2\n", "row 1 starts with 'frame'"),
        (
            "scorer,s,s,s\nbodypart,nose,nose,nose\ncoords,x,y,likelihood\n0,1,2,0.9\n",
            "first cells of the header rows are ['scorer', 'bodypart', 'coords']",
        ),
        (
            "scorer,s,s,s\nbodyparts,nose,nose,nose\ncoords,x,y,z\n0,1,2,0.9\n",
            "columns 2-4 are [('', 'nose', 'x'), ('', 'nose', 'y'), ('', 'nose', 'z')]",
        ),
    ],
)
def test_wrong_header(tmp_path, text, problem):
    path = tmp_path / "videoDLC_bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as e:
        load_dataset(path, rate_hz=30.0)
    assert str(e.value).startswith(f"{path}: field '")
    assert problem in str(e.value)
    assert "expected" in str(e.value)


LABELED = "DeepLabCut labeled training frames (a CollectedData file), not a recording"


@pytest.mark.parametrize("style", ["path", "split"])
def test_labeled_data_csv_is_refused_as_training_frames(tmp_path, style):
    """CollectedData_*.csv: image paths as the index (DLC >= 2.2 splits them over 3 columns)."""
    path = tmp_path / "CollectedData_me.csv"
    df = dlc_frame().iloc[:3].drop(columns="likelihood", level="coords")
    images = [("labeled-data", "vid", f"img{i:03d}.png") for i in (4, 9, 12)]
    if style == "path":
        df.index = ["/".join(p) for p in images]
    else:
        df.index = pd.MultiIndex.from_tuples(images)
    df.to_csv(path)
    with pytest.raises(DataError) as e:
        read_source(path)
    assert str(e.value).startswith(f"{path}: field 'index': image paths ('labeled-data")
    assert LABELED in str(e.value) and "deeplabcut.analyze_videos" in str(e.value)


def test_labeled_data_h5_is_refused_as_training_frames(tmp_path):
    path = tmp_path / "CollectedData_me.h5"
    df = dlc_frame().iloc[:3].drop(columns="likelihood", level="coords")
    df.index = pd.MultiIndex.from_tuples([("labeled-data", "vid", f"img{i}.png") for i in range(3)])
    df.to_hdf(path, key="df_with_missing")
    with pytest.raises(
        DataError, match=r"field 'index': image paths \('labeled-data/vid/img0.png'"
    ):
        read_source(path)
