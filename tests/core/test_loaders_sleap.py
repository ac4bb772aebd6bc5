"""SLEAP files written with sleap-io (.slp projects, analysis .h5), read back through the loaders."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from mmgpvae_core.cli import main
from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import inspect_file, load_dataset, read_source

sio = pytest.importorskip("sleap_io")

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-samples"

NODES = ("head", "thorax", "tail")
FRAMES = (0, 1, 2, 4, 5)  # frame 3 unlabeled; the video's last labeled frame is 5


def labels(tracks=("mouse1", "mouse2"), videos=("session1.mp4",), user=False, fps=None):
    """x = 10 * frame + animal + node, y = 100 + frame; the thorax scores 0.5, the rest 0.9.

    The video files do not exist: sleap-io keeps a Video as a file name and metadata."""
    skel = sio.Skeleton(list(NODES), edges=[("head", "thorax"), ("thorax", "tail")])
    vids = [sio.Video(filename=f"/nowhere/{v}", open_backend=False) for v in videos]
    if fps is not None:
        for v in vids:
            v.backend_metadata["fps"] = fps
    trks = [sio.Track(t) for t in tracks]
    lfs = []
    for vi, video in enumerate(vids):
        for f in FRAMES:
            insts = []
            for k, track in enumerate(trks or [None]):
                pts = np.array([[10 * f + k + j + 100 * vi, 100 + f] for j in range(3)], float)
                if user:
                    inst = sio.Instance.from_numpy(points_data=pts, skeleton=skel, track=track)
                else:
                    inst = sio.PredictedInstance.from_numpy(
                        points_data=pts,
                        point_scores=np.array([0.9, 0.5, 0.9]),
                        score=0.9,
                        skeleton=skel,
                        track=track,
                    )
                insts.append(inst)
            lfs.append(sio.LabeledFrame(video=video, frame_idx=f, instances=insts))
    return sio.Labels(labeled_frames=lfs, videos=vids, skeletons=[skel], tracks=trks)


@pytest.fixture
def slp(tmp_path):
    path = tmp_path / "session1.predictions.slp"
    sio.save_slp(labels(), str(path))
    return path


def test_slp_two_tracks_read_natively(slp, capsys):
    rec = read_source(slp)
    assert rec.kind == "sleap"
    assert rec.channel_names[:2] == ["mouse1_head_x", "mouse1_head_y"]
    assert rec.channel_names[6:8] == ["mouse2_head_x", "mouse2_head_y"]
    assert rec.values.shape == (6, 12)  # frames 0-5, 2 tracks x 3 nodes x 2
    assert np.isnan(rec.values[3]).all()  # the unlabeled frame is missing
    np.testing.assert_allclose(rec.values[4, :6], [40, 104, 41, 104, 42, 104])
    np.testing.assert_allclose(rec.values[4, 6], 41)  # mouse2's head
    assert rec.rate_hz is None
    assert main(["inspect", str(slp), "--rate", "30"]) == 0
    out = capsys.readouterr()
    assert '"kind": "sleap"' in out.out and '"frames_with_poses": 5' in out.out
    assert out.err == ""


def test_slp_threshold_only_when_asked_and_video_fps(tmp_path):
    path = tmp_path / "one.slp"
    sio.save_slp(labels(tracks=("solo",), fps=25.0), str(path))
    rec = read_source(path)
    assert rec.channel_names == [f"{n}_{c}" for n in NODES for c in "xy"]  # one track: no prefix
    assert rec.rate_hz == 25.0 and rec.rate_from == "video fps"
    assert not np.isnan(rec.values[FRAMES, :]).any()
    low = read_source(path, likelihood_threshold=0.6)
    assert np.isnan(low.values[FRAMES, 2:4]).all()  # the thorax scores 0.5
    assert low.preprocessing["points_masked_low_likelihood"] == len(FRAMES)
    ds = load_dataset(path, egocentric="thorax")
    np.testing.assert_allclose(ds.data[0, 0], [-1, 0, 1, 0])  # head, tail minus thorax


def test_slp_of_hand_labels_reads_like_predictions(tmp_path):
    path = tmp_path / "labels.v001.slp"
    sio.save_slp(labels(tracks=(), user=True), str(path))
    rec = read_source(path, likelihood_threshold=0.99)  # user points score 1
    assert rec.values.shape == (6, 6)
    assert not np.isnan(rec.values[list(FRAMES)]).any()


def test_slp_with_several_videos_needs_one_named(tmp_path):
    path = tmp_path / "two_videos.slp"
    sio.save_slp(labels(videos=("a.mp4", "b.mp4")), str(path))
    with pytest.raises(
        DataError, match=r"labels on 2 videos \['a.mp4', 'b.mp4'\].*--behavior-series"
    ):
        read_source(path)
    rec = read_source(path, series="b.mp4")
    np.testing.assert_allclose(rec.values[0, 0], 100)  # video b's head, frame 0
    assert rec.preprocessing["slp_video"] == "/nowhere/b.mp4"
    assert np.array_equal(read_source(path, series="1").values, rec.values, equal_nan=True)
    with pytest.raises(DataError, match=r"no video 'c.mp4'; the file has \['a.mp4', 'b.mp4'\]"):
        read_source(path, series="c.mp4")


def test_untracked_animals_are_refused(tmp_path):
    lab = labels()
    for lf in lab.labeled_frames:
        for inst in lf.instances:
            inst.track = None
    lab.tracks = []
    path = tmp_path / "untracked.slp"
    sio.save_slp(lab, str(path))
    with pytest.raises(DataError, match=r"2 animals per frame without tracks.*tracker"):
        read_source(path)


@pytest.mark.parametrize("preset", ["matlab", "standard"])
def test_analysis_h5_written_by_sleap_io_matches_the_slp(slp, tmp_path, preset):
    """SLEAP's own (transposed) layout and sleap-io's 'standard' one, named in ``dims``."""
    path = tmp_path / f"{preset}.analysis.h5"
    sio.save_analysis_h5(sio.load_slp(str(slp), open_videos=False), str(path), preset=preset)
    a, b = read_source(path, likelihood_threshold=0.6), read_source(slp, likelihood_threshold=0.6)
    assert a.kind == "sleap" and a.channel_names == b.channel_names
    np.testing.assert_array_equal(a.values, b.values)
    assert a.preprocessing["points_masked_low_likelihood"] == 2 * len(FRAMES)


def test_analysis_h5_bad_dims(tmp_path):
    path = tmp_path / "bad.analysis.h5"
    with h5py.File(path, "w") as f:
        f["node_names"] = [b"head"]
        f["tracks"] = np.zeros((1, 2, 1, 4))
        f["tracks"].attrs["dims"] = '["a", "b", "c", "d"]'
    with pytest.raises(DataError, match=r"field 'tracks': dims attribute .*frame, track, node, xy"):
        read_source(path)


def test_damaged_slp(tmp_path, slp):
    cut = tmp_path / "cut.slp"
    cut.write_bytes(slp.read_bytes()[:2000])
    with pytest.raises(DataError, match=r"field '-': not a readable SLEAP .slp file"):
        read_source(cut)


def test_real_sleap_analysis_sample():
    path = REAL / "sleap" / "small_robot.000_small_robot_3_frame.analysis.h5"
    if not path.exists():
        pytest.skip("shared/real-samples is absent")
    info = inspect_file(path)
    assert info["kind"] == "sleap" and info["shape"] == [3, 6]
    assert info["channel_names"][:2] == ["top_x", "top_y"]
