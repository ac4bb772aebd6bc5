"""NWB files written with pynwb (and ndx-pose), read back through the loaders."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from badfiles import add_camera

from mmgpvae_core.cli import main
from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import DataWarning, inspect_file, load_dataset, load_pair, read_source

pynwb = pytest.importorskip("pynwb")
pytest.importorskip("ndx_pose")

N_FRAMES, N_ROI = 300, 4  # 10 s at 30 Hz
N_POSE = 1000  # 10 s at 100 Hz


def _nwb():
    return pynwb.NWBFile(
        session_description="test",
        identifier="id",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )


def write_nwb(path, *, ophys=True, units=True, pose=True, position=True, trials=True):
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    nwb = _nwb()
    if ophys:
        dev = nwb.create_device("scope")
        channel = OpticalChannel(name="ch", description="green", emission_lambda=500.0)
        plane = nwb.create_imaging_plane(
            name="plane",
            optical_channel=channel,
            description="p",
            device=dev,
            excitation_lambda=900.0,
            indicator="GCaMP",
            location="V1",
        )
        mod = nwb.create_processing_module("ophys", "ophys")
        img_seg = ImageSegmentation()
        seg = img_seg.create_plane_segmentation(
            name="PlaneSegmentation", description="seg", imaging_plane=plane
        )
        mod.add(img_seg)
        for _ in range(N_ROI):
            seg.add_roi(image_mask=np.ones((4, 4)))
        region = seg.create_roi_table_region("rois", region=[0, 1, 2, 3])
        data = (np.arange(N_FRAMES)[:, None] + 1000 * np.arange(N_ROI)[None, :]).astype(float)
        fluo = Fluorescence()
        mod.add(fluo)
        fluo.create_roi_response_series(
            name="RoiResponseSeries",
            data=data,
            rois=region,
            unit="a.u.",
            rate=30.0,
            starting_time=0.0,
        )
    if units:
        nwb.add_unit(spike_times=[0.01, 0.02, 0.5, 1.25])
        nwb.add_unit(spike_times=[0.3, 2.0])
    beh = nwb.create_processing_module("behavior", "behavior")
    t = np.arange(N_POSE) / 100.0
    if position:
        xy = np.stack([t, 2 * t], axis=1)
        beh.add(
            Position(
                spatial_series=SpatialSeries(
                    name="ball", data=xy, reference_frame="origin", timestamps=t
                )
            )
        )
    if pose:
        from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons

        skel = Skeleton(name="mouse", nodes=["nose", "tail"])
        series = []
        for k, node in enumerate(("nose", "tail")):
            conf = np.full(N_POSE, 0.9)
            conf[::4] = 0.1 if k == 0 else 0.9
            series.append(
                PoseEstimationSeries(
                    name=node,
                    description=node,
                    data=np.stack([t + k, -t], axis=1),
                    unit="px",
                    reference_frame="top left",
                    rate=100.0,
                    starting_time=0.0,
                    confidence=conf,
                    confidence_definition="softmax",
                )
            )
        beh.add(Skeletons(skeletons=[skel]))
        beh.add(
            PoseEstimation(
                name="PoseEstimation",
                pose_estimation_series=series,
                description="dlc",
                skeleton=skel,
                source_software="DeepLabCut",
            )
        )
    if trials:
        nwb.add_trial_column("condition", "stimulus")
        nwb.add_trial(start_time=1.0, stop_time=2.0, condition="left")
        nwb.add_trial(start_time=3.0, stop_time=3.5, condition="right")
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    return write_nwb(tmp_path_factory.mktemp("nwb") / "session.nwb")


def test_roi_response_series_with_nwb_trials(nwb_file):
    ds = load_dataset(nwb_file, bin_size_s=0.1)
    assert ds.kind == "nwb:RoiResponseSeries"
    assert ds.channel_names == ["roi0", "roi1", "roi2", "roi3"]
    assert ds.data.shape == (2, 10, 4)
    assert list(ds.conditions) == ["left", "right"]
    np.testing.assert_allclose(ds.data[0, 0], 31 + 1000 * np.arange(4))  # frames 30-32
    assert list(ds.trial_lengths) == [10, 5]
    assert ds.preprocessing["trials"]["field"] == "intervals/trials"


def test_pair_pose_and_imaging_from_one_file(nwb_file):
    neural, behavior = load_pair(nwb_file, nwb_file, bin_size_s=0.1)
    assert behavior.kind == "nwb:PoseEstimation"
    assert behavior.channel_names == ["nose_x", "nose_y", "tail_x", "tail_y"]
    assert neural.data.shape[:2] == behavior.data.shape[:2] == (2, 10)
    # bin 0 of trial 1 = pose frames 100-109; frames 100, 104, 108 of the nose are masked
    keep = [101, 102, 103, 105, 106, 107, 109]
    np.testing.assert_allclose(behavior.data[0, 0, 0], np.mean(np.array(keep) / 100))
    np.testing.assert_allclose(behavior.data[0, 0, 2], 1 + np.mean(np.arange(100, 110) / 100))
    assert behavior.preprocessing["points_masked_low_likelihood"] == N_POSE // 4


def test_units_binned_to_counts_and_named_series(nwb_file):
    rec = read_source(nwb_file, series="units")
    assert rec.is_events and rec.channel_names == ["unit0", "unit1"]
    ds = load_dataset(nwb_file, series="units", trials=None, bin_size_s=0.25)
    # NWB trials: 1.0-2.0 (4 bins), 3.0-3.5 (2 bins); unit0 spikes at 1.25 -> bin 1
    assert ds.data.shape == (2, 4, 2)
    np.testing.assert_array_equal(ds.data[0, :, 0], [0, 1, 0, 0])
    np.testing.assert_array_equal(ds.data[0, :, 1], [0, 0, 0, 0])
    ball = load_dataset(nwb_file, series="ball", bin_size_s=0.5)
    assert ball.channel_names == ["ball_x", "ball_y"]
    np.testing.assert_allclose(
        ball.data[0, 0],
        [np.mean(np.arange(100, 150) / 100), 2 * np.mean(np.arange(100, 150) / 100)],
    )


def test_inspect_nwb(nwb_file, capsys):
    info = inspect_file(nwb_file)
    assert info["kind"] == "nwb:RoiResponseSeries"
    assert info["shape"] == [N_FRAMES, N_ROI] and info["rate_hz"] == 30.0
    assert info["trials"] == 2 and info["conditions"] == ["left", "right"]
    assert main(["inspect", str(nwb_file)]) == 0
    assert '"missing_fraction": 0.0' in capsys.readouterr().out


def test_requested_series_absent(tmp_path, nwb_file):
    with pytest.raises(DataError) as e:
        load_dataset(nwb_file, series="DfOverF")
    assert str(e.value).startswith(f"{nwb_file}: field 'DfOverF': no series named 'DfOverF'")
    bare = write_nwb(tmp_path / "pose_only.nwb", ophys=False, units=False)
    with pytest.raises(DataError) as e:
        load_pair(bare, nwb_file)
    assert str(e.value).startswith(
        f"{bare}: field 'processing/ophys': no RoiResponseSeries (Fluorescence / DfOverF) or "
        "/units found; the file has [\"PoseEstimation 'PoseEstimation'\""
    )


def test_truncated_and_not_hdf5(tmp_path, nwb_file, capsys):
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(nwb_file.read_bytes()[:3000])
    text = tmp_path / "notes.nwb"
    text.write_text("not an hdf5 file\n")
    other = tmp_path / "data.h5"
    other.write_text("also not hdf5\n")
    for path in (cut, text, other):
        with pytest.raises(DataError) as e:
            load_dataset(path)
        assert str(e.value).startswith(f"{path}: field '-': not a readable HDF5")
        assert main(["inspect", str(path)]) == 2
        assert "Traceback" not in capsys.readouterr().err


def test_image_series_are_never_the_behavior_series(tmp_path):
    """An OpticalSeries is an ImageSeries (told by neurodata type, not class name): a plain
    TimeSeries beside it is the default; alone it is listed, with the flag that picks one."""
    nwb = _nwb()
    add_camera(nwb)
    nwb.add_acquisition(pynwb.TimeSeries(name="wheel", data=np.arange(10.0), unit="cm", rate=10.0))
    path = tmp_path / "camera_and_wheel.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    rec = read_source(path, role="behavior")
    assert rec.field == "wheel" and rec.preprocessing["nwb_series"] == "TimeSeries 'wheel'"
    with pytest.raises(
        DataError,
        match=r"no series named 'camera' that can be read.*"
        r"OpticalSeries 'camera' \(images, not read\)",
    ):
        read_source(path, series="camera", role="behavior")

    only = tmp_path / "camera_only.nwb"
    nwb = _nwb()
    add_camera(nwb)
    with pynwb.NWBHDF5IO(str(only), "w") as io:
        io.write(nwb)
    with pytest.raises(DataError) as e:
        load_pair(write_nwb(tmp_path / "imaging.nwb", pose=False, position=False), only)
    msg = str(e.value)
    assert msg.startswith(f"{only}: field 'processing/behavior': no PoseEstimation")
    assert "the file has [\"OpticalSeries 'camera' (images, not read)\"]" in msg
    assert msg.endswith("pick a series with --behavior-series NAME")


def _nose(path, timestamps):
    from pynwb.behavior import Position, SpatialSeries

    nwb = _nwb()
    beh = nwb.create_processing_module("behavior", "behavior")
    nose = SpatialSeries(
        name="nose", data=np.ones((len(timestamps), 2)), reference_frame="px", timestamps=timestamps
    )
    beh.add(Position(spatial_series=nose))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_frame_number_timestamps_take_the_given_rate(tmp_path, capsys):
    """DLC2NWB writes frame numbers 0, 1, 2, … as timestamps: a given rate wins, with a warning."""
    path = _nose(tmp_path / "dlc2nwb.nwb", np.arange(90.0))
    info = inspect_file(path)
    assert info["rate_hz"] == 1.0 and info["times_are_frame_indices"] is True
    with pytest.warns(
        DataWarning,
        match=r"frame numbers \(0, 1, 2, …\), not seconds: frames at "
        r"30 Hz from --rate",
    ):
        ds = load_dataset(path, rate_hz=30.0, window_s=1.0)
    assert ds.bin_size_s == pytest.approx(1 / 30) and ds.data.shape == (3, 30, 2)
    assert main(["inspect", str(path), "--rate", "30"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"mmgpvae: warning: {path}: field 'nose.timestamps'")
    # seconds at 1 Hz that are not frame numbers still contradict a given 30 Hz
    halves = _nose(tmp_path / "halves.nwb", np.arange(90.0) + 0.5)
    with pytest.raises(DataError, match="the file says 1 Hz but --rate says 30 Hz"):
        load_dataset(halves, rate_hz=30.0)
