"""Consistency: refits with other seeds, compared subspace by subspace through canonical
correlations (latents are identified up to an invertible linear map per subspace)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.controls.common import number, split_dict, stopped
from mmgpvae_core.data import Dataset, stack_sessions
from mmgpvae_core.sweep import (
    SweepSettings,
    read_csv,
    run_jobs,
    with_resolved_likelihoods,
    write_rows,
)

CONSISTENCY_CSV_COLUMNS = (
    "subspace",
    "dims",
    "reference_seed",
    "seed",
    "canonical_correlations",
    "status",
)


#: in :func:`fitted_latents` of a multi-session model: each trial's session (its index)
SESSION_KEY = "session"
#: subspaces each session has in coordinates of its own (its own read-out): compared per session
PER_SESSION = ("private_neural",)


def _compare(reference: dict, row: dict, s: str) -> np.ndarray:
    """Canonical correlations of subspace ``s`` between a reference's latents and a refit's:
    over every trial, or, for a subspace of per-session coordinates, per session and averaged."""
    ref, new = reference[s], row[f"latents_{s}"]
    session = reference.get(SESSION_KEY)
    if session is None or s not in PER_SESSION:
        return canonical_correlations(ref, new)
    return np.mean(
        [canonical_correlations(ref[session == k], new[session == k]) for k in np.unique(session)],
        axis=0,
    )


def fitted_latents(model, neural: Any = None, behavior: Any = None) -> dict[str, np.ndarray]:
    """Posterior means per subspace in the model's own coordinates, ``(trials, time, d)``, from
    both modalities (default: the training data); NaN past each trial's end. A multi-session
    model: every session's trials in turn (``neural``/``behavior`` lists, default its data),
    padded with NaN to the longest trials."""
    if getattr(model, "is_multi_session", False):
        data = model.session_data_ if neural is None else list(zip(neural, behavior or [None] * len(neural)))
        parts = [fitted_latents(model.for_session(k), n, b) for k, (n, b) in enumerate(data)]
        out = stack_sessions(parts)
        out[SESSION_KEY] = np.concatenate(
            [np.full(p[SUBSPACES[0]].shape[0], k) for k, p in enumerate(parts)]
        )
        return out
    if neural is None:
        neural, behavior = model.neural, model.behavior
    mean = model.posterior(neural, behavior)["mean"]
    pad = np.arange(neural.n_time)[None, :] >= neural.trial_lengths[:, None]
    out = {}
    for name, idx in model.subspace_indices().items():
        z = mean[..., idx].copy()
        z[pad] = np.nan
        out[name] = z
    return out


def _basis(x: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis of the centred columns of ``x`` (samples, d), rank-revealing."""
    x = x - x.mean(0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, s > tol * max(s.max(initial=0.0), 1e-300)]


def canonical_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Canonical correlations (descending, ``min(d_a, d_b)`` of them) between two sets of
    latents ``(..., d_a)`` and ``(..., d_b)`` over the samples where both are finite. Invariant
    to any invertible linear map of either set; a direction one set lacks (rank) counts 0."""
    a = np.asarray(a, dtype=float).reshape(-1, np.shape(a)[-1])
    b = np.asarray(b, dtype=float).reshape(-1, np.shape(b)[-1])
    d = min(a.shape[1], b.shape[1])
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if d == 0 or ok.sum() < 2:
        return np.full(d, np.nan)
    ua, ub = _basis(a[ok]), _basis(b[ok])
    cc = np.zeros(d)
    if ua.shape[1] and ub.shape[1]:
        s = np.linalg.svd(ua.T @ ub, compute_uv=False)
        cc[: len(s)] = np.clip(s, 0.0, 1.0)[:d]
    return cc


def seed_job(
    config: dict[str, Any],
    neural: Dataset,
    behavior: Dataset | None,
    settings: SweepSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """One fit of the consistency check (a ``run_jobs`` job): ``config``'s split with seed
    ``config["seed"]`` on all trials; the row carries ``latents_<subspace>`` arrays. Lists of
    ``neural`` and ``behavior`` (and ``config["sessions"]``, their names): one multi-session
    fit, its latents every session's in turn (:func:`fitted_latents`)."""
    import torch

    from mmgpvae_core.api import MMGPVAE

    torch.set_num_threads(1)
    kwargs = {**settings.model_kwargs, "seed": int(config["seed"])}
    row: dict[str, Any] = {"seed": int(config["seed"]), "status": "ok"}
    t0 = time.perf_counter()
    model = MMGPVAE(*(int(config[k]) for k in SUBSPACES), **kwargs)
    names = {"names": config["sessions"]} if isinstance(neural, list) else {}
    try:
        model.fit(neural, behavior, epochs=settings.epochs, should_stop=should_stop, **names)
    except Exception as exc:  # one bad seed must not end the check
        row["status"] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
        return row
    if model.outcome is not None and model.outcome.status == "cancelled":
        row["status"] = "cancelled"
        return row
    row["epochs_run"] = len(model.history)
    for name, z in fitted_latents(model, neural, behavior).items():
        row[f"latents_{name}"] = z
    row["fit_seconds"] = round(time.perf_counter() - t0, 2)
    return row


@dataclass
class ConsistencyResult:
    """Canonical correlations of each refit's subspaces with the reference fit's.

    ``correlations[subspace]``: (refits, dims) array, NaN rows for fits that did not finish."""

    reference_seed: int
    seeds: list[int]
    dims: dict[str, int]
    correlations: dict[str, np.ndarray]
    status: list[str] = field(default_factory=list)
    cancelled: bool = False

    def line(self, subspace: str) -> str:
        d = self.dims.get(subspace, 0)
        head = f"{subspace} ({d} dim{'s' if d != 1 else ''})"
        cc = self.correlations.get(subspace, np.zeros((0, d)))
        ok = cc[np.isfinite(cc).all(1)] if cc.size else cc
        if d == 0:
            return f"{head}: nothing to compare"
        if len(ok) == 0:
            return f"{head}: no refit finished"
        parts = ", ".join(
            f"CC{i + 1} {ok[:, i].mean():.3f} (min {ok[:, i].min():.3f})" for i in range(d)
        )
        return (
            f"{head}: canonical correlations with seed {self.reference_seed} over "
            f"{len(ok)} other seed{'s' if len(ok) != 1 else ''}: {parts}"
        )

    def lines(self) -> list[str]:
        """One line per subspace: mean and minimum of each canonical correlation."""
        return [self.line(s) for s in SUBSPACES]

    def rows(self) -> list[dict[str, Any]]:
        """CSV rows: one per subspace and refit."""
        return [
            {
                "subspace": sub,
                "dims": self.dims.get(sub, 0),
                "reference_seed": self.reference_seed,
                "seed": seed,
                "canonical_correlations": self.correlations[sub][i],
                "status": self.status[i] if i < len(self.status) else "",
            }
            for sub in SUBSPACES
            if self.dims.get(sub, 0) > 0
            for i, seed in enumerate(self.seeds)
        ]


def run_consistency(
    neural: Dataset,
    behavior: Dataset | None,
    split: Any,
    seeds: Sequence[int],
    settings: SweepSettings,
    *,
    reference: dict[str, np.ndarray] | None = None,
    reference_seed: int | None = None,
    session_names: Sequence[str] | None = None,
    **execution: Any,
) -> ConsistencyResult:
    """Fit ``split`` on all trials with each of ``seeds`` (``settings``: epochs, model options)
    and compare each fit's subspaces with the reference: ``reference`` latents per subspace
    (:func:`fitted_latents` of an existing fit, seed ``reference_seed``) or, without one, the
    fit of ``seeds[0]``. ``execution`` as in :func:`run_null_test`. Several sessions:
    ``neural`` and ``behavior`` lists and their ``session_names``; each refit is one
    multi-session fit, compared over every session's trials."""
    split = split_dict(split)
    sessions = isinstance(neural, list)
    first_b = (behavior or [None])[0] if sessions else behavior
    if first_b is None:
        split["private_behavior"] = 0
    seeds = [int(s) for s in seeds]
    if reference is None:
        if len(seeds) < 2:
            raise ValueError("consistency: need at least 2 seeds")
        reference_seed = seeds[0]
    elif not seeds:
        raise ValueError("consistency: need at least 1 seed besides the reference")
    configs = [{**split, "seed": s} for s in seeds]
    if sessions:  # fits of every session together
        configs = [{**c, "sessions": list(session_names or [])} for c in configs]
    settings = with_resolved_likelihoods(
        settings, neural[0] if sessions else neural, first_b
    )
    rows = run_jobs(seed_job, configs, neural, behavior, settings, **execution)
    by_seed = {int(r["seed"]): r for r in rows}
    if reference is None:
        ref_row = by_seed.get(int(reference_seed), {})
        if ref_row.get("status") != "ok":
            raise RuntimeError(
                f"consistency: the reference fit (seed {reference_seed}) did not finish: "
                f"{ref_row.get('status', 'cancelled')}"
            )
        reference = {s: ref_row[f"latents_{s}"] for s in SUBSPACES}
        if f"latents_{SESSION_KEY}" in ref_row:
            reference[SESSION_KEY] = ref_row[f"latents_{SESSION_KEY}"]
        seeds = seeds[1:]
    dims = {s: int(split[s]) for s in SUBSPACES}
    cc = {s: np.full((len(seeds), dims[s]), np.nan) for s in SUBSPACES}
    status = []
    for i, seed in enumerate(seeds):
        r = by_seed.get(seed, {"status": "cancelled"})
        status.append(r["status"])
        if r["status"] != "ok":
            continue
        for s in SUBSPACES:
            if dims[s]:
                cc[s][i] = _compare(reference, r, s)
    return ConsistencyResult(int(reference_seed), seeds, dims, cc, status, stopped(execution))


def write_consistency_csv(result: ConsistencyResult, path: str | Path) -> Path:
    """One row per subspace and refit (``CONSISTENCY_CSV_COLUMNS``)."""
    return write_rows(result.rows(), CONSISTENCY_CSV_COLUMNS, path)


def read_consistency_csv(path: str | Path) -> ConsistencyResult:
    """A :class:`ConsistencyResult` from :func:`write_consistency_csv`'s file."""
    rows = read_csv(path)
    seeds = list(dict.fromkeys(int(r["seed"]) for r in rows))
    dims = {s: 0 for s in SUBSPACES}
    cc = {s: np.zeros((len(seeds), 0)) for s in SUBSPACES}
    status = {int(r["seed"]): r.get("status", "") for r in rows}
    for sub in SUBSPACES:
        mine = [r for r in rows if r["subspace"] == sub]
        if not mine:
            continue
        dims[sub] = int(mine[0]["dims"])
        cc[sub] = np.full((len(seeds), dims[sub]), np.nan)
        for r in mine:
            vals = [number(x) for x in r["canonical_correlations"].split(";") if x]
            if len(vals) == dims[sub]:
                cc[sub][seeds.index(int(r["seed"]))] = vals
    ref = int(rows[0]["reference_seed"]) if rows else 0
    return ConsistencyResult(ref, seeds, dims, cc, [status[s] for s in seeds])


def refit_settings(model, epochs: int | None = None, device: str = "cpu") -> tuple[dict, Any]:
    """The split and :class:`SweepSettings` that fit a fitted model's configuration again (same
    model and training options, its epochs unless ``epochs``) — with another seed per job."""
    options = {**model.model_config.to_dict(), **model.train_config.to_dict()}
    split = {k: int(options.pop(k)) for k in SUBSPACES}
    options.pop("seed")
    n_epochs = int(options.pop("epochs")) if epochs is None else int(epochs)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    kwargs["device"] = device
    return split, SweepSettings(epochs=n_epochs, seed=model.train_config.seed, model_kwargs=kwargs)
