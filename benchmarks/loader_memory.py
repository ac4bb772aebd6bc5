"""Peak memory of loading and binning a long two-modality session, relative to its raw arrays.

Builds, in a temporary folder, a suite2p plane folder (``--rois`` ROIs at 30 Hz: F, Fneu, spks
float32, iscell, ops) and a DeepLabCut file (``--keypoints`` body parts at 100 Hz, ``.h5`` or
``.csv``) covering ``--minutes`` minutes, then runs ``load_pair`` (F − 0.7·Fneu, 10-s windows,
``--bin-size`` bins) under tracemalloc. The raw size is the chosen neural signal as float32
``(frames, ROIs)`` plus the DeepLabCut table as float64 ``(frames, keypoints × 3)``: the goal is a
peak below two copies of that.

    python benchmarks/loader_memory.py                 # the 1-hour, 2000-ROI case (~2.6 GB disk)
    python benchmarks/loader_memory.py --minutes 5     # a quick run

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)


def write_suite2p(root: Path, n_roi: int, n_frames: int, fs: float) -> Path:
    plane = root / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, base in (("F", 200.0), ("Fneu", 50.0), ("spks", 0.0)):
        arr = np.lib.format.open_memmap(plane / f"{name}.npy", "w+", np.float32, (n_roi, n_frames))
        for i in range(0, n_roi, 100):
            block = rng.standard_normal((min(100, n_roi - i), n_frames), dtype=np.float32)
            arr[i : i + 100] = base + 10 * block if base else np.abs(block)
        arr.flush()
        del arr
    iscell = np.ones((n_roi, 2))
    iscell[::10, 0] = 0
    np.save(plane / "iscell.npy", iscell)
    np.save(plane / "ops.npy", {"fs": fs})
    return plane


def write_dlc(root: Path, n_kp: int, n_frames: int, fmt: str) -> Path:
    import pandas as pd

    cols = pd.MultiIndex.from_product(
        [
            ["DLC_resnet50_benchJan1shuffle1_1000"],
            [f"kp{i}" for i in range(n_kp)],
            ["x", "y", "likelihood"],
        ],
        names=["scorer", "bodyparts", "coords"],
    )
    rng = np.random.default_rng(1)
    data = rng.random((n_frames, len(cols))) * 500
    data[:, 2::3] = rng.random((n_frames, n_kp))
    df = pd.DataFrame(data, columns=cols)
    del data
    path = root / f"videoDLC_resnet50_bench.{fmt}"
    if fmt == "h5":
        df.to_hdf(path, key="df_with_missing", mode="w")
    else:
        df.to_csv(path, float_format="%.3f")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--rois", type=int, default=2000)
    p.add_argument("--keypoints", type=int, default=20)
    p.add_argument("--bin-size", type=float, default=0.1)
    p.add_argument("--dlc-format", choices=("h5", "csv"), default="h5")
    ttf.add_smoke_argument(p, "30 s of 20 ROIs and 2 keypoints")
    a = p.parse_args()
    if a.smoke:
        a.minutes, a.rois, a.keypoints = 0.5, 20, 2

    from mmgpvae_core.loaders import load_pair

    n_img = int(a.minutes * 60 * 30)
    n_pose = int(a.minutes * 60 * 100)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        plane = write_suite2p(root, a.rois, n_img, 30.0)
        dlc = write_dlc(root, a.keypoints, n_pose, a.dlc_format)
        print(f"wrote the session in {time.perf_counter() - t:.1f} s")
        kept = a.rois - len(range(0, a.rois, 10))
        raw = kept * n_img * 4 + n_pose * a.keypoints * 3 * 8
        tracemalloc.start()
        t = time.perf_counter()
        neural, behavior = load_pair(plane, dlc, behavior_rate_hz=100.0, bin_size_s=a.bin_size)
        elapsed = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB on Linux
    gib = 1024**3
    print(f"neural {neural.data.shape}, behavior {behavior.data.shape}, {elapsed:.1f} s")
    print(f"raw arrays        {raw / gib:6.2f} GiB")
    print(f"peak (tracemalloc) {peak / gib:6.2f} GiB = {peak / raw:.2f} x raw")
    print(f"max RSS (process)  {rss:6.2f} GiB (includes memory-mapped pages and the writers)")
    if a.smoke:
        print("smoke run: too small for the ratio to mean anything (fixed costs dominate)")
    else:
        print("OK: under two copies" if peak < 2 * raw else "FAIL: more than two copies")


if __name__ == "__main__":
    main()
