"""SLEAP analysis ``.h5``: ``tracks`` stored transposed, ``tracks[:].T`` is
``(frames, nodes, 2, tracks)``; ``node_names`` (bytes), optional ``track_names``; NaN = missing.

Read with h5py (sleap-io is not needed for the analysis layout). Channels are ``<node>_x``,
``<node>_y`` (``<track>_<node>_x`` with several tracks). The file does not carry the frame rate
unless it has a scalar ``fps`` (or ``video_fps``) dataset or attribute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgpvae_core.data import DataError, file_checksum, real_dtype_problem
from mmgpvae_core.loaders.checks import read_h5
from mmgpvae_core.loaders.recording import Recording, pose_names


def _strings(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def is_sleap(f) -> bool:
    return "tracks" in f and "node_names" in f


def load_sleap(path: str | Path, **_) -> Recording:
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, "-", f"not a readable HDF5 file ({exc})") from None
    with f:
        if not is_sleap(f):
            missing = "tracks" if "tracks" not in f else "node_names"
            raise DataError(
                path,
                missing,
                f"not found; the file has {sorted(f.keys())}; expected a SLEAP "
                "analysis file with 'tracks' and 'node_names'",
            )
        if not isinstance(f["tracks"], h5py.Dataset) or not isinstance(
            f["node_names"], h5py.Dataset
        ):
            raise DataError(path, "tracks", "a group, not an array; expected a SLEAP analysis file")
        nodes = _strings(read_h5(path, f["node_names"]))
        tracks = f["tracks"]
        if tracks.ndim != 4 or tracks.shape[1] != 2 or tracks.shape[2] != len(nodes):
            raise DataError(
                path,
                "tracks",
                f"shape {tracks.shape}; expected (tracks, 2, nodes={len(nodes)}, "
                "frames), the transposed layout SLEAP writes",
            )
        n_tracks = tracks.shape[0]
        names = _strings(f["track_names"][()]) if "track_names" in f else []
        if len(names) != n_tracks:
            names = [f"track{i}" for i in range(n_tracks)]
        arr = read_h5(path, tracks)
        problem = real_dtype_problem(arr.dtype)
        if problem:
            raise DataError(path, "tracks", problem)
        arr = arr.astype(np.float64, copy=False)  # (tracks, 2, nodes, frames)
        rate, rate_from = None, None
        for key in ("fps", "video_fps"):
            v = f[key][()] if key in f else f.attrs.get(key)
            v = None if v is None else np.asarray(v, dtype=np.float64).ravel()
            if v is not None and v.size == 1 and v[0] > 0:
                rate, rate_from = float(v[0]), key
                break
    # (frames, tracks, nodes, 2) -> (frames, tracks * nodes * 2)
    values = np.ascontiguousarray(arr.transpose(3, 0, 2, 1)).reshape(arr.shape[3], -1)
    layout = [
        (names[t] if n_tracks > 1 else "", node, c)
        for t in range(n_tracks)
        for node in nodes
        for c in ("x", "y")
    ]
    return Recording(
        values=values,
        channel_names=pose_names(layout),
        source=str(path),
        field="tracks",
        kind="sleap",
        rate_hz=rate,
        rate_from=rate_from,
        pose_layout=layout,
        checksum=file_checksum(path),
    )
