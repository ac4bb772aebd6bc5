"""The readers against files the tools themselves wrote (``shared/real-samples``, see its README):
every prediction or recording file is read; labeled training frames are refused with one line
that says what the file is and what to give instead. Skipped where the folder is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgpvae_core.cli import main
from mmgpvae_core.loaders import load_pair

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-samples"
PLANE = REAL / "suite2p" / "fissa_example" / "suite2p" / "plane0"
DLC = REAL / "dlc" / "openfield_dlc_inference_example.csv"
RECORDINGS = [
    DLC,
    REAL / "sleap" / "small_robot.000_small_robot_3_frame.analysis.h5",
    REAL / "nwb" / "0.3.0_poseestimation_one_camera.nwb",
    REAL / "nwb" / "nwbtestdata_v2.0.0_test_Units.nwb",
    PLANE,
]

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="shared/real-samples is absent")


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_inspect_reads_every_recording(path, capsys):
    assert main(["inspect", str(path)]) == 0
    err = capsys.readouterr().err
    assert len(err.splitlines()) <= 1, err  # at most one warning line per file
    assert all(line.startswith("mmgpvae: warning: ") for line in err.splitlines()), err


def test_older_ndx_pose_file_warns_in_one_line(capsys):
    path = REAL / "nwb" / "0.3.0_poseestimation_one_camera.nwb"
    assert main(["inspect", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "ndx-pose - cached version: 0.3.0" in err[0], err


def test_labeled_training_frames_are_refused(capsys):
    path = REAL / "dlc" / "CollectedData_Pranav.csv"
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"mmgpvae: error: {path}: field 'index': image paths ('labeled-data/m4s1/img0000.png', "
        "…) with hand-placed x, y: DeepLabCut labeled training frames (a CollectedData file), "
        "not a recording; expected the predictions file that deeplabcut.analyze_videos writes "
        "for a video (<video>DLC_<network>.h5 or .csv, one row per frame with x, y, likelihood)"
    ]


def test_suite2p_and_dlc_predictions_pair():
    neural, behavior = load_pair(
        PLANE, DLC, behavior_rate_hz=30.0, window_s=10.0, neural_options={"signal": "dff"}
    )
    # suite2p says 1 Hz (ops.fs), the DLC video 30 Hz: binned at the slower period, 1 s
    assert neural.bin_size_s == behavior.bin_size_s == pytest.approx(1.0)
    assert neural.data.shape[:2] == behavior.data.shape[:2]
    assert neural.data.shape[0] == 7  # 2330 frames at 30 Hz = 77.7 s: seven 10-s windows
    assert behavior.channel_names[:2] == ["snout_x", "snout_y"]
    assert np.isfinite(neural.data).all()
