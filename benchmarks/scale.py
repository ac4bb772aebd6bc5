"""Scale: an hour-long session at real sizes — peak memory and time of load, fit and export.

Two sessions are written on disk in the formats labs have:

- ``spikes``: 500 units (``--units``) as NWB-style ragged spike times in an NPZ
  (``spike_times``, ``spike_times_index``; ~5 spikes/s, driven by 3 slow latents), binned at
  20 ms (180,000 bins per hour), with a DeepLabCut ``.h5`` of 10 body parts (20 pose channels)
  at 50 Hz;
- ``suite2p``: a suite2p ``plane0`` folder (``F.npy``, ``Fneu.npy``, ``spks.npy`` float32
  ``(ROIs, frames)``, ``iscell.npy``, ``ops.npy``, ``stat.npy``) of 5,000 ROIs (``--rois``) at
  30 Hz (108,000 frames per hour, binned at the frame rate), with the same pose at 30 Hz.

Then, each stage in a fresh process (so its peak is its own): ``load`` (``load_pair``, windows of
``--window`` s), ``fit`` (``mmgpvae fit … --window 4 --epochs E`` as a user runs it, project
saved at the end) and ``export`` (``mmgpvae export-latents RUN --out lat.npz --continuous``).
Each reports its wall time, the process's peak RSS (``ru_maxrss``, which counts pages of
memory-mapped files it touched) and the peak of its anonymous memory (``RssAnon`` sampled every
2 ms: what the process itself allocated), and the fit its seconds per epoch (from the project's
history; the first epoch is left out when there are more) and per hour of data, and its wall
time and peak in each phase: set-up before the first epoch (likelihood choice, checks, initial
length-scale and statistics), the epochs, writing the project.

    python benchmarks/scale.py                       # 1 hour each (~7 GB of disk), 2 epochs
    python benchmarks/scale.py --minutes 5           # a quick check
    python benchmarks/scale.py --cases spikes --minutes 10 --no-write

Writes the "Scale" section of ``benchmarks/RESULTS.md`` (``--no-write``: print only). Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSE_PARTS = 10  # × (x, y) = 20 pose channels


# ---------------------------------------------------------------------------- the data
def _latents(n: int, rate_hz: float, seed: int, k: int = 3) -> np.ndarray:
    """(n, k) smooth latents in [-1, 1]: sums of slow sinusoids (periods 2–20 s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    out = np.zeros((n, k), dtype=np.float32)
    for j in range(k):
        for _ in range(3):
            f = rng.uniform(0.05, 0.5)
            out[:, j] += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    return out / 3


def write_spikes(path: Path, n_units: int, seconds: float, seed: int = 0) -> Path:
    """Ragged spike times (NWB's ``/units`` layout) of ``n_units`` units in an NPZ."""
    rng = np.random.default_rng(seed)
    dt = 0.001
    n = int(round(seconds / dt))
    z = _latents(n, 1 / dt, seed)
    times, ends = [], []
    total = 0
    for _u in range(n_units):
        base = rng.lognormal(np.log(4.0), 0.5)
        w = rng.normal(0, 0.6, z.shape[1]).astype(np.float32)
        rate = base * np.exp(z @ w)  # spikes/s, per 1-ms step
        counts = rng.poisson(rate * dt)
        idx = np.repeat(np.arange(n), counts)
        st = (idx + rng.random(idx.size)) * dt
        times.append(st)
        total += st.size
        ends.append(total)
    np.savez(
        path,
        spike_times=np.concatenate(times),
        spike_times_index=np.asarray(ends, dtype=np.int64),
        channel_names=np.array([f"unit{i}" for i in range(n_units)]),
    )
    return path


def write_pose(path: Path, seconds: float, rate_hz: float, seed: int = 1) -> Path:
    """A DeepLabCut ``.h5`` (``df_with_missing``) of ``POSE_PARTS`` body parts."""
    import pandas as pd

    n = int(round(seconds * rate_hz))
    rng = np.random.default_rng(seed)
    z = _latents(n, rate_hz, seed + 100).astype(np.float64)
    cols = pd.MultiIndex.from_product(
        [["DLC_resnet50_scaleJan1shuffle1_1000"], [f"part{i}" for i in range(POSE_PARTS)],
         ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    data = np.empty((n, len(cols)))
    for i in range(POSE_PARTS):
        for c in range(2):
            w = rng.normal(0, 40, z.shape[1])
            data[:, 3 * i + c] = 300 + z @ w + rng.normal(0, 2, n)
        data[:, 3 * i + 2] = rng.uniform(0.7, 1.0, n)  # above the 0.6 threshold: nothing missing
    pd.DataFrame(data, columns=cols).to_hdf(path, key="df_with_missing", mode="w")
    return path


def write_suite2p(root: Path, n_roi: int, seconds: float, fs: float = 30.0, seed: int = 2) -> Path:
    """A suite2p ``plane0`` folder: F, Fneu, spks float32 (ROIs, frames), iscell, ops, stat."""
    plane = root / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    n = int(round(seconds * fs))
    rng = np.random.default_rng(seed)
    z = _latents(n, fs, seed)
    files = {
        k: np.lib.format.open_memmap(plane / f"{k}.npy", "w+", np.float32, (n_roi, n))
        for k in ("F", "Fneu", "spks")
    }
    block = 64
    for i in range(0, n_roi, block):
        m = min(block, n_roi - i)
        w = rng.normal(0, 1, (m, z.shape[1])).astype(np.float32)
        drive = np.maximum(w @ z.T, 0)  # (m, frames) ≥ 0
        neu = 50 + 5 * rng.standard_normal((m, n), dtype=np.float32)
        files["Fneu"][i : i + m] = neu
        f = 0.7 * neu + 100 + 60 * drive + 8 * rng.standard_normal((m, n), dtype=np.float32)
        files["F"][i : i + m] = f
        files["spks"][i : i + m] = np.maximum(np.diff(drive, axis=1, prepend=0), 0) * 30
    for a in files.values():
        a.flush()
    del files
    iscell = np.column_stack([np.ones(n_roi), rng.uniform(0.5, 1.0, n_roi)])
    np.save(plane / "iscell.npy", iscell)
    np.save(plane / "ops.npy", {"fs": fs, "nframes": n, "tau": 1.0, "Ly": 512, "Lx": 512})
    stat = np.empty(n_roi, dtype=object)
    for i in range(n_roi):
        y, x = np.divmod(rng.integers(0, 512 * 512), 512)
        ypix, xpix = np.meshgrid(np.arange(y, y + 5) % 512, np.arange(x, x + 5) % 512)
        stat[i] = {
            "ypix": ypix.ravel(), "xpix": xpix.ravel(), "lam": np.full(25, 0.04, np.float32),
            "med": [int(y) + 2, int(x) + 2], "npix": 25, "radius": 2.5, "compact": 1.0,
        }
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    return plane


CASES = {
    # name: (neural channels option, neural bin rate Hz, pose rate Hz)
    "spikes": ("units", 50.0, 50.0),
    "suite2p": ("rois", 30.0, 30.0),
}


def write_case(case: str, folder: Path, a: argparse.Namespace) -> tuple[Path, Path]:
    seconds = a.minutes * 60
    folder.mkdir(parents=True, exist_ok=True)
    if case == "spikes":
        neural = write_spikes(folder / "units.npz", a.units, seconds)
    else:
        neural = write_suite2p(folder, a.rois, seconds)
    pose = write_pose(folder / "poseDLC_resnet50_scale.h5", seconds, CASES[case][2])
    return neural, pose


# ---------------------------------------------------------------------------- one stage
class _AnonPeak:
    """The peak of this process's anonymous resident memory (RssAnon), sampled every 2 ms (at
    20 ms, a step's or a write's working arrays could come and go unseen)."""

    def __init__(self, limit_bytes: float = 0, on_limit=None) -> None:
        self.peak = self.phase_peak = 0
        self.limit, self.on_limit = limit_bytes, on_limit
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    _status = None

    @classmethod
    def now(cls) -> int:
        if cls._status is None:
            cls._status = os.open("/proc/self/status", os.O_RDONLY)
        text = os.pread(cls._status, 8192, 0).decode()
        at = text.find("RssAnon:")
        return int(text[at + 8 : text.index("kB", at)]) * 1024 if at >= 0 else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.now()
            self.peak, self.phase_peak = max(self.peak, now), max(self.phase_peak, now)
            if self.limit and self.peak > self.limit and self.on_limit is not None:
                self.on_limit(self.peak)
            self._stop.wait(0.002)

    def mark(self) -> int:
        """The peak since the last mark (or the start); the next one starts from now."""
        now = self.now()
        peak, self.phase_peak = max(self.phase_peak, now), now
        return peak

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return max(self.peak, self.now())


def run_stage(a: argparse.Namespace) -> None:
    """In a fresh process: one stage, then one JSON line on stdout."""
    import torch

    torch.set_num_threads(a.threads)
    from mmgpvae_core import cli

    folder = Path(a.data_dir) / a.case
    neural = next(p for p in (folder / "units.npz", folder / "suite2p" / "plane0") if p.exists())
    pose = folder / "poseDLC_resnet50_scale.h5"
    run = folder / f"run-{a.label}.mmgp"
    rate = CASES[a.case][2]
    base = _AnonPeak.now()
    t = time.perf_counter()

    phases: dict = {}  # fit: peak anon MB and seconds of set-up, training, writing the project
    current = ["set-up", t]

    def enter(name: str) -> None:
        now = time.perf_counter()
        phases[current[0]] = {"peak_anon_mb": sampler.mark() / 2**20, "wall_s": now - current[1]}
        current[:] = [name, now]

    def over(peak: int) -> None:  # a shared machine: stop before it runs out of memory
        info = {"stopped": True, "wall_s": time.perf_counter() - t, "base_anon_mb": base / 2**20,
                "peak_anon_mb": peak / 2**20,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if a.stage == "fit":
            info.update(stopped_in=current[0], phases=phases, **epoch_times)
        print("RESULT " + json.dumps(info), flush=True)
        os._exit(0)

    epoch_times: dict = {}
    sampler = _AnonPeak(a.max_gb * 2**30, over)
    info: dict = {}
    if a.stage == "load":
        from mmgpvae_core.loaders import load_pair

        n, b = load_pair(neural, pose, behavior_rate_hz=rate, window_s=a.window)
        info = {
            "neural": list(n.data.shape), "behavior": list(b.data.shape),
            "dtype": str(n.data.dtype), "bin_size_s": n.bin_size_s,
            "data_bytes": int(n.data.nbytes + b.data.nbytes),
        }
    elif a.stage == "fit":
        from mmgpvae_core import api

        train, save = api.fit, api.MMGPVAE.save

        def training(*args, **kw):  # the loop of epochs (after likelihoods, checks, set-up)
            enter("train")
            return train(*args, **kw)

        def saving(model, *args, **kw):  # writing the project, after the last epoch
            enter("save")
            epoch_times.update(_epoch_times(np.asarray(model.history.elapsed_s)))
            return save(model, *args, **kw)

        api.fit, api.MMGPVAE.save = training, saving
        code = cli.main([
            "fit", "--neural", str(neural), "--behavior", str(pose), "--window", str(a.window),
            "--behavior-rate", str(rate), "--epochs", str(a.epochs), "--out", str(run),
            "--quiet", "--device", a.device, "--checkpoint-every", "0", "--seed", "0",
        ])
        import h5py

        enter("end")
        with h5py.File(run, "r") as f:
            elapsed = f["history/elapsed_s"][()]
        info = {"code": code, "phases": phases, **_epoch_times(elapsed)}
    else:
        out = folder / f"latents-{a.label}.npz"
        code = cli.main(["export-latents", str(run), "--out", str(out), "--continuous"])
        with np.load(out) as z:
            info = {"code": code, "bins": int(z["time"].size), "out_mb": out.stat().st_size / 2**20}
    info["wall_s"] = time.perf_counter() - t
    info["peak_anon_mb"] = sampler.stop() / 2**20
    info["base_anon_mb"] = base / 2**20
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(info), flush=True)


def _epoch_times(elapsed: np.ndarray) -> dict:
    """Seconds of each epoch, and their mean without the first when there are more."""
    per = np.diff(np.concatenate([[0.0], elapsed]))
    if not per.size:
        return {}
    return {"epoch_s": per.tolist(),
            "s_per_epoch": float(np.mean(per[1:] if per.size > 1 else per))}


def stage(a: argparse.Namespace, case: str, name: str, label: str = "new",
          code: Path = ROOT, device: str = "cpu") -> dict:
    """One stage in a fresh process, with the ``mmgpvae_core`` of ``code`` (this checkout, or
    ``--baseline``'s), fitting on ``device``."""
    cmd = [sys.executable, __file__, "--stage", name, "--case", case, "--data-dir", a.data_dir,
           "--window", str(a.window), "--epochs", str(a.epochs), "--threads", str(a.threads),
           "--max-gb", str(a.max_gb), "--label", label, "--device", device]
    path = [str(code)] + [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": os.pathsep.join(path)}  # the code first; packages on the path kept
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if p.returncode or line is None:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"stage {name} of {case} failed (exit {p.returncode})")
    return json.loads(line[len("RESULT "):])


# ---------------------------------------------------------------------------- recovery
#: blocks of consecutive bins the recovery's cross-validation folds are made of
RECOVERY_BLOCKS = 20


def truth_latents(case: str, minutes: float) -> dict[str, tuple[np.ndarray, float]]:
    """The latents each writer drew, as (samples, 3) and their rate: the neural ones (spikes
    at 1 kHz, seed 0; suite2p at 30 Hz, seed 2) and the pose's (seed 101)."""
    seconds = minutes * 60
    neural_rate, neural_seed = (1000.0, 0) if case == "spikes" else (30.0, 2)
    pose_rate = CASES[case][2]
    return {
        "neural": (_latents(int(round(seconds * neural_rate)), neural_rate, neural_seed),
                   neural_rate),
        "pose": (_latents(int(round(seconds * pose_rate)), pose_rate, 101), pose_rate),
    }


def recovery(case: str, latents_path: Path, minutes: float) -> dict:
    """Cross-validated R² of the best affine map from the stitched latents (every subspace)
    to the latents that drew the neural data and the pose (folds: ``RECOVERY_BLOCKS`` blocks
    of consecutive bins)."""
    from mmgpvae_core.config import SUBSPACES
    from mmgpvae_core.evaluation.recovery import cv_r2

    with np.load(latents_path) as z:
        t = z["time"]
        x = np.hstack([z[k] for k in SUBSPACES if k in z.files])
    m = len(t) // RECOVERY_BLOCKS * RECOVERY_BLOCKS
    out = {}
    for name, (truth, rate) in truth_latents(case, minutes).items():
        y = truth[np.clip((t * rate).astype(int), 0, len(truth) - 1)]
        out[name] = cv_r2(x[:m].reshape(RECOVERY_BLOCKS, -1, x.shape[1]),
                          y[:m].reshape(RECOVERY_BLOCKS, -1, y.shape[1]))
    return out


# ---------------------------------------------------------------------------- report
def report(a: argparse.Namespace, results: dict, load0, load1, minutes_total: float) -> str:
    first = results[next(iter(results))]
    lines = [
        "## Scale: hour-long sessions (benchmarks/scale.py)",
        "",
        f"`benchmarks/scale.py --minutes {a.minutes:g} --epochs {a.epochs} --window {a.window:g}"
        + (" --baseline DIR" if a.baseline else "") + "`"
        f", run {datetime.now():%Y-%m-%d %H:%M}, {minutes_total:.1f} min in all; torch "
        f"{_torch_version()}, {a.threads} thread(s) per process, {os.cpu_count()} CPU cores "
        f"visible; load average at start {load0}, at end {load1}.",
        "",
        f"- spikes: {a.units} units, ragged spike times (NPZ, NWB `/units` layout), binned at "
        f"20 ms; DeepLabCut `.h5`, {POSE_PARTS} body parts (x, y) at 50 Hz.",
        f"- suite2p: a `plane0` folder of {a.rois} ROIs (F, Fneu, spks float32), all `iscell`, at "
        "30 Hz, F − 0.7·Fneu binned at the frame rate; the same pose at 30 Hz.",
        "- Every stage runs in a fresh process. *data MB*: the binned tensors (neural + behavior) "
        "as loaded. *peak anon*: peak anonymous memory (RssAnon, sampled every 2 ms) — what the "
        "process allocated, torch and Python included (~"
        f"{first['load']['base_anon_mb']:.0f} MB before the stage); *peak "
        "RSS*: `ru_maxrss`, which also counts touched pages of memory-mapped input files. "
        "*× data*: (peak anon − anon before the stage) / data MB. Fit: `mmgpvae fit --window "
        f"{a.window:g}` with default settings (likelihoods auto, batch 25), the project written "
        "at the end; s/epoch leaves out the first epoch when there are more; *set-up* and "
        "*write*: seconds before the first epoch and writing the project. Export: "
        "`mmgpvae export-latents RUN --out lat.npz --continuous`; *R²*: cross-validated R² of "
        "an affine map from the stitched latents (every subspace) to the latents that drew the "
        f"neural data / the pose ({RECOVERY_BLOCKS} folds of consecutive bins)."
        + (" *code*: `before` is `--baseline` (the code before this change), `new` this "
           "checkout; their stages ran interleaved (fit before, fit new, export before, export "
           "new) on the same data." if a.baseline else ""),
        "",
        "| case | bins × neural + behavior channels | windows | data MB | code | stage | wall s | "
        "peak anon MB | × data | peak RSS MB | s/epoch | set-up s | write s | R² neural / pose |",
        "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case, r in results.items():
        ld = r["load"]
        n, b = ld["neural"], ld["behavior"]
        data_mb = ld["data_bytes"] / 2**20
        head = f"| {case} | {n[0] * n[1]:,} × {n[2]:,} + {b[2]} | {n[0]} | {data_mb:,.0f} |"
        lines.append(head + f" | load | {ld['wall_s']:.1f} | {ld['peak_anon_mb']:,.0f} | "
                     f"{(ld['peak_anon_mb'] - ld['base_anon_mb']) / data_mb:.1f}× | "
                     f"{ld['peak_rss_mb']:,.0f} | | | | |")
        for name in ("fit", "export"):
            for label, v in r["versions"].items():
                lines.append(head + f" {label} | {name} | " + _cells(a, v[name], name, data_mb))
    lines.append("")
    for case, r in results.items():
        data_mb = r["load"]["data_bytes"] / 2**20
        for label, v in r["versions"].items():
            base = v["fit"].get("base_anon_mb", 0.0)
            phases = "; ".join(
                f"{PHASES[k]} {p['wall_s']:.0f} s, peak anon {p['peak_anon_mb']:,.0f} MB "
                f"({(p['peak_anon_mb'] - base) / data_mb:.1f}×)"
                for k, p in v["fit"].get("phases", {}).items() if k in PHASES
            )
            lines.append(f"- {case}, {label}: fit epochs (s): "
                         + ", ".join(f"{x:.1f}" for x in v["fit"].get("epoch_s", []))
                         + (f"; fit by phase: {phases}" if phases else ""))
        lines.append(f"- {case}: data {r['load']['dtype']}, written in {r['write_s']:.0f} s "
                     f"({r['disk_mb']:,.0f} MB on disk)")
        if text := marginal(r):
            lines.append(f"- {case}: {text}")
    lines += [x.format(threads=a.threads) for x in gpu_ratio(results)]
    return "\n".join(lines) + "\n"


def _cells(a: argparse.Namespace, s: dict, name: str, data_mb: float) -> str:
    """The cells from *wall s* on of one stage's row."""
    if s.get("skipped"):
        return "skipped (no fit) | | | | | | | |"
    if s.get("stopped"):
        where = f" ({s['stopped_in']})" if s.get("stopped_in") else ""
        return (f"stopped at {s['wall_s']:.0f} s{where} | > {a.max_gb * 1024:,.0f} | > "
                f"{(a.max_gb * 1024 - s['base_anon_mb']) / data_mb:.1f}× | "
                f"{s['peak_rss_mb']:,.0f} | | | | |")
    phases = s.get("phases", {})
    spe = f"{s['s_per_epoch']:.1f}" if "s_per_epoch" in s else ""
    setup = f"{phases['set-up']['wall_s']:.0f}" if "set-up" in phases else ""
    write = f"{phases['save']['wall_s']:.0f}" if "save" in phases else ""
    r2 = s.get("recovery")
    r2 = f"{r2['neural']:.3f} / {r2['pose']:.3f}" if r2 else ""
    return (f"{s['wall_s']:.1f} | {s['peak_anon_mb']:,.0f} | "
            f"{(s['peak_anon_mb'] - s['base_anon_mb']) / data_mb:.1f}× | "
            f"{s['peak_rss_mb']:,.0f} | {spe} | {setup} | {write} | {r2} |")


#: the fit stage's phases, as the report names them
PHASES = {
    "set-up": "set-up before the first epoch (likelihood choice, checks, ℓ₀, initialisation)",
    "train": "epochs",
    "save": "writing the project",
}


def _torch_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("torch")


def write_section(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pat = re.compile(r"^## Scale: .*?(?=^## |\Z)", re.S | re.M)
    new = pat.sub(lambda _: text + "\n", old) if pat.search(old) else old.rstrip() + "\n\n" + text
    path.write_text(new)


def _has_cuda() -> bool:
    """Whether this machine has a CUDA device (then the fit also runs there: row ``cuda``)."""
    import torch

    return torch.cuda.is_available()


def gpu_ratio(results: dict) -> list[str]:
    """The CPU/GPU ratio of seconds per epoch of each case that ran on both."""
    out = []
    for case, r in results.items():
        versions = r["versions"]
        cpu, gpu = versions.get("new", {}).get("fit", {}), versions.get("cuda", {}).get("fit", {})
        if "s_per_epoch" in cpu and "s_per_epoch" in gpu:
            ratio = cpu["s_per_epoch"] / gpu["s_per_epoch"]
            out.append(f"- {case}: CPU/GPU time per epoch {ratio:.1f}× "
                       f"({cpu['s_per_epoch']:.2f} s on {{threads}} CPU thread(s), "
                       f"{gpu['s_per_epoch']:.2f} s on the GPU)")
    return out


def control_run(a: argparse.Namespace, case: str) -> dict:
    """The fixed cost: load and fit (this checkout) of a ``--control-minutes`` session of the
    same case — what a fit holds whatever the session's length (imports, torch's optimizer
    machinery, a step's working arrays at this many channels)."""
    c = argparse.Namespace(**{**vars(a), "minutes": a.control_minutes,
                              "data_dir": str(Path(a.data_dir) / "control")})
    folder = Path(c.data_dir) / case
    if not folder.exists():
        write_case(case, folder, c)
    out = {"minutes": c.minutes, "load": stage(c, case, "load"), "fit": stage(c, case, "fit")}
    print(f"{case} control: {json.dumps(out)}", file=sys.stderr)
    return out


def marginal(r: dict, label: str = "new") -> str:
    """The fit's memory beyond the control's fixed cost, per MB of data beyond the control's."""
    c = r.get("control")
    fit = r["versions"].get(label, {}).get("fit", {})
    if not c or "peak_anon_mb" not in fit or fit.get("stopped"):
        return ""
    data, c_data = r["load"]["data_bytes"] / 2**20, c["load"]["data_bytes"] / 2**20
    if data <= c_data:  # a control as long as the session: no data beyond it
        return ""
    fixed = c["fit"]["peak_anon_mb"] - c["fit"]["base_anon_mb"]
    beyond = (fit["peak_anon_mb"] - fit["base_anon_mb"] - fixed) / (data - c_data)
    return (f"fixed cost (the fit of a {c['minutes']:g}-min session of the same case, "
            f"{c_data:,.0f} MB of data): {fixed:,.0f} MB over the process at start; the "
            f"{label} fit's peak beyond it: {beyond:.2f}× the data beyond that session's")


def _du(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0, help="session length (default 60)")
    p.add_argument("--cases", nargs="+", choices=tuple(CASES), help="default: all")
    p.add_argument("--units", type=int, default=500)
    p.add_argument("--rois", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--window", type=float, default=4.0, help="seconds per window (default 4)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-gb", type=float, default=12.0,
                   help="stop a stage whose anonymous memory passes this (default 12)")
    p.add_argument("--data-dir", help="where to write the sessions (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the data folder")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    p.add_argument("--baseline", metavar="DIR",
                   help="a checkout of the code before a change (e.g. `git archive REV | tar -x "
                   "-C DIR`): its fit and export run interleaved with this checkout's, on the "
                   "same data and load, and the report has a row for each")
    p.add_argument("--control-minutes", type=float, default=2.0,
                   help="also fit a session this long of each case, for the fixed cost "
                   "beside the data-proportional one (default 2; 0: none)")
    p.add_argument("--label", default="new", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    p.add_argument("--stage", choices=("load", "fit", "export"), help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument(
        "--smoke", action="store_true",
        help="30 s of 20 ROIs (the suite2p case unless --cases; app_scale.py --smoke runs the "
        "spikes writer), 1 epoch, nothing written: only checks that the script still runs",
    )
    a = p.parse_args()
    if a.smoke and not a.stage:
        a.minutes, a.units, a.rois, a.epochs, a.no_write = 0.5, 10, 20, 1, True
        a.control_minutes = 0.25
        a.data_dir, a.keep = None, False
        a.cases = a.cases or ["suite2p"]
    a.cases = a.cases or list(CASES)
    if a.stage:
        run_stage(a)
        return
    t_all = time.perf_counter()
    load0 = [f"{x:.2f}" for x in os.getloadavg()]
    own = a.data_dir is None
    a.data_dir = a.data_dir or tempfile.mkdtemp(prefix="mmgpvae-scale-")
    results: dict = {}
    try:
        for case in a.cases:
            folder = Path(a.data_dir) / case
            t = time.perf_counter()
            if not folder.exists():
                write_case(case, folder, a)
            r: dict = {"write_s": time.perf_counter() - t, "disk_mb": _du(folder)}
            print(f"{case}: wrote {r['disk_mb']:,.0f} MB in {r['write_s']:.0f} s", file=sys.stderr)
            r["load"] = stage(a, case, "load")
            print(f"{case} load: {json.dumps(r['load'])}", file=sys.stderr)
            versions = ([("before", Path(a.baseline), "cpu")] if a.baseline else []) + [
                ("new", ROOT, "cpu")] + ([("cuda", ROOT, "cuda")] if _has_cuda() else [])
            r["versions"] = {label: {} for label, _, _ in versions}
            for name in ("fit", "export"):
                for label, code, device in versions:
                    v = r["versions"][label]
                    if name == "export" and v["fit"].get("stopped"):
                        v[name] = {"skipped": True}
                        continue
                    v[name] = stage(a, case, name, label, code, device)
                    if name == "export":
                        v[name]["recovery"] = recovery(
                            case, folder / f"latents-{label}.npz", a.minutes)
                    print(f"{case} {label} {name}: {json.dumps(v[name])}", file=sys.stderr)
            if a.control_minutes > 0:
                r["control"] = control_run(a, case)
            results[case] = r
            if own and not a.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if own and not a.keep:
            shutil.rmtree(a.data_dir, ignore_errors=True)
    load1 = [f"{x:.2f}" for x in os.getloadavg()]
    text = report(a, results, load0, load1, (time.perf_counter() - t_all) / 60)
    print(text)
    if not a.no_write:
        write_section(text, Path(a.out))


if __name__ == "__main__":
    main()
