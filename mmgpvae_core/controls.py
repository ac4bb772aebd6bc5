"""Controls for a shared latent space: is the shared structure real, and is it stable?

Null test (``mmgpvae null-test``)
---------------------------------
Would the model have found "shared" structure anyway? Fit the real pairing of neural and behavior
trials, then refit with the behavior trials re-paired at random, and score every fit the same way:
by *cross-modal* prediction of held-out trials — behavior from the neural data alone plus the
neural data from the behavior alone (``cross_behavior + cross_neural``, nats per held-out trial:
the two cross-modal terms of the sweep's selection score, :mod:`mmgpvae_core.sweep`). Folds,
fitting and execution (local processes or Ray) are the sweep's. A re-paired data set has the same
neural data and the same behavior data, only the trial-by-trial correspondence is broken, so a
model fitted to it can predict across modalities only what the re-pairing keeps:

- across all trials (default): nothing but the overall mean of each modality — the null of "no
  relation at all between the two recordings";
- within each condition (``within_condition``): the condition (the task) — the null of "the
  modalities share the task, and nothing trial by trial". A small p here says the coupling goes
  beyond what the condition explains.

The p-value is the permutation test's ``(1 + #{null ≥ real}) / (1 + shuffles)``: with 19 shuffles
the smallest possible is 0.05. It says whether the cross-modal prediction of the *real* pairing
beats re-paired data; it does not say how many shared dimensions there are (the sweep does), nor
that the shared latents mean what one hopes (a common drift, e.g. arousal or slow drift shared by
both recordings and stable within a session, is real shared structure and passes this test).

Consistency (``mmgpvae consistency``)
-------------------------------------
Latents are identified up to an invertible linear map per subspace, so "do two fits agree" is a
question about subspaces: the canonical correlations between the posterior means of one fit and
another, per subspace, over every observed bin of every trial. All near 1: the subspace is found
whatever the seed. One low: that direction of the subspace is not determined by the data (or the
fits did not converge). It says nothing about whether a subspace is shared in the data (the null
test) or how many dimensions it should have (the sweep).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import Dataset
from mmgpvae_core.sweep import (
    SPLIT_KEYS,
    SweepSettings,
    read_csv,
    run_config,
    run_jobs,
    with_resolved_likelihoods,
    write_rows,
)

SUBSPACES = SPLIT_KEYS  # shared, private_neural, private_behavior
CROSS_MODAL_TERMS = ("cross_behavior", "cross_neural")
# Each direction in units a reader knows (held out, like the score).
DIRECTION_METRICS = (
    "r2_behavior_from_neural",
    "bps_neural_from_behavior",
    "r2_neural_from_behavior",
)
NULL_CSV_COLUMNS = (
    "shuffle",
    "pairing",
    *SPLIT_KEYS,
    "score",
    *CROSS_MODAL_TERMS,
    *DIRECTION_METRICS,
    "epochs_run",
    "fit_seconds",
    "status",
)
CONSISTENCY_CSV_COLUMNS = (
    "subspace",
    "dims",
    "reference_seed",
    "seed",
    "canonical_correlations",
    "status",
)


# ---------------------------------------------------------------------------- the score
def cross_modal_scores(
    model, neural: Dataset, behavior: Dataset, n_groups: int = 4, seed: int = 0, n_samples: int = 20
) -> dict[str, Any]:
    """Cross-modal prediction of held-out trials by a fitted model (a ``SweepSettings.scorer``).

    ``score_per_trial`` (trials,): log-likelihood (nats) of the behavior given the neural data
    alone plus that of the neural data given the behavior alone — the two cross-modal terms of
    :func:`mmgpvae_core.evaluation.evaluate` (same predictive densities). Also their means
    (``cross_behavior``, ``cross_neural``), R² of behavior from neural (pooled and per channel)
    and bits/spike (Poisson) or R² of the neural data from behavior. ``n_groups`` is unused (no
    co-smoothing here); it is accepted to match the scorer signature.
    """
    from mmgpvae_core.evaluation import bits_per_spike, predict, r2_per_channel, r2_pooled
    from mmgpvae_core.model.likelihoods import likelihood_class

    if behavior is None:
        raise ValueError("cross-modal scores need behavior data")
    yn, yb = neural.data, behavior.data
    kw = {"n_samples": n_samples, "seed": seed}
    beh = predict(model, yn, None, targets={"behavior": yb}, **kw)["behavior"]
    neu = predict(model, None, yb, targets={"neural": yn}, **kw)["neural"]
    per_trial = {
        "cross_behavior": np.nansum(beh["log_prob"], axis=(1, 2)),
        "cross_neural": np.nansum(neu["log_prob"], axis=(1, 2)),
    }
    out: dict[str, Any] = {k: float(v.mean()) for k, v in per_trial.items()}
    out["r2_behavior_from_neural"] = r2_pooled(yb, beh["mean"])
    out["r2_behavior_channels"] = r2_per_channel(yb, beh["mean"])
    if likelihood_class(model.model_config.neural_likelihood).counts:
        out["bps_neural_from_behavior"] = bits_per_spike(yn, neu["mean"])
    else:
        out["r2_neural_from_behavior"] = r2_pooled(yn, neu["mean"])
    out["score_per_trial"] = sum(per_trial.values())
    out["score"] = float(out["score_per_trial"].mean())
    return out


# ---------------------------------------------------------------------------- re-pairing
def pairing_permutations(
    n_trials: int,
    shuffles: int,
    *,
    conditions: Any = None,
    lengths: Any = None,
    within_condition: bool = False,
    seed: int = 0,
) -> list[np.ndarray]:
    """``shuffles`` random re-pairings, each (trials,): neural trial ``i`` is paired with
    behavior trial ``perm[i]``. With ``lengths``, trials are exchanged only among trials of the
    same length; with ``within_condition``, only within a condition. Seeded; the identity may
    come up (a permutation test allows it)."""
    if shuffles < 1:
        raise ValueError("shuffles: need at least 1")
    if within_condition and conditions is None:
        raise ValueError("within-condition shuffles need trial conditions (none in the data)")
    cond = np.asarray(conditions) if within_condition else np.zeros(n_trials, dtype=int)
    length = np.zeros(n_trials, dtype=int) if lengths is None else np.asarray(lengths)
    keys = [(str(c), int(t)) for c, t in zip(cond, length)]
    blocks = [np.flatnonzero([k == key for k in keys]) for key in sorted(set(keys))]
    blocks = [b for b in blocks if len(b) > 1]
    if not blocks:
        raise ValueError("no two trials can be exchanged (every condition or length is unique)")
    rng = np.random.default_rng([seed, 12])
    perms = []
    for _ in range(shuffles):
        perm = np.arange(n_trials)
        for b in blocks:
            perm[b] = rng.permutation(b)
        perms.append(perm)
    return perms


def repaired(behavior: Dataset, permutation: Any, lengths: Any = None) -> Dataset:
    """``behavior`` with its trials in the order ``permutation`` (labels stay with positions).
    ``lengths`` (trials,): the neural trials' lengths; a re-paired behavior trial is missing
    (NaN) past its neural partner's end, so trials of any lengths can be exchanged."""
    data = behavior.data[np.asarray(permutation, dtype=int)].copy()
    if lengths is not None:
        data[np.arange(data.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = np.nan
    return dataclasses.replace(behavior, data=data, source=f"{behavior.source} (re-paired)")


def p_value(real: float, null: Sequence[float]) -> float:
    """Permutation p-value ``(1 + #{null ≥ real}) / (1 + len(null))`` (NaN without data)."""
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    if not np.isfinite(real) or len(null) == 0:
        return float("nan")
    return float((1 + np.sum(null >= real)) / (1 + len(null)))


# ---------------------------------------------------------------------------- null test
def _split_dict(split: Any) -> dict[str, int]:
    if isinstance(split, dict):
        return {k: int(split[k]) for k in SPLIT_KEYS}
    return {k: int(v) for k, v in zip(SPLIT_KEYS, split)}


def pairing_job(
    config: dict[str, Any],
    neural: Dataset,
    behavior: Dataset,
    settings: SweepSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """One fit of the null test (a :func:`~mmgpvae_core.sweep.run_jobs` job): the sweep's
    cross-validated fit of ``config``'s split on the pairing ``config["permutation"]`` (None:
    the real one), scored by :func:`cross_modal_scores`."""
    perm = config.get("permutation")
    b = behavior if perm is None else repaired(behavior, perm, neural.trial_lengths)
    settings = dataclasses.replace(settings, scorer=cross_modal_scores, save_dir=None)
    row = run_config(config, neural, b, settings, should_stop)
    row["shuffle"] = int(config["shuffle"])
    row["pairing"] = config["pairing"]
    return row


@dataclass
class NullTestResult:
    """The fits of a null test: ``rows[k]["shuffle"]`` 0 is the real pairing, 1… the shuffles."""

    rows: list[dict[str, Any]]
    within_condition: bool = False
    cancelled: bool = False

    @property
    def real(self) -> dict[str, Any] | None:
        return next((r for r in self.rows if int(r["shuffle"]) == 0), None)

    @property
    def null_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if int(r["shuffle"]) > 0]

    @property
    def real_score(self) -> float:
        r = self.real
        return float("nan") if r is None or r.get("status") != "ok" else float(r["score"])

    @property
    def null_scores(self) -> np.ndarray:
        """(finished shuffles,) scores of the re-paired fits."""
        s = [float(r["score"]) for r in self.null_rows if r.get("status") == "ok"]
        return np.asarray([x for x in s if np.isfinite(x)])

    @property
    def p(self) -> float:
        return p_value(self.real_score, self.null_scores)

    @property
    def pairing(self) -> str:
        return "within condition" if self.within_condition else "across trials"

    def summary_line(self) -> str:
        """``p=P real=R null=M±SD`` (score in nats per held-out trial)."""
        null = self.null_scores
        m = float(null.mean()) if len(null) else float("nan")
        sd = float(null.std(ddof=1)) if len(null) > 1 else float("nan")
        return f"p={self.p:.3g} real={self.real_score:.2f} null={m:.2f}±{sd:.2f}"

    def details(self) -> list[str]:
        """What each direction contributes (held-out R² / bits per spike), real vs null."""
        out = []
        names = (
            "R² of behavior from neural",
            "bits/spike of neural from behavior",
            "R² of neural from behavior",
        )
        for key, what in zip(DIRECTION_METRICS, names):
            real = float((self.real or {}).get(key, np.nan))
            null = np.asarray([float(r.get(key, np.nan)) for r in self.null_rows])
            null = null[np.isfinite(null)]
            if np.isfinite(real) and len(null):
                out.append(
                    f"{what}: real {real:.3f}, shuffled {null.mean():.3f} ± "
                    f"{null.std(ddof=1) if len(null) > 1 else 0.0:.3f} (max {null.max():.3f})"
                )
        return out


def run_null_test(
    neural: Dataset,
    behavior: Dataset,
    split: Any = (2, 1, 1),
    shuffles: int = 19,
    settings: SweepSettings | None = None,
    *,
    within_condition: bool = False,
    **execution: Any,
) -> NullTestResult:
    """Fit the real pairing and ``shuffles`` re-pairings of ``split`` (a (shared, private
    neural, private behavior) tuple or dict), each by k-fold cross-validation (``settings``:
    folds, epochs, seed, model options; the same folds for every fit), and score each on its
    held-out trials by cross-modal prediction.

    ``execution``: the keywords of :func:`~mmgpvae_core.sweep.run_jobs` — ``n_jobs`` local
    processes or ``ray_address`` (and ``gpus_per_trial``), ``on_result(done, total, row)`` as
    each fit ends, ``should_stop()`` to cancel (unfinished fits are dropped)."""
    if behavior is None:
        raise ValueError("the null test needs behavior data: it re-pairs behavior trials")
    settings = with_resolved_likelihoods(settings or SweepSettings(folds=2), neural, behavior)
    perms = pairing_permutations(  # trials of any lengths: `repaired` masks past the neural end
        neural.n_trials,
        shuffles,
        conditions=neural.conditions,
        within_condition=within_condition,
        seed=settings.seed,
    )
    pairing = "within condition" if within_condition else "across trials"
    base = {**_split_dict(split), "length_scale_init": None, "lr": None}
    configs = [{**base, "shuffle": 0, "pairing": "real", "permutation": None}]
    configs += [
        {**base, "shuffle": k + 1, "pairing": f"shuffled {pairing}", "permutation": p.tolist()}
        for k, p in enumerate(perms)
    ]
    rows = run_jobs(pairing_job, configs, neural, behavior, settings, **execution)
    rows.sort(key=lambda r: int(r["shuffle"]))
    return NullTestResult(rows, within_condition, _stopped(execution))


def _stopped(execution: dict[str, Any]) -> bool:
    should_stop = execution.get("should_stop")
    return bool(should_stop is not None and should_stop())


def write_null_csv(result: NullTestResult, path: str | Path) -> Path:
    """One row per fit (``NULL_CSV_COLUMNS``), the real pairing first (``shuffle`` 0)."""
    return write_rows(result.rows, NULL_CSV_COLUMNS, path)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def read_null_csv(path: str | Path) -> NullTestResult:
    """A :class:`NullTestResult` from :func:`write_null_csv`'s file (for figures)."""
    rows = []
    for r in read_csv(path):
        row: dict[str, Any] = dict(r)
        row["shuffle"] = int(r["shuffle"])
        for k in ("score", *CROSS_MODAL_TERMS, *DIRECTION_METRICS, "fit_seconds"):
            row[k] = _number(r.get(k, ""))
        rows.append(row)
    within = any("within" in r.get("pairing", "") for r in rows)
    return NullTestResult(rows, within)


# ---------------------------------------------------------------------------- consistency
def fitted_latents(model, neural: Any = None, behavior: Any = None) -> dict[str, np.ndarray]:
    """Posterior means per subspace in the model's own coordinates, ``(trials, time, d)``, from
    both modalities (default: the training data); NaN past each trial's end."""
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
    ``config["seed"]`` on all trials; the row carries ``latents_<subspace>`` arrays."""
    import torch

    from mmgpvae_core.api import MMGPVAE

    torch.set_num_threads(1)
    kwargs = {**settings.model_kwargs, "seed": int(config["seed"])}
    row: dict[str, Any] = {"seed": int(config["seed"]), "status": "ok"}
    t0 = time.perf_counter()
    model = MMGPVAE(*(int(config[k]) for k in SPLIT_KEYS), **kwargs)
    try:
        model.fit(neural, behavior, epochs=settings.epochs, should_stop=should_stop)
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
    **execution: Any,
) -> ConsistencyResult:
    """Fit ``split`` on all trials with each of ``seeds`` (``settings``: epochs, model options)
    and compare each fit's subspaces with the reference: ``reference`` latents per subspace
    (:func:`fitted_latents` of an existing fit, seed ``reference_seed``) or, without one, the
    fit of ``seeds[0]``. ``execution`` as in :func:`run_null_test`."""
    split = _split_dict(split)
    if behavior is None:
        split["private_behavior"] = 0
    seeds = [int(s) for s in seeds]
    if reference is None:
        if len(seeds) < 2:
            raise ValueError("consistency: need at least 2 seeds")
        reference_seed = seeds[0]
    elif not seeds:
        raise ValueError("consistency: need at least 1 seed besides the reference")
    configs = [{**split, "seed": s} for s in seeds]
    settings = with_resolved_likelihoods(settings, neural, behavior)
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
                cc[s][i] = canonical_correlations(reference[s], r[f"latents_{s}"])
    return ConsistencyResult(int(reference_seed), seeds, dims, cc, status, _stopped(execution))


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
            vals = [_number(x) for x in r["canonical_correlations"].split(";") if x]
            if len(vals) == dims[sub]:
                cc[sub][seeds.index(int(r["seed"]))] = vals
    ref = int(rows[0]["reference_seed"]) if rows else 0
    return ConsistencyResult(ref, seeds, dims, cc, [status[s] for s in seeds])


def refit_settings(model, epochs: int | None = None, device: str = "cpu") -> tuple[dict, Any]:
    """The split and :class:`SweepSettings` that fit a fitted model's configuration again (same
    model and training options, its epochs unless ``epochs``) — with another seed per job."""
    options = {**model.model_config.to_dict(), **model.train_config.to_dict()}
    split = {k: int(options.pop(k)) for k in SPLIT_KEYS}
    options.pop("seed")
    n_epochs = int(options.pop("epochs")) if epochs is None else int(epochs)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    kwargs["device"] = device
    return split, SweepSettings(epochs=n_epochs, seed=model.train_config.seed, model_kwargs=kwargs)
