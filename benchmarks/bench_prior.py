"""Cost of the Fourier GP prior vs the time-domain GP-VAE baseline (full T × T covariance).

Same encoders, decoders, ELBO and data size per trial; only the posterior computation differs.
Every configuration runs in a freshly forked process (a fork server imports torch once), so its
peak resident memory (``ru_maxrss``) is its own; on CUDA the peak is
``torch.cuda.max_memory_allocated``. One "epoch" is a full pass of
``training.fit`` over the trials: forward, backward, gradient clipping and an Adam step per batch.
Reported: median of a few epochs after one warm-up epoch.

Two regimes for the Fourier prior, because its cost depends on the number M of kept Fourier
coefficients, and M ≈ 1.93 · T' / ℓ_min (T' = T + 3ℓ, prune threshold 1e-8):

- "ℓ ∝ T": the trial spans a fixed number of length-scales (ℓ = T/8; e.g. the same trial binned
  more finely). M stays at 43 and the cost is O(N·D·T·M²): linear in T.
- "ℓ = 10 bins": longer trials at a fixed bin size and smoothness (what ``MMGPVAE`` does on longer
  recordings: ℓ_min = ℓ/2 from the data). M grows ∝ T, so the cost is O(N·D·(T·M² + M³)), cubic
  in T asymptotically, but with a constant (M/T)³ ≈ 1/17 of the time-domain one.

The time-domain cost does not depend on ℓ (O(N·D·T³) time, O(N·D·T²) memory), so it is measured
once per T. Run:  ``python benchmarks/bench_prior.py [--quick] [--device cpu|cuda|auto]``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import time_to_fit as ttf  # noqa: E402  (its --smoke option; this folder is on the path)

N_TRIALS = 50  # per configuration of the T sweep (2 batches of 25)
BATCH = 25
N_NEURONS = 60
DEFAULT_T = 80


# ---------------------------------------------------------------------------- worker side
def _current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run_config(spec: dict) -> dict:
    """Time training epochs of one model on one data size (runs in its own process)."""
    import torch

    torch.set_num_threads(spec["threads"])
    from mmgpvae_core.config import ModelConfig, TrainConfig
    from mmgpvae_core.model.fourier import circular_length
    from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
    from mmgpvae_core.model.time_domain import TimeDomainMMGPVAEModule
    from mmgpvae_core.synthetic.simulate import simulate
    from mmgpvae_core.training import TrainingHistory, fit, make_optimizer, resolve_device

    device = resolve_device(spec["device"])
    T, N, C, ell = spec["T"], spec["trials"], spec["neurons"], spec["ell"]
    sim = simulate(n_trials=N, n_time=T, n_neurons=C, seed=0)
    neural = torch.tensor(sim.neural.data, dtype=torch.float32, device=device)
    behavior = torch.tensor(sim.behavior.data, dtype=torch.float32, device=device)
    shape = ModelShape(
        n_neural=C,
        n_behavior=behavior.shape[-1],
        n_time=T,
        t_circ=circular_length(T, ell, 3.0),
        length_scale_init=ell,
        min_length_scale=ell / 2,
    )
    cls = TimeDomainMMGPVAEModule if spec["model"] == "time" else MMGPVAEModule
    torch.manual_seed(0)
    model = cls(ModelConfig(), shape).to(device)
    model.init_from_data(neural, behavior)
    tcfg = TrainConfig(epochs=1, batch_size=BATCH, device=spec["device"], patience=10**6)
    opt = make_optimizer(model, tcfg)
    hist = TrainingHistory()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    rss0 = _current_rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times: list[float] = []
    repeats = spec["repeats"]
    i = 0
    while i < 1 + repeats:
        sync()
        t0 = time.perf_counter()
        fit(model, neural, behavior, tcfg, optimizer=opt, history=hist)
        sync()
        times.append(time.perf_counter() - t0)
        if i == 0 and times[0] > spec["slow_epoch_s"]:
            repeats = 1  # expensive: one timed epoch after the warm-up
        i += 1
    out = {
        **spec,
        "M": int(model.basis.shape[1]),
        "epoch_s": statistics.median(times[1:]),
        "warmup_s": times[0],
        "n_timed": len(times) - 1,
        "rss_before_mb": rss0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


# ---------------------------------------------------------------------------- driver side
def _child(spec: dict, conn) -> None:
    try:
        conn.send(run_config(spec))
    except BaseException as e:  # noqa: BLE001 - report anything, including MemoryError
        conn.send({**spec, "error": f"{type(e).__name__}: {str(e)[:200]}"})
    finally:
        conn.close()


_CTX = None


def _context():
    """A fork server that has imported torch and the package once: each configuration then runs
    in a freshly forked process (its own peak RSS) without paying the import again."""
    global _CTX
    if _CTX is None:
        # Two spinning OpenMP threads on a busy 2-core machine can be 100× slower than one.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(
            [
                "torch",
                "mmgpvae_core.model.module",
                "mmgpvae_core.model.time_domain",
                "mmgpvae_core.synthetic.simulate",
                "mmgpvae_core.training",
            ]
        )
    return _CTX


def _run_subprocess(spec: dict, timeout_s: float) -> dict:
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(spec, send))
    proc.start()
    send.close()
    result = None
    if recv.poll(timeout_s):
        try:
            result = recv.recv()
        except EOFError:
            result = None
    proc.join(5)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        if result is None:
            return {**spec, "error": f"timed out after {timeout_s:.0f} s"}
    if result is None:
        return {**spec, "error": f"worker died (exit code {proc.exitcode}; out of memory?)"}
    return result


def _run_here(spec: dict, timeout_s: float) -> dict:
    """``--smoke``: one configuration in this process (no fork server; its peak is the
    process's so far); an error raises, so the smoke run fails."""
    return run_config(spec)


def _peak_mb(r: dict) -> float:
    return r.get("peak_cuda_mb", r["peak_rss_mb"])


def _train_mb(r: dict) -> float:
    """Memory the training itself added: CUDA peak, or peak RSS − RSS before the first epoch."""
    if "peak_cuda_mb" in r:
        return r["peak_cuda_mb"]
    return max(r["peak_rss_mb"] - r["rss_before_mb"], 0.0)


def _predict(prev: list[dict], T: int, max_exp: float) -> tuple[float, float]:
    """Extrapolate epoch time and training memory to T from the last two measured points, with
    the local log-log slope clamped to [1, max_exp] (time) and [1, 2] (memory)."""
    a = prev[-1]
    if len(prev) >= 2:
        b = prev[-2]
        r = math.log(a["T"] / b["T"])
        e_t = math.log(max(a["epoch_s"], 1e-6) / max(b["epoch_s"], 1e-6)) / r
        e_m = math.log(max(_train_mb(a), 1.0) / max(_train_mb(b), 1.0)) / r
    else:
        e_t, e_m = max_exp, 2.0
    e_t = min(max(e_t, 1.0), max_exp)
    e_m = min(max(e_m, 1.0), 2.0)
    k = T / a["T"]
    return a["epoch_s"] * k**e_t, max(_train_mb(a), 1.0) * k**e_m


def machine_description(device: str, threads: int) -> list[str]:
    import torch

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores visible",
        f"- torch {torch.__version__}, {threads} intra-op thread(s) per run "
        f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- device: {device}",
    ]
    if device.startswith("cuda") and torch.cuda.is_available():
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)}")
    try:
        lines.append(f"- load average at start: {open('/proc/loadavg').read().split()[:3]}")
    except OSError:
        pass
    return lines


def _fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def _slope(rows: list[tuple[int, float]]) -> float:
    """Least-squares log-log slope of time vs size."""
    xs = [math.log(t) for t, _ in rows]
    ys = [math.log(v) for _, v in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--quick", action="store_true", help="smaller sweeps, fewer repeats (~2 min)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="skip predicted slower epochs")
    p.add_argument("--max-gb", type=float, default=8.0, help="skip predicted larger memory")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--T", type=int, nargs="+", help="override the list of T values")
    ttf.add_smoke_argument(
        p,
        "T 20 and 40, 10 trials, one epoch each, in this process, nothing written",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.T, args.quick, args.no_write = args.T or [20, 40], True, True
    run = _run_here if args.smoke else _run_subprocess

    from mmgpvae_core.training import resolve_device

    device = str(resolve_device(args.device))
    if device == "mps":
        device = "cpu"  # peak memory is only measured for CPU and CUDA
    Ts = args.T or ([50, 100, 200, 400] if args.quick else [50, 100, 200, 400, 800, 1600])
    trials = [25, 50, 100] if args.quick else [25, 50, 100, 200, 400]
    neurons = [20, 50, 100] if args.quick else [20, 50, 100, 200, 400]
    if args.smoke:
        trials, neurons = [5, 10], [5, 10]
    repeats = 1 if args.quick else 3
    base = dict(
        device=device,
        threads=args.threads,
        repeats=repeats,
        slow_epoch_s=8.0,
        trials=10 if args.smoke else N_TRIALS,
        neurons=10 if args.smoke else N_NEURONS,
    )
    t_start = time.perf_counter()
    desc = machine_description(device, args.threads)
    print("\n".join(desc), flush=True)

    # --- sweep over T: time-domain once per T, Fourier in both length-scale regimes
    series = {
        "time": dict(model="time", ell=lambda T: 10.0, max_exp=3.0),
        "fourier_prop": dict(model="fourier", ell=lambda T: T / 8.0, max_exp=2.0),
        "fourier_fixed": dict(model="fourier", ell=lambda T: 10.0, max_exp=3.0),
    }
    results: dict[str, dict[int, dict]] = {k: {} for k in series}
    notes: dict[str, dict[int, str]] = {k: {} for k in series}
    for T in Ts:
        for key, s in series.items():
            done = [r for r in results[key].values() if "error" not in r]
            if any(k in notes[key] for k in Ts if k < T):
                notes[key][T] = "skipped (smaller T already skipped)"
                continue
            if done:
                t_pred, mb_pred = _predict(done, T, s["max_exp"])
                if t_pred > args.max_seconds or mb_pred > args.max_gb * 1024:
                    notes[key][T] = (
                        f"skipped: predicted {t_pred:.0f} s/epoch, {mb_pred / 1024:.1f} GB"
                    )
                    print(f"T={T:5d} {key:14s} {notes[key][T]}", flush=True)
                    continue
            spec = dict(base, model=s["model"], T=T, ell=s["ell"](T))
            r = run(spec, timeout_s=max(120.0, 4 * args.max_seconds))
            results[key][T] = r
            if "error" in r:
                notes[key][T] = r["error"]
            print(
                f"T={T:5d} {key:14s} "
                + (
                    r["error"]
                    if "error" in r
                    else f"M={r['M']:4d} {r['epoch_s']:.3f} s/epoch  train {_train_mb(r):.0f} MB"
                ),
                flush=True,
            )

    def cell(key: str, T: int, what: str) -> str:
        r = results[key].get(T)
        if r is None or "error" in r:
            return "skipped" if T in notes[key] else "—"
        if what == "s":
            return _fmt_s(r["epoch_s"])
        if what == "mb":
            return f"{_train_mb(r):.0f}"
        return str(r["M"])

    def ratio(a: str, b: str, T: int, what: str) -> str:
        ra, rb = results[a].get(T), results[b].get(T)
        if not ra or not rb or "error" in ra or "error" in rb:
            return "—"
        if what == "s":
            return f"{ra['epoch_s'] / rb['epoch_s']:.1f}×"
        return f"{max(_train_mb(ra), 1) / max(_train_mb(rb), 1):.1f}×"

    mem_label = "peak CUDA MB" if device.startswith("cuda") else "train MB (peak RSS − RSS before)"
    lines = [
        "## Prior cost: Fourier vs time-domain GP prior",
        "",
        f"{N_TRIALS} trials per T, batch {BATCH}, {N_NEURONS} neurons + 16 behavior channels, "
        "2 shared + 1 + 1 private latents, default encoders/decoders (Poisson linear neural, "
        "Gaussian MLP behavior). Seconds per training epoch (forward + backward + Adam), median "
        f"of up to {repeats} epochs after a warm-up epoch (one when the warm-up took > 8 s). "
        f"Memory: {mem_label}, each configuration in a freshly forked process. "
        "Fourier (ℓ ∝ T): ℓ = T/8, M fixed. Fourier (ℓ = 10): fixed length-scale in bins, M ∝ T. "
        "The time-domain cost does not depend on ℓ.",
        "",
        "| T | time-domain s | Fourier (ℓ∝T) s | M | ratio TD/F | Fourier (ℓ=10) s | M | "
        "ratio TD/F | TD MB | F(ℓ∝T) MB | F(ℓ=10) MB | mem ratio TD/F(ℓ∝T) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for T in Ts:
        lines.append(
            f"| {T} | {cell('time', T, 's')} | {cell('fourier_prop', T, 's')} | "
            f"{cell('fourier_prop', T, 'M')} | {ratio('time', 'fourier_prop', T, 's')} | "
            f"{cell('fourier_fixed', T, 's')} | {cell('fourier_fixed', T, 'M')} | "
            f"{ratio('time', 'fourier_fixed', T, 's')} | {cell('time', T, 'mb')} | "
            f"{cell('fourier_prop', T, 'mb')} | {cell('fourier_fixed', T, 'mb')} | "
            f"{ratio('time', 'fourier_prop', T, 'mb')} |"
        )
    lines.append("")
    for key, label in [
        ("time", "time-domain"),
        ("fourier_prop", "Fourier (ℓ ∝ T)"),
        ("fourier_fixed", "Fourier (ℓ = 10)"),
    ]:
        ok = [(T, r["epoch_s"]) for T, r in sorted(results[key].items()) if "error" not in r]
        upper = [x for x in ok if x[0] >= 200]
        if len(upper) >= 2:
            lines.append(
                f"- {label}: log-log slope of epoch time vs T over T ≥ 200: "
                f"{_slope(upper):.2f} (over all measured T: {_slope(ok):.2f})"
            )
        for T, n in sorted(notes[key].items()):
            lines.append(f"- {label}, T = {T}: {n}")
    lines.append("")

    # --- Fourier model at the default T: epoch time vs trials and vs neurons
    def sweep(name: str, values: list[int]) -> list[str]:
        out = [f"| {name} | s/epoch | s per trial | train MB |", "|---:|---:|---:|---:|"]
        pts = []
        for v in values:
            spec = dict(base, model="fourier", T=DEFAULT_T, ell=10.0)
            spec[name] = v
            r = run(spec, timeout_s=max(120.0, 4 * args.max_seconds))
            if "error" in r:
                out.append(f"| {v} | {r['error']} | | |")
                continue
            per_trial = r["epoch_s"] / spec["trials"]
            pts.append((v, r["epoch_s"]))
            out.append(
                f"| {v} | {_fmt_s(r['epoch_s'])} | {per_trial * 1e3:.1f} ms | {_train_mb(r):.0f} |"
            )
            print(f"{name}={v:4d} fourier T={DEFAULT_T} {r['epoch_s']:.3f} s/epoch", flush=True)
        if len(pts) >= 2:
            out += ["", f"Log-log slope of epoch time vs {name}: {_slope(pts):.2f}."]
        return out

    lines += [
        f"## Fourier model at T = {DEFAULT_T}: epoch time vs data size",
        "",
        f"ℓ = 10 bins (M = 51), batch {BATCH}, {N_NEURONS} neurons unless varied, "
        f"{N_TRIALS} trials unless varied.",
        "",
    ]
    lines += sweep("trials", trials) + [""] + sweep("neurons", neurons) + [""]
    total = time.perf_counter() - t_start
    try:
        load_end = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load_end = "?"
    header = [
        "# Benchmarks",
        "",
        f"bench_prior.py run {time.strftime('%Y-%m-%d %H:%M')}{' (--quick)' if args.quick else ''}"
        f", {total / 60:.1f} min in all; load average at end {load_end}.",
        "",
        *desc,
        "",
    ]
    text = "\n".join(header + lines)
    print("\n" + text)
    if not args.no_write:
        out = Path(args.out)
        old = out.read_text() if out.exists() else ""
        keep = old.split("\n## Shared fusion", 1)
        tail = ("\n## Shared fusion" + keep[1]) if len(keep) == 2 else ""
        out.write_text(text.rstrip() + "\n" + tail)
        print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
