"""Shared-latent fusion: product of Gaussian experts ("poe") vs averaging the encoders' means and
log-precisions like the reference code ("mean").

On ``simulate(seed=s)`` (default: 100 trials × 80 bins, 60 neurons, 8 keypoints, 2 shared + 1 + 1
private latents), fit ``MMGPVAE`` with default settings (at most 150 epochs) for each fusion and
report cross-validated R² of the inferred latents against the truth (``recovery.score_latents`` on
``transform()``), leakage of the private truths into the shared latents, and cross-modal R²: the
shared latents inferred from one modality alone (``transform(neural=...)`` /
``transform(behavior=...)``) against the true shared latents.

Run: ``python benchmarks/bench_fusion.py [--seeds 1 2] [--epochs 150] [--threads 1]``. Appends
(or replaces) the "Shared fusion" section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECTION = "## Shared fusion"
COLUMNS = [
    ("r2_shared", "R² shared"),
    ("r2_private_neural", "R² private neural"),
    ("r2_private_behavior", "R² private behavior"),
    ("leakage", "leakage (max)"),
    ("xmodal_neural", "R² shared from neural alone"),
    ("xmodal_behavior", "R² shared from behavior alone"),
]
#: ``simulate`` at smoke size (``--smoke``)
SMOKE_SIZE = {"n_trials": 12, "n_time": 30, "n_neurons": 10, "n_keypoints": 2}


def run_one(fusion: str, seed: int, epochs: int, size: dict | None = None) -> dict:
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.evaluation.recovery import cv_r2, score_latents
    from mmgpvae_core.synthetic.simulate import simulate

    sim = simulate(seed=seed, **(size or {}))
    model = MMGPVAE(shared_fusion=fusion, epochs=epochs, device="cpu")
    t0 = time.perf_counter()
    model.fit(sim.neural, sim.behavior)
    fit_s = time.perf_counter() - t0
    out = score_latents(model.transform(), sim.truth)
    out["xmodal_neural"] = cv_r2(model.transform(neural=sim.neural)["shared"], sim.truth["shared"])
    out["xmodal_behavior"] = cv_r2(
        model.transform(behavior=sim.behavior)["shared"], sim.truth["shared"]
    )
    out.update(
        fusion=fusion,
        seed=seed,
        epochs=len(model.history),
        status=model.outcome.status if model.outcome else "?",
        elbo=model.history.elbo[-1] if len(model.history) else float("nan"),
        fit_s=fit_s,
    )
    return out


def _row(label: str, r: dict) -> str:
    cells = [f"{r[k]:.3f}" if k in r else "—" for k, _ in COLUMNS]
    return f"| {label} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--epochs", type=int, default=150, help="maximum epochs per fit")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    p.add_argument("--no-write", action="store_true")
    p.add_argument(
        "--smoke", action="store_true",
        help="one seed, 2 epochs on 12 trials, nothing written: only checks the script still runs",
    )
    args = p.parse_args(argv)
    size = SMOKE_SIZE if args.smoke else None
    if args.smoke:
        args.seeds, args.epochs, args.no_write = args.seeds[:1], 2, True
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    results = []
    for seed in args.seeds:
        for fusion in ("poe", "mean"):
            r = run_one(fusion, seed, args.epochs, size)
            results.append(r)
            print(
                f"seed {seed} {fusion:4s}: {r['epochs']} epochs ({r['status']}, {r['fit_s']:.0f} s)"
                f"  ELBO/trial {r['elbo']:.1f}  "
                + "  ".join(f"{k}={r[k]:.3f}" for k, _ in COLUMNS if k in r),
                flush=True,
            )
    header = "| fit | " + " | ".join(lbl for _, lbl in COLUMNS) + " |"
    lines = [
        SECTION + ': "poe" vs "mean"',
        "",
        f"bench_fusion.py run {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{(time.perf_counter() - t_start) / 60:.1f} min in all, torch {torch.__version__}, "
        f"{args.threads} thread(s). `simulate(seed=s)` defaults (100 trials × 80 bins, 60 neurons, "
        f"8 keypoints; 2 shared + 1 + 1 private latents), `MMGPVAE` defaults, at most "
        f"{args.epochs} epochs. Cross-validated R² (5 folds over trials, affine map inferred → "
        "true); leakage = R² of each private truth from the inferred shared latents (max of the "
        "two; 0 is best); cross-modal = shared latents inferred from one modality alone.",
        "",
        header,
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for r in results:
        lines.append(_row(f"seed {r['seed']}, {r['fusion']}", r))
    for fusion in ("poe", "mean"):
        rs = [r for r in results if r["fusion"] == fusion]
        mean = {k: sum(r[k] for r in rs) / len(rs) for k, _ in COLUMNS if all(k in r for r in rs)}
        lines.append(_row(f"**mean, {fusion}**", mean))
    lines.append("")
    for r in results:
        lines.append(
            f"- seed {r['seed']}, {r['fusion']}: {r['epochs']} epochs ({r['status']}), "
            f"final ELBO {r['elbo']:.1f} nats/trial, fit {r['fit_s']:.0f} s"
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if not args.no_write:
        out = Path(args.out)
        old = out.read_text() if out.exists() else "# Benchmarks\n"
        head = old.split("\n" + SECTION, 1)[0].rstrip()
        out.write_text(head + "\n\n" + text)
        print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
