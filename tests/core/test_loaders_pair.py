"""Two modalities at different rates (30 Hz imaging, 100 Hz pose) cut on one trials table and
binned onto one grid; the bad inputs of the issue, through the loaders and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from test_loaders_dlc import N as N_POSE
from test_loaders_dlc import dlc_frame
from test_loaders_suite2p import write_plane

from mmgpvae_core.cli import main
from mmgpvae_core.data import DataError
from mmgpvae_core.loaders import load_pair


@pytest.fixture
def session(tmp_path):
    """suite2p 0-10 s at 30 Hz; DeepLabCut CSV 0-2 s at 100 Hz (x = frame index)."""
    write_plane(tmp_path)
    pose = tmp_path / "videoDLC_resnet50.csv"
    dlc_frame().to_csv(pose)
    return tmp_path, pose


def write_trials(path, rows):
    lines = ["start_time,stop_time,condition"] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_aligned_on_time_with_unequal_trials(session):
    root, pose = session
    trials = write_trials(root / "trials.csv", [(0.2, 0.8, 1), (1.0, 1.3, 2)])
    neural, behavior = load_pair(root, pose, trials=trials, bin_size_s=0.1, behavior_rate_hz=100.0)
    assert neural.data.shape == (2, 6, 3) and behavior.data.shape == (2, 6, 4)
    assert list(neural.conditions) == [1, 2] and list(behavior.conditions) == [1, 2]
    # bin 0 of trial 1 is [0.2, 0.3) s: imaging frames 6, 7, 8; pose frames 20-29 (20 masked)
    np.testing.assert_allclose(neural.data[0, 0, 0], 100 + 7 - 14)
    np.testing.assert_allclose(behavior.data[0, 0, 0], np.mean(np.arange(21, 30)))
    np.testing.assert_allclose(behavior.data[0, 0, 2], 1000 + 24.5)
    # trial 2, bin 2 is [1.2, 1.3) s: frames 36-38 and 120-129
    np.testing.assert_allclose(neural.data[1, 2, 0], 100 + 37 - 14)
    np.testing.assert_allclose(behavior.data[1, 2, 2], 1000 + 124.5)
    for ds in (neural, behavior):  # trial 2 is 3 bins long, padded and masked
        assert list(ds.trial_lengths) == [6, 3]
        assert np.isnan(ds.data[1, 3:]).all()
        assert ds.bin_size_s == 0.1
    assert behavior.preprocessing["rate_hz_given"] == 100.0


def test_default_bin_is_slower_rate_and_windows(session):
    root, pose = session
    neural, behavior = load_pair(root, pose, behavior_rate_hz=100.0)
    # overlap is 0-2 s (pose), one window shorter than 10 s; bins of 1/30 s
    assert neural.bin_size_s == pytest.approx(1 / 30)
    assert neural.data.shape == (1, 60, 3) and behavior.data.shape == (1, 60, 4)
    np.testing.assert_allclose(neural.data[0, :, 0], 100 - 14 + np.arange(60), rtol=1e-6)
    assert neural.preprocessing["trials"]["source"] == "windows"


def test_trials_outside_recording(session):
    root, pose = session
    trials = write_trials(root / "trials.csv", [(0.5, 1.0, "a"), (1.5, 2.5, "b")])
    with pytest.raises(DataError) as e:
        load_pair(root, pose, trials=trials, bin_size_s=0.1, behavior_rate_hz=100.0)
    assert str(e.value) == (
        f"{trials}: field 'stop_time': trial 2 (1.5-2.5 s) falls outside the recording {pose} "
        "(0-2 s); 1 trial(s) do; expected trial times inside the recording"
    )


def test_overlapping_trials(session):
    root, pose = session
    trials = write_trials(root / "trials.csv", [(0.5, 1.0, "a"), (0.9, 1.5, "b")])
    with pytest.raises(DataError) as e:
        load_pair(root, pose, trials=trials, behavior_rate_hz=100.0)
    assert str(e.value) == (
        f"{trials}: field 'start_time': trial 2 (0.9-1.5 s) overlaps trial 1 (0.5-1 s); "
        "expected trials that do not overlap"
    )


def test_no_overlapping_time(session):
    root, _ = session
    stim = root / "stim.csv"
    t = 20 + np.arange(50) / 10
    stim.write_text("time,contrast\n" + "".join(f"{a},{a - 20}\n" for a in t))
    with pytest.raises(DataError) as e:
        load_pair(root, stim)
    msg = str(e.value)
    assert msg.startswith(f"{stim}: field 'time': no overlapping time with the other modality")
    assert "covers 0-10 s" in msg and "covers 20-25 s" in msg


def test_rate_flag_contradicts_file(session):
    root, pose = session
    with pytest.raises(DataError, match="file says 30 Hz but --neural-rate says 25 Hz"):
        load_pair(root, pose, neural_rate_hz=25.0, behavior_rate_hz=100.0)
    with pytest.raises(DataError, match=r"field 'sampling rate'.*--behavior-rate HZ"):
        load_pair(root, pose)


def test_bin_shorter_than_frame_period(session):
    root, pose = session
    with pytest.raises(DataError, match=r"field 'bin_size_s': bin size 0.01 s is shorter"):
        load_pair(root, pose, bin_size_s=0.01, behavior_rate_hz=100.0)


def test_cli_exit_code_2_with_message(session, capsys, tmp_path):
    root, pose = session
    trials = write_trials(root / "trials.csv", [(0.5, 1.0, "a"), (0.9, 1.5, "b")])
    out = str(tmp_path / "run.mmgp")
    base = ["fit", "--neural", str(root), "--behavior", str(pose), "--out", out]
    cases = [
        (base + ["--trials", str(trials), "--behavior-rate", "100"], "overlaps trial 1"),
        (base, "give it with --behavior-rate HZ"),
        (base + ["--neural-rate", "25", "--behavior-rate", "100"], "--neural-rate says 25 Hz"),
        (["inspect", str(tmp_path / "nothing_here.h5")], "file not found"),
    ]
    for argv, text in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err
    assert main(["inspect", str(pose), "--rate", "100"]) == 0
    assert '"kind": "deeplabcut"' in capsys.readouterr().out
    assert N_POSE == 200


def test_spike_counts_match_the_bin_definition_for_any_trials():
    """Each bin ``[s + bΔ, s + (b+1)Δ)`` of a trial starting at ``s`` counts the spikes in it,
    whatever the trials: of unequal lengths, out of order, overlapping; the rest is NaN."""
    from mmgpvae_core.loaders.recording import Recording, TrialTable
    from mmgpvae_core.loaders.trials import bin_recording

    rng = np.random.default_rng(0)
    spikes = [np.sort(rng.uniform(0, 30, n)) for n in (0, 1, 50, 400)]
    spikes.append(np.array([1.0, 1.0, 1.1, 2.0]))  # on bin edges, and twice at one time
    rec = Recording(values=None, channel_names=[f"u{i}" for i in range(5)], source="mem",
                    field="spike_times", kind="generic", spike_times=spikes)
    start = np.array([10.0, 1.0, 0.0, 5.05, 1.03])
    stop = np.array([12.0, 2.5, 3.0, 9.0, 1.23])
    table = TrialTable(start=start, stop=stop, conditions=None, source="mem")
    dt = 0.1
    out = bin_recording(rec, table, dt)
    for k, (s, e) in enumerate(zip(start, stop)):
        nb = int(np.floor((e - s) / dt + 1e-6))
        for c, st in enumerate(spikes):
            lo = s + dt * np.arange(nb)
            want = [np.sum((st >= a) & (st < b)) for a, b in zip(lo, s + dt * np.arange(1, nb + 1))]
            np.testing.assert_array_equal(out[k, :nb, c], want)
        assert np.isnan(out[k, nb:]).all()
    assert out[1, 0, 4] == 2 and out[1, 10, 4] == 1  # 1.0 twice in [1.0, 1.1), 2.0 in [2.0, 2.1)
