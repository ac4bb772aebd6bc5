"""A corpus of bad input files, one of every kind we know, written into a folder on demand.

Shared by the CLI tests (``tests/core/test_bad_inputs.py``) and the app tests
(``tests/gui/test_bad_inputs_app.py``). Every case says which file is bad, the extra ``fit``
arguments it needs, the exit code ``mmgpvae fit`` must answer (2: bad input) and a piece of the
one-line message (what was expected). ``when="load"`` cases are refused by the file alone (by
``mmgpvae inspect``, by ``load_dataset`` and so by the app); ``when="fit"`` cases only by a fit
(a likelihood, a pairing, an option).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import scipy.io

TRIALS, BINS = 6, 20


@dataclass(frozen=True)
class BadCase:
    name: str
    neural: Path
    behavior: Path | None
    expect: str  # a piece of the message, compared case-insensitively
    args: tuple[str, ...] = ()
    code: int = 2
    bad: str = "neural"  # which modality's file is at fault
    when: str = "load"  # "load": the file alone is refused; "fit": only a fit refuses it
    names: str | None = None  # what the message must name (default: the bad file's basename)

    @property
    def path(self) -> Path:
        """The bad file."""
        p = self.neural if self.bad == "neural" else self.behavior
        assert p is not None
        return p

    @property
    def named(self) -> str:
        return self.names if self.names is not None else self.path.name

    def fit_argv(self, out: Path, epochs: int = 2) -> list[str]:
        argv = ["fit", "--neural", str(self.neural)]
        if self.behavior is not None:
            argv += ["--behavior", str(self.behavior)]
        return argv + ["--out", str(out), "--epochs", str(epochs), "--quiet", *self.args]

    def inspect_argv(self) -> list[str]:
        return ["inspect", str(self.path)]

    def __str__(self) -> str:  # the pytest id
        return self.name


# ---------------------------------------------------------------------------- writers
def _counts(trials: int = TRIALS, bins: int = BINS, channels: int = 4) -> np.ndarray:
    return np.random.default_rng(0).poisson(2.0, size=(trials, bins, channels)).astype(float)


def _pose(trials: int = TRIALS, bins: int = BINS, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(trials, bins, channels))


def _npy_header_only(path: Path, shape: tuple[int, ...], dtype: str = "<f8") -> None:
    """An NPY whose header declares ``shape`` but which holds no data."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)


def _nwb_empty(path: Path) -> None:
    import pynwb

    nwb = pynwb.NWBFile(
        session_description="nothing recorded",
        identifier="empty",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def add_camera(nwb, name: str = "camera") -> None:
    """A 5-frame video (an OpticalSeries, which is an ImageSeries) in ``nwb``'s acquisition."""
    from pynwb.image import OpticalSeries

    nwb.add_acquisition(
        OpticalSeries(
            name=name,
            data=np.zeros((5, 4, 4), dtype=np.uint8),
            rate=30.0,
            distance=0.1,
            field_of_view=[0.1, 0.1],
            orientation="up",
            unit="n.a.",
        )
    )


def _nwb_images_only(path: Path) -> None:
    """An NWB file whose only series is a video (an OpticalSeries, an ImageSeries)."""
    import pynwb

    nwb = pynwb.NWBFile(
        session_description="a camera only",
        identifier="camera",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    add_camera(nwb)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def _slp_without_frames(path: Path) -> None:
    """A SLEAP project with a skeleton and a video but no labeled frame."""
    import sleap_io as sio

    video = sio.Video(filename="session.mp4", open_backend=False)
    sio.save_slp(sio.Labels(videos=[video], skeletons=[sio.Skeleton(["head", "tail"])]), path)


def _dlc_csv(path: Path, header: list[str], rows: list[str]) -> None:
    path.write_text("\n".join(header + rows) + "\n")


def _suite2p(root: Path, *, skip: tuple[str, ...] = (), iscell_rows: int | None = None) -> Path:
    plane = root / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    n_roi, frames = 3, 300
    F = 100 + np.random.default_rng(2).random((n_roi, frames)).astype(np.float32)
    arrays = {
        "F": F,
        "Fneu": np.full_like(F, 20.0),
        "spks": np.zeros_like(F),
        "iscell": np.ones((iscell_rows or n_roi, 2)),
    }
    for name, arr in arrays.items():
        if name not in skip:
            np.save(plane / f"{name}.npy", arr)
    np.save(plane / "ops.npy", {"fs": 30.0})
    return root


def make_corpus(folder: str | Path) -> list[BadCase]:
    """Write every bad file into ``folder`` and return the cases (good partners included)."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    good_n = d / "good_neural.npz"
    np.savez(good_n, data=_counts(), bin_size_s=0.05)
    good_b = d / "good_behavior.npz"
    np.savez(good_b, data=_pose(), bin_size_s=0.05)
    cases: list[BadCase] = []

    def neural(name: str, expect: str, **kw) -> None:
        path = kw.pop("path", None) or d / name
        cases.append(BadCase(name, path, kw.pop("behavior", None), expect, **kw))

    def behavior(name: str, expect: str, **kw) -> None:
        path = kw.pop("path", None) or d / name
        cases.append(BadCase(name, good_n, path, expect, bad="behavior", **kw))

    # ------------------------------------------------------------ empty files (0 bytes)
    for ext in ("npz", "npy", "mat", "h5", "csv", "nwb", "hdf5"):
        (d / f"empty.{ext}").write_bytes(b"")
        neural(f"empty.{ext}", "empty")

    # ------------------------------------------------------------ NPZ / NPY
    np.savez(d / "pickled.npz", data=np.array([{"a": 1}] * 4, dtype=object).reshape(1, 2, 2))
    neural("pickled.npz", "object")
    np.savez(
        d / "pickled_conditions.npz",
        data=_counts(),
        conditions=np.array([None, 1, "a", 2.0, 3, 4], dtype=object),
    )
    neural("pickled_conditions.npz", "object")
    np.savez(d / "no_arrays.npz")
    neural("no_arrays.npz", "expected an array 'data'")
    np.savez(d / "wrong_keys.npz", counts=_counts(), spikes=_counts())
    # several arrays and no 'data': inspect lists them and the app offers them to choose, so
    # only a load that names none (a fit) refuses the file
    neural("wrong_keys.npz", "expected an array 'data'", when="fit")
    whole = (d / "good_neural.npz").read_bytes()
    (d / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    neural("truncated.npz", "npz")
    (d / "text.npz").write_text("trial,time,value\n1,2,3\n")
    neural("text.npz", "npz")
    np.save(d / "four_d.npy", np.zeros((2, 3, 4, 5)))
    neural("four_d.npy", "3-D")
    np.save(d / "scalar.npy", np.float64(3.0))
    neural("scalar.npy", "3-D")
    np.save(d / "pickled.npy", np.array([[["x"]]], dtype=object), allow_pickle=True)
    neural("pickled.npy", "object")
    raw = _counts().tobytes()
    np.save(d / "truncated.npy", _counts())
    cut = (d / "truncated.npy").read_bytes()
    (d / "truncated.npy").write_bytes(cut[: len(cut) - len(raw) // 2])
    neural("truncated.npy", "truncated")
    (d / "text.npy").write_text("1 2 3\n4 5 6\n")
    neural("text.npy", "npy")
    _npy_header_only(d / "huge.npy", (1000, 20000, 1_000_000))
    neural("huge.npy", "TiB")
    np.savez(d / "zero_trials.npz", data=np.zeros((0, BINS, 4)))
    neural("zero_trials.npz", "empty")
    np.savez(d / "zero_bins.npz", data=np.zeros((TRIALS, 0, 4)))
    neural("zero_bins.npz", "empty")
    np.savez(d / "zero_channels.npz", data=np.zeros((TRIALS, BINS, 0)))
    neural("zero_channels.npz", "empty")
    data = _counts()
    data[:, :, 2] = np.nan
    np.savez(d / "nan_channel.npz", data=data)
    neural("nan_channel.npz", "entirely missing")
    np.savez(d / "all_nan.npz", data=np.full((TRIALS, BINS, 4), np.nan))
    neural("all_nan.npz", "entirely missing")
    data = _counts()
    data[0, 0, 0] = np.inf
    np.savez(d / "infinite.npz", data=data)
    neural("infinite.npz", "infinite")
    pose = _pose()
    pose[:, 3, 1] = 1e308
    np.savez(d / "huge_values.npz", data=pose)
    behavior("huge_values.npz", "float32")
    pose = _pose()
    pose[0, 0, 0] = -3e38
    np.savez(d / "large_values.npz", data=pose)
    behavior("large_values.npz", "float32")
    np.savez(d / "complex.npz", data=_pose() + 1j * _pose())
    behavior("complex.npz", "complex")
    np.savez(d / "strings.npz", data=np.full((TRIALS, BINS, 3), "x"))
    behavior("strings.npz", "expected real numbers")
    np.savez(d / "bytes.npz", data=np.full((TRIALS, BINS, 3), b"1.5"))
    behavior("bytes.npz", "expected real numbers")
    np.savez(d / "bad_bin_size.npz", data=_counts(), bin_size_s=-0.05)
    neural("bad_bin_size.npz", "positive")
    np.savez(d / "text_bin_size.npz", data=_counts(), bin_size_s="fast")
    neural("text_bin_size.npz", "bin_size_s")
    np.savez(d / "conditions_length.npz", data=_counts(), conditions=np.arange(TRIALS + 2))
    neural("conditions_length.npz", "one label per trial")
    np.savez(d / "channel_names.npz", data=_counts(), channel_names=np.array(["a", "b"]))
    neural("channel_names.npz", "names for 4 channels")
    np.savez(
        d / "lfads_mismatch.npz",
        train_encod_data=_counts(4, BINS),
        valid_encod_data=_counts(2, BINS + 5),
    )
    neural("lfads_mismatch.npz", "valid_encod_data")
    np.savez(d / "spikes_no_index.npz", spike_times=np.array([0.1, 0.2, 0.3]))
    neural("spikes_no_index.npz", "spike_times_index")
    np.savez(
        d / "spikes_bad_index.npz",
        spike_times=np.array([0.1, 0.2, 0.3]),
        spike_times_index=np.array([2, 1]),
    )
    neural("spikes_bad_index.npz", "increasing end")
    np.savez(d / "spikes_text.npz", spike_times=np.array(["a", "b"]), spike_times_index=[2])
    neural("spikes_text.npz", "expected real numbers")

    # ------------------------------------------------------------ HDF5 (generic)
    good_h5 = d / "good.h5"
    with h5py.File(good_h5, "w") as f:
        f["data"] = _counts()
    whole = good_h5.read_bytes()
    (d / "truncated.h5").write_bytes(whole[: len(whole) // 3])
    neural("truncated.h5", "hdf5")
    (d / "text.h5").write_text("this is a text file renamed to .h5\n")
    neural("text.h5", "hdf5")
    (d / "zip.hdf5").write_bytes((d / "good_neural.npz").read_bytes())
    neural("zip.hdf5", "hdf5")
    with h5py.File(d / "no_data.h5", "w") as f:
        f["other"] = np.zeros(3)
        f.create_group("meta")
    neural("no_data.h5", "expected an array 'data'", when="fit")
    with h5py.File(d / "data_group.h5", "w") as f:
        f.create_group("data")["x"] = np.zeros(3)
    neural("data_group.h5", "expected an array 'data'", when="fit")
    with h5py.File(d / "huge.h5", "w") as f:  # 146 TiB declared, nothing written
        f.create_dataset("data", shape=(1000, 20000, 1_000_000), dtype="f8", chunks=(1, 1, 1024))
    neural("huge.h5", "TiB")
    with h5py.File(d / "huge_recording.h5", "w") as f:
        f.create_dataset("data", shape=(10**12, 4), dtype="f4", chunks=(1024, 4))
        f.attrs["rate_hz"] = 30.0
    neural("huge_recording.h5", "GiB")
    with h5py.File(d / "four_d.h5", "w") as f:
        f["data"] = np.zeros((2, 3, 4, 5))
    neural("four_d.h5", "3-D")
    with h5py.File(d / "compound.h5", "w") as f:
        f["data"] = np.zeros((TRIALS, BINS, 3), dtype=[("x", "f8"), ("y", "f8")])
    behavior("compound.h5", "expected real numbers")
    with h5py.File(d / "complex.h5", "w") as f:
        f["data"] = _pose() * (1 + 1j)
    behavior("complex.h5", "complex")
    with h5py.File(d / "strings.h5", "w") as f:
        f["data"] = np.full((TRIALS, BINS, 3), b"abc")
    behavior("strings.h5", "expected real numbers")
    with h5py.File(d / "strings_recording.h5", "w") as f:
        f["data"] = np.full((100, 3), b"abc")
        f.attrs["rate_hz"] = 30.0
    behavior("strings_recording.h5", "expected real numbers")
    with h5py.File(d / "broken_link.h5", "w") as f:
        f["data"] = h5py.SoftLink("/nowhere")
    neural("broken_link.h5", "leads nowhere")
    with h5py.File(d / "external_link.h5", "w") as f:
        f["data"] = h5py.ExternalLink("gone.h5", "/data")
    neural("external_link.h5", "leads nowhere")
    with h5py.File(d / "bad_rate.h5", "w") as f:
        f["data"] = np.zeros((100, 3))
        f.attrs["rate_hz"] = -30.0
    neural("bad_rate.h5", "positive")

    # ------------------------------------------------------------ likelihoods and pairs (fit only)
    np.savez(d / "negative_counts.npz", data=_pose())
    poisson = ("--neural-likelihood", "poisson")  # the default, auto, would choose gaussian
    neural("negative_counts.npz", "non-negative", when="fit", args=poisson)
    np.savez(d / "fractional_counts.npz", data=np.abs(_pose()))
    neural("fractional_counts.npz", "integer", when="fit", args=poisson)
    np.savez(d / "not_binary.npz", data=_counts(channels=3))
    behavior("not_binary.npz", "0 or 1", when="fit", args=("--behavior-likelihood", "bernoulli"))
    np.savez(d / "more_trials.npz", data=_pose(trials=TRIALS + 3))
    behavior("more_trials.npz", "same trials", when="fit")
    np.savez(d / "other_bins.npz", data=_pose(bins=BINS + 7))
    behavior("other_bins.npz", "time bins", when="fit")
    np.savez(d / "other_bin_size.npz", data=_pose(), bin_size_s=0.1)
    behavior("other_bin_size.npz", "bin_size", when="fit")
    neural(
        "rate_contradicts_file",
        "make it agree",
        path=good_n,
        when="fit",
        args=("--neural-rate", "100"),
    )
    rec = d / "recording.npz"
    np.savez(rec, data=np.random.default_rng(3).poisson(1.0, size=(300, 4)), rate_hz=30.0)
    neural("tensor_with_recording", "trial tensor", path=rec, behavior=good_b, when="fit")
    neural("negative_rate", "positive", path=rec, when="fit", args=("--neural-rate", "-5"))
    neural("zero_bin_size", "expected seconds > 0", path=rec, when="fit", args=("--bin-size", "0"))
    for name, text, expected in (
        ("trials_columns", "begin,end\n0,1\n", "start_time"),
        ("trials_backwards", "start_time,stop_time\n2.0,1.0\n", "stop"),
        ("trials_beyond", "start_time,stop_time\n1.0,2.0\n50.0,60.0\n", "trial"),
    ):
        table = d / f"{name}.csv"
        table.write_text(text)
        neural(name, expected, path=rec, when="fit", args=("--trials", str(table)), names=table.name)

    # ------------------------------------------------------------ CSV (time + columns)
    (d / "header_only.csv").write_text("time,x,y\n")
    behavior("header_only.csv", "no rows")
    (d / "ragged.csv").write_text("time,x,y\n0.0,1,2\n0.1,1,2,3,4\n0.2,1\n")
    behavior("ragged.csv", "csv")
    (d / "non_numeric.csv").write_text("time,x,y\n0.0,1,2\n0.1,left,2\n0.2,1,3\n")
    behavior("non_numeric.csv", "expected numbers")
    (d / "time_backwards.csv").write_text("time,x\n0.0,1\n0.2,2\n0.1,3\n")
    behavior("time_backwards.csv", "not increasing")
    (d / "only_time.csv").write_text("time\n0.0\n0.1\n")
    behavior("only_time.csv", "expected data columns")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    behavior("binary.csv", "csv")
    (d / "complex.csv").write_text("time,x\n0.0,1+2j\n0.1,3+1j\n")
    behavior("complex.csv", "expected numbers")

    # ------------------------------------------------------------ DeepLabCut
    _dlc_csv(
        d / "broken_headerDLC_resnet50.csv",
        ["scorer,DLC,DLC", "bodyparts,nose,nose"],
        ["0,1.0,2.0"],
    )
    behavior("broken_headerDLC_resnet50.csv", "expected DeepLabCut's header")
    _dlc_csv(
        d / "bad_coordsDLC_resnet50.csv",
        ["scorer,DLC,DLC,DLC", "bodyparts,nose,nose,nose", "coords,x,y,z"],
        ["0,1.0,2.0,0.9"],
    )
    behavior("bad_coordsDLC_resnet50.csv", "x, y, likelihood")
    _dlc_csv(
        d / "text_valuesDLC_resnet50.csv",
        ["scorer,DLC,DLC,DLC", "bodyparts,nose,nose,nose", "coords,x,y,likelihood"],
        ["0,1.0,left,0.9"],
    )
    behavior("text_valuesDLC_resnet50.csv", "non-numeric")
    _dlc_csv(
        d / "no_framesDLC_resnet50.csv",
        ["scorer,DLC,DLC,DLC", "bodyparts,nose,nose,nose", "coords,x,y,likelihood"],
        [],
    )
    behavior("no_framesDLC_resnet50.csv", "no frames")
    _dlc_csv(  # labeled training frames: image paths as the index, x and y only
        d / "CollectedData_me.csv",
        ["scorer,me,me", "bodyparts,nose,nose", "coords,x,y"],
        ["labeled-data/vid1/img003.png,1.0,2.0", "labeled-data/vid1/img017.png,3.0,4.0"],
    )
    behavior("CollectedData_me.csv", "labeled training frames")
    _dlc_csv(  # the same as DeepLabCut >= 2.2 writes it: the path over three index columns
        d / "CollectedData_new.csv",
        ["scorer,,,me,me", "bodyparts,,,nose,nose", "coords,,,x,y"],
        ["labeled-data,vid1,img003.png,1.0,2.0"],
    )
    behavior("CollectedData_new.csv", "analyze_videos")
    import pandas as pd

    pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}).to_hdf(
        d / "flat_dlc.h5", key="df_with_missing"
    )
    behavior("flat_dlc.h5", "bodyparts, coords")
    with h5py.File(d / "not_a_table_dlc.h5", "w") as f:
        f["df_with_missing"] = np.zeros(3)
    behavior("not_a_table_dlc.h5", "DeepLabCut table")
    labeled = pd.DataFrame(
        [[1.0, 2.0]],
        index=pd.MultiIndex.from_tuples([("labeled-data", "vid1", "img003.png")]),
        columns=pd.MultiIndex.from_product(
            [["me"], ["nose"], ["x", "y"]], names=["scorer", "bodyparts", "coords"]
        ),
    )
    labeled.to_hdf(d / "CollectedData_me.h5", key="df_with_missing")
    behavior("CollectedData_me.h5", "labeled training frames")

    # ------------------------------------------------------------ SLEAP
    with h5py.File(d / "sleap_no_tracks.h5", "w") as f:
        f["node_names"] = [b"head", b"tail"]
        f["track_occupancy"] = np.ones((10, 1), dtype=np.uint8)
    behavior("sleap_no_tracks.h5", "tracks")
    with h5py.File(d / "sleap_bad_shape.h5", "w") as f:
        f["node_names"] = [b"head", b"tail"]
        f["tracks"] = np.zeros((1, 3, 2, 10))
    behavior("sleap_bad_shape.h5", "transposed layout")
    (d / "project.slp").write_bytes(b"\x89HDF\r\n\x1a\n")
    behavior("project.slp", "not a readable SLEAP .slp file")
    _slp_without_frames(d / "no_frames.slp")
    behavior("no_frames.slp", "expected poses on the frames of a video")

    # ------------------------------------------------------------ MATLAB
    scipy.io.savemat(d / "v5_no_numeric.mat", {"label": "hello", "notes": "none"})
    neural("v5_no_numeric.mat", "expected a variable 'data'")
    with h5py.File(d / "v73_no_numeric.mat", "w", userblock_size=512) as f:
        f["label"] = np.frombuffer(b"hello", dtype=np.uint8).astype(np.uint16)[:, None]
        f["label"].attrs["MATLAB_class"] = b"char"
    neural("v73_no_numeric.mat", "expected a variable 'data'")
    (d / "text.mat").write_text("MATLAB 5.0 MAT-file, but not really\n" * 10)
    neural("text.mat", "matlab")
    scipy.io.savemat(d / "complex.mat", {"data": _pose() * (1 + 2j)})
    behavior("complex.mat", "complex")
    scipy.io.savemat(d / "four_d.mat", {"data": np.zeros((2, 3, 4, 5))})
    neural("four_d.mat", "expected (time, channels) or (trials, time, channels)")
    scipy.io.savemat(d / "struct.mat", {"data": {"a": np.ones(3), "b": np.ones(3)}})
    neural("struct.mat", "expected real numbers")
    scipy.io.savemat(d / "cell_text.mat", {"spike_times": np.array(["a", "b"], dtype=object)})
    neural("cell_text.mat", "spike_times")
    scipy.io.savemat(d / "bad_fs.mat", {"data": np.ones((100, 3)), "fs": -1.0})
    neural("bad_fs.mat", "positive")
    with h5py.File(d / "huge_v73.mat", "w", userblock_size=512) as f:
        f.create_dataset("data", shape=(4, 10**12), dtype="f8", chunks=(4, 1024))
    neural("huge_v73.mat", "TiB")

    # ------------------------------------------------------------ NWB
    _nwb_empty(d / "no_series.nwb")
    neural("no_series.nwb", "no roiresponseseries")
    behavior("no_series_behavior.nwb", "PoseEstimation", path=d / "no_series.nwb")
    (d / "text.nwb").write_text("not an NWB file\n")
    neural("text.nwb", "hdf5")
    with h5py.File(d / "plain_h5.nwb", "w") as f:
        f["data"] = _counts()
    neural("plain_h5.nwb", "nwb")
    _nwb_images_only(d / "images_only.nwb")
    behavior("images_only.nwb", "(images, not read)")
    neural(
        "nwb_series_missing",
        "no series named",
        path=d / "no_series.nwb",
        when="fit",
        args=("--neural-series", "Fluorescence"),
    )

    # ------------------------------------------------------------ suite2p folders
    _suite2p(d / "s2p_no_F", skip=("F",))
    neural("s2p_no_F", "F.npy", path=d / "s2p_no_F", names="plane0")
    _suite2p(d / "s2p_iscell", iscell_rows=5)
    neural("s2p_iscell", "iscell", path=d / "s2p_iscell", names="iscell.npy")
    root = _suite2p(d / "s2p_empty_F")
    (root / "suite2p" / "plane0" / "F.npy").write_bytes(b"")
    neural("s2p_empty_F", "empty", path=root, names="F.npy")
    root = _suite2p(d / "s2p_bad_ops")
    (root / "suite2p" / "plane0" / "ops.npy").write_bytes(b"garbage")
    neural("s2p_bad_ops", "ops", path=root, names="ops.npy")

    # ------------------------------------------------------------ paths
    (d / "not_suite2p").mkdir()
    (d / "not_suite2p" / "notes.txt").write_text("hello")
    neural("not_suite2p", "suite2p", path=d / "not_suite2p")
    neural("missing.npz", "not found")
    (d / "notes.txt").write_text("hello")
    neural("notes.txt", "unknown file type")
    (d / "folder.npz").mkdir()
    neural("folder.npz", "a folder, not a .npz file")
    locked = d / "locked.npz"
    np.savez(locked, data=_counts())
    if os.name == "posix" and os.geteuid() != 0:
        locked.chmod(0)
        neural("locked.npz", "permission")
    with zipfile.ZipFile(d / "zip_of_text.npz", "w") as z:
        z.writestr("data.npy", "not an npy member")
    neural("zip_of_text.npz", "data")
    return cases


@functools.cache
def shared_corpus() -> list[BadCase]:
    """The corpus, written once per test session into a temporary folder (removed at exit), so
    that test modules can parametrize over it at collection time."""
    folder = Path(tempfile.mkdtemp(prefix="mmgpvae-badfiles-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return make_corpus(folder)
