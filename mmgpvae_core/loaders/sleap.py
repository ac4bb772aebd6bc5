"""SLEAP pose: analysis ``.h5`` exports and ``.slp`` project / prediction files.

Channels are ``<node>_x``, ``<node>_y`` (``<track>_<node>_x`` with several tracks); NaN = missing.
With ``likelihood_threshold`` given, points whose SLEAP score is under it become missing too
(SLEAP has already dropped the points under its own peak threshold, so there is no default).

- Analysis ``.h5`` (File > Export Analysis HDF5, ``sleap-convert --format analysis``): read with
  h5py. SLEAP stores the arrays transposed, ``tracks`` ``(tracks, 2, nodes, frames)``; files that
  sleap-io writes name their axis order in a ``dims`` attribute, which is followed. Not read with
  sleap-io: its reader builds one Python object per instance (seconds per 10⁵ instances), needs
  every score dataset, and drops the empty frames at the end of the file, which shifts nothing
  but shortens the recording; the arrays are already what we need.
- ``.slp`` (a SLEAP project, or ``sleap-track`` predictions): read with sleap-io
  (``load_slp(lazy=True)`` then ``Labels.numpy``), the SLEAP team's reader of the format. Frame
  ``i`` of the video is sample ``i`` (unlabeled frames are missing); a file with several videos
  needs one named (``series``: file name, stem or index). User-labeled instances win over
  predictions on the same track, as in SLEAP.

Neither carries the frame rate unless the file has an ``fps`` (or ``video_fps``) value, or the
video's metadata in the .slp has ``fps``: pass it (``--behavior-rate``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmgpvae_core.data import DataError, file_checksum, real_dtype_problem
from mmgpvae_core.loaders.checks import read_h5
from mmgpvae_core.loaders.recording import Recording, pose_names

#: SLEAP's own order of the analysis arrays (``tracks[:].T`` is ``(frames, nodes, 2, tracks)``)
_SLEAP_DIMS = ("track", "xy", "node", "frame")
#: the order the Recording is built from: ``(frames, tracks, nodes, 2)``
_CANONICAL = ("frame", "track", "node", "xy")


def _strings(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def is_sleap(f) -> bool:
    return "tracks" in f and "node_names" in f


def _dims(path: Path, f) -> tuple[str, ...]:
    """The axis names of ``tracks``: the ``dims`` attribute sleap-io writes, else SLEAP's order
    (or ``(frame, node, xy, track)`` for the old ``transpose=False`` exports)."""
    raw = f["tracks"].attrs.get("dims")
    if raw is None:
        return _SLEAP_DIMS if f.attrs.get("transpose", True) else ("frame", "node", "xy", "track")
    try:
        dims = tuple(json.loads(raw.decode() if isinstance(raw, bytes) else raw))
    except (TypeError, ValueError):
        dims = ()
    if sorted(dims) != sorted(_SLEAP_DIMS):
        raise DataError(
            path, "tracks", f"dims attribute {raw!r}; expected the axes frame, track, node, xy"
        )
    return dims


def _rate(f) -> tuple[float | None, str | None]:
    for key in ("fps", "video_fps"):
        v = f[key][()] if key in f else f.attrs.get(key)
        v = None if v is None else np.asarray(v, dtype=np.float64).ravel()
        if v is not None and v.size == 1 and v[0] > 0:
            return float(v[0]), key
    meta = f.attrs.get("video_backend_metadata")  # sleap-io's exports: the video's metadata
    try:
        fps = json.loads(meta).get("fps") if meta is not None else None
    except (TypeError, ValueError, AttributeError):
        fps = None
    if isinstance(fps, (int, float)) and fps > 0:
        return float(fps), "video_backend_metadata.fps"
    return None, None


def load_sleap(path: str | Path, *, likelihood_threshold: float | None = None, **_) -> Recording:
    """A SLEAP analysis ``.h5`` as a Recording ``(frames, tracks * nodes * 2)``."""
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
        dims = _dims(path, f) if tracks.ndim == 4 else _SLEAP_DIMS
        axis = {d: i for i, d in enumerate(dims)}
        if (
            tracks.ndim != 4
            or tracks.shape[axis["xy"]] != 2
            or tracks.shape[axis["node"]] != len(nodes)
        ):
            size = {"track": "tracks", "xy": "2", "node": f"nodes={len(nodes)}", "frame": "frames"}
            want = ", ".join(size[d] for d in dims)
            how = "the transposed layout SLEAP writes" if dims == _SLEAP_DIMS else "as its dims say"
            raise DataError(path, "tracks", f"shape {tracks.shape}; expected ({want}), {how}")
        n_tracks = tracks.shape[axis["track"]]
        names = _strings(f["track_names"][()]) if "track_names" in f else []
        if len(names) != n_tracks:
            names = [f"track{i}" for i in range(n_tracks)]
        arr = read_h5(path, tracks)
        problem = real_dtype_problem(arr.dtype)
        if problem:
            raise DataError(path, "tracks", problem)
        # -> (frames, tracks, nodes, 2)
        arr = arr.astype(np.float64, copy=False).transpose([axis[d] for d in _CANONICAL])
        scores = None
        if likelihood_threshold is not None:
            sdims = [d for d in dims if d != "xy"]
            want = tuple(tracks.shape[axis[d]] for d in sdims)
            found = (
                f["point_scores"].shape if isinstance(f.get("point_scores"), h5py.Dataset) else None
            )
            if found != want:
                raise DataError(
                    path,
                    "point_scores",
                    f"{'shape ' + str(found) if found else 'not found'}; expected {want} "
                    "(one score per point) to apply the likelihood threshold",
                )
            scores = read_h5(path, f["point_scores"]).astype(np.float64, copy=False)
            scores = scores.transpose([sdims.index(d) for d in _CANONICAL[:3]])
        rate, rate_from = _rate(f)
    return _recording(path, arr, scores, names, nodes, likelihood_threshold, rate, rate_from)


def _recording(
    path: Path,
    arr: np.ndarray,
    scores: np.ndarray | None,
    tracks: list[str],
    nodes: list[str],
    threshold: float | None,
    rate: float | None,
    rate_from: str | None,
    field: str = "tracks",
    extra: dict | None = None,
) -> Recording:
    """``arr`` ``(frames, tracks, nodes, 2)`` (scores ``(frames, tracks, nodes)``) as channels
    ``[<track>_]<node>_x|y``, in track, node, coordinate order."""
    prep = dict(extra or {})
    if threshold is not None and scores is not None:
        low = (scores < threshold) & ~np.isnan(arr).any(axis=-1)
        arr = np.array(arr, copy=True)
        arr[low] = np.nan
        prep["likelihood_threshold"] = threshold
        prep["points_masked_low_likelihood"] = int(low.sum())
    n_frames, n_tracks = arr.shape[:2]
    layout = [
        (tracks[t] if n_tracks > 1 else "", node, c)
        for t in range(n_tracks)
        for node in nodes
        for c in ("x", "y")
    ]
    return Recording(
        values=np.ascontiguousarray(arr).reshape(n_frames, -1),
        channel_names=pose_names(layout),
        source=str(path),
        field=field,
        kind="sleap",
        signal="pose",
        rate_hz=rate,
        rate_from=rate_from,
        pose_layout=layout,
        checksum=file_checksum(path),
        preprocessing=prep,
    )


# ---------------------------------------------------------------------------- .slp
def _video(path: Path, labels, series: str | None):
    """The video whose frames are read: the only one, the only one with labels, or the one
    ``series`` names."""
    videos = list(labels.videos)
    if series is not None:
        for i, v in enumerate(videos):
            fn = Path(str(v.filename))
            if series in (str(v.filename), fn.name, fn.stem, str(i)):
                return v
        names = [Path(str(v.filename)).name for v in videos]
        raise DataError(
            path, "videos", f"no video '{series}'; the file has {names} (give a name or index)"
        )
    if len(videos) == 1:
        return videos[0]
    used = [v for v in videos if labels.find(v)]
    if len(used) > 1:
        raise DataError(
            path,
            "videos",
            f"labels on {len(used)} videos {[Path(str(v.filename)).name for v in used]}; "
            "expected one recording: pick a video with --behavior-series NAME (or its index)",
        )
    return used[0] if used else videos[0]


def load_slp(
    path: str | Path,
    *,
    series: str | None = None,
    likelihood_threshold: float | None = None,
    **_,
) -> Recording:
    """A SLEAP ``.slp`` file as a Recording ``(frames, tracks * nodes * 2)`` (via sleap-io)."""
    path = Path(path)
    try:
        import sleap_io as sio
    except ImportError:
        raise DataError(
            path, "-", "reading .slp files needs sleap-io (pip install sleap-io)"
        ) from None
    try:
        labels = sio.load_slp(str(path), open_videos=False, lazy=True)
    except Exception as exc:  # noqa: BLE001 - h5py/sleap-io raise many types on bad files
        raise DataError(
            path,
            "-",
            f"not a readable SLEAP .slp file ({type(exc).__name__}: {exc}); the file may be "
            "truncated or of another type",
        ) from None
    if not labels.videos or not len(labels.labeled_frames) or not labels.skeletons:
        raise DataError(
            path,
            "labeled_frames",
            f"{len(labels.labeled_frames)} labeled frames, {len(labels.videos)} videos, "
            f"{len(labels.skeletons)} skeletons; expected poses on the frames of a video "
            "(sleap-track's predictions)",
        )
    if len(labels.skeletons) > 1:
        raise DataError(
            path,
            "skeletons",
            f"{len(labels.skeletons)} skeletons; expected one (the channels are its nodes)",
        )
    video = _video(path, labels, series)
    tracked = bool(labels.tracks)
    arr = labels.numpy(video=video, untracked=not tracked, return_confidence=True)
    arr = np.asarray(arr, dtype=np.float64)  # (frames, tracks, nodes, 3): x, y, score
    if not tracked and arr.shape[1] > 1:
        raise DataError(
            path,
            "tracks",
            f"up to {arr.shape[1]} animals per frame without tracks, so no animal is the same "
            "from frame to frame; expected tracked predictions (run SLEAP's tracker) or one "
            "animal",
        )
    if arr.shape[1] == 0:
        raise DataError(path, "labeled_frames", "no instances; expected poses on the frames")
    tracks = [t.name for t in labels.tracks] if tracked else [""]
    nodes = [n.name for n in labels.skeletons[0].nodes]
    fps = video.backend_metadata.get("fps") if video.backend_metadata else None
    ok = isinstance(fps, (int, float)) and fps > 0
    n_labeled = int((~np.isnan(arr[..., 0]).all(axis=(1, 2))).sum())
    extra = {"slp_video": str(video.filename), "frames_with_poses": n_labeled}
    return _recording(
        path,
        arr[..., :2],
        arr[..., 2],
        tracks,
        nodes,
        likelihood_threshold,
        float(fps) if ok else None,
        "video fps" if ok else None,
        field="labeled_frames",
        extra=extra,
    )
