"""A short summary of a fit, as JSON and as text: config, final ELBO terms, length-scales, R².

Works on the dictionary :func:`mmgpvae_core.project.file.read_project` returns; needs no matplotlib.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.figures.style import condition_colors

ELBO_TERMS = ("elbo", "ell_neural", "ell_behavior", "kl")


def reconstruction_r2(observed: Any, predicted: Any) -> np.ndarray:
    """Per-channel R² of ``predicted`` vs ``observed`` over the observed (non-NaN) samples.

    observed, predicted: ``(trials, time, channels)`` or ``(time, channels)``.
    R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², pooled over trials and time; NaN for a channel with no
    observed variance. For counts, the ceiling is below 1 (Poisson noise is not predictable).
    """
    y = np.asarray(observed, dtype=float)
    f = np.asarray(predicted, dtype=float)
    if y.shape != f.shape:
        raise ValueError(f"predicted: shape {f.shape} differs from observed {y.shape}")
    y = y.reshape(-1, y.shape[-1])
    f = f.reshape(-1, f.shape[-1])
    ok = np.isfinite(y) & np.isfinite(f)
    n = ok.sum(0)
    y0 = np.where(ok, y, 0.0)
    mean = y0.sum(0) / np.maximum(n, 1)
    ss_tot = (np.where(ok, y - mean, 0.0) ** 2).sum(0)
    ss_res = (np.where(ok, y - f, 0.0) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    return np.where((n > 1) & (ss_tot > 0), r2, np.nan)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, bytes):
        return x.decode()
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def fit_summary(project: dict[str, Any]) -> dict[str, Any]:
    """The summary of a project read by ``read_project`` (a JSON-ready dict)."""
    cfg = project["config"]
    neural = project["neural"]
    bin_size = neural.bin_size_s if neural is not None else None
    h = project["history"]
    out: dict[str, Any] = {"config": cfg}
    n_ep = int(len(h.get("elbo", [])))
    out["epochs"] = n_ep
    out["outcome"] = project.get("outcome", {})
    out["final_elbo_terms_nats_per_trial"] = (
        {k: _r(h[k][-1]) for k in ELBO_TERMS if k in h and len(h[k])} if n_ep else {}
    )
    if "elapsed_s" in h and len(h["elapsed_s"]):
        out["training_time_s"] = _r(h["elapsed_s"][-1], 1)
    if "length_scales" in h and len(h["length_scales"]):
        from mmgpvae_core.figures.history import latent_kernels, latent_names

        ls = np.asarray(h["length_scales"])[-1]
        names = latent_names(cfg.get("model"), len(ls))
        kernels = latent_kernels(cfg.get("model"), len(ls)) or [None] * len(ls)
        out["length_scales"] = [
            {
                "latent": nm,
                "kernel": k,
                "bins": _r(v),
                "seconds": _r(v * bin_size, 5) if bin_size else None,
            }
            for nm, k, v in zip(names, kernels, ls)
        ]
    out["bin_size_s"] = bin_size
    out["data"] = {}
    out["reconstruction_r2"] = {}
    rec = project.get("reconstruction", {})
    for name in ("neural", "behavior"):
        ds = project.get(name)
        if ds is None:
            continue
        out["data"][name] = {
            "trials": ds.n_trials,
            "bins": ds.n_time,
            "channels": ds.n_channels,
            "source": ds.source,
        }
        if name in rec and np.shape(rec[name]) == ds.data.shape:
            r2 = reconstruction_r2(ds.data, rec[name])
            out["reconstruction_r2"][name] = {
                "per_channel": {ch: _r(v) for ch, v in zip(ds.channel_names, r2)},
                "median": _r(float(np.nanmedian(r2))) if np.isfinite(r2).any() else None,
                "mean": _r(float(np.nanmean(r2))) if np.isfinite(r2).any() else None,
            }
    conds = neural.conditions if neural is not None else None
    out["condition_colors"] = condition_colors(conds)
    return _jsonable(out)


def summary_text(summary: dict[str, Any]) -> str:
    """A few readable lines from :func:`fit_summary`'s dict."""
    m = summary["config"].get("model", {})
    lines = ["MM-GPVAE fit summary", ""]
    lines.append(
        f"latents: {m.get('shared', '?')} shared, {m.get('private_neural', '?')} private neural, "
        f"{m.get('private_behavior', '?')} private behavior; likelihoods: neural "
        f"{m.get('neural_likelihood', '?')}, behavior {m.get('behavior_likelihood', '?')}"
    )
    for name, d in summary.get("data", {}).items():
        lines.append(
            f"{name}: {d['trials']} trials x {d['bins']} bins x {d['channels']} channels "
            f"({d['source']})"
        )
    if summary.get("bin_size_s"):
        lines.append(f"bin size: {summary['bin_size_s'] * 1e3:g} ms")
    o = summary.get("outcome") or {}
    lines.append(f"epochs: {summary['epochs']}" + (f" ({o.get('status')})" if o else ""))
    t = summary.get("final_elbo_terms_nats_per_trial", {})
    if t:
        lines.append(
            "final ELBO (nats/trial): "
            + ", ".join(f"{k} {v:.2f}" for k, v in t.items() if v is not None)
        )
    for e in summary.get("length_scales", []):
        sec = f" = {e['seconds'] * 1e3:.0f} ms" if e.get("seconds") is not None else ""
        lines.append(f"length-scale {e['latent']}: {e['bins']:.2f} bins{sec}")
    for name, r in summary.get("reconstruction_r2", {}).items():
        if r["median"] is None:
            continue
        vals = [v for v in r["per_channel"].values() if v is not None]
        lines.append(
            f"reconstruction R², {name}: median {r['median']:.3f}, mean {r['mean']:.3f} "
            f"(range {min(vals):.3f} to {max(vals):.3f}, {len(vals)} channels)"
        )
    return "\n".join(lines) + "\n"


def write_summary(project: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``summary.json`` and ``summary.txt`` into ``out_dir``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    s = fit_summary(project)
    pj, pt = out_dir / "summary.json", out_dir / "summary.txt"
    pj.write_text(json.dumps(s, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    pt.write_text(summary_text(s), encoding="utf-8")
    return [pj, pt]
