"""The real S1 sample (``shared/real-samples/paired/s1_area2_reaching.mat``: 35,129 bins of
50 ms, ``spikes`` of 52 units as counts, hand ``vel`` 2 channels, 29 min, no time vector) as a
continuous session: a few minutes written as CSVs of time + columns and read back by the
project's own loaders, which cut them into consecutive ``--window`` windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

S1 = (
    Path(__file__).resolve().parents[1].parent
    / "shared" / "real-samples" / "paired" / "s1_area2_reaching.mat"
)
needs_s1 = pytest.mark.skipif(not S1.is_file(), reason="shared/real-samples/paired is absent")
BIN_S = 0.05


def s1_files(folder: Path, minutes: float, reverse: bool = False) -> tuple[Path, Path]:
    """The first ``minutes`` of the session as ``neural.csv`` (spike counts) and
    ``behavior.csv`` (hand velocity; reversed in time when ``reverse``)."""
    import scipy.io

    m = scipy.io.loadmat(S1, variable_names=["spikes", "vel"])
    n = int(round(minutes * 60 / BIN_S))
    spikes, vel = m["spikes"][:n].astype(float), m["vel"][:n]
    if reverse:
        vel = vel[::-1]
    t = np.arange(n) * BIN_S
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "neural.csv", folder / "behavior.csv"
    for path, x, names in (
        (paths[0], spikes, [f"unit{i}" for i in range(spikes.shape[1])]),
        (paths[1], vel, ["vel_x", "vel_y"]),
    ):
        np.savetxt(
            path, np.column_stack([t, x]), delimiter=",", fmt="%.6g",
            header=",".join(["time", *names]), comments="",
        )
    return paths


def s1_session(folder: Path, minutes: float = 3.0, window_s: float = 2.0, reverse: bool = False):
    """(neural, behavior) Datasets of :func:`s1_files`, cut into ``window_s`` windows, the
    velocity z-scored."""
    from mmgpvae_core.loaders import load_pair

    neural, behavior = s1_files(folder, minutes, reverse)
    return load_pair(neural, behavior, window_s=window_s, behavior_options={"zscore": True})
