"""The null test: the real pairing of trials against behavior trials re-paired at random (or,
for a continuous session, against the behavior shifted circularly in time: :mod:`.shifts`),
scored by held-out cross-modal prediction (the package docstring says why)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.config import SUBSPACES
from mmgpvae_core.controls.common import number, split_dict, stopped
from mmgpvae_core.controls.shifts import circular_shifts, min_shift_bins, shifted
from mmgpvae_core.data import Dataset, default_session_names
from mmgpvae_core.sweep import (
    SweepSettings,
    read_csv,
    run_config,
    run_jobs,
    with_resolved_likelihoods,
    write_rows,
)

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
    "shift",
    *SUBSPACES,
    "score",
    *CROSS_MODAL_TERMS,
    *DIRECTION_METRICS,
    "epochs_run",
    "fit_seconds",
    "status",
    "folds",
)
#: how the null pairings are made: behavior trials re-paired, or the session shifted in time
NULLS = ("auto", "re-pair", "shift")


# ---------------------------------------------------------------------------- the score
def cross_modal_scores(
    model, neural: Dataset, behavior: Dataset, n_groups: int = 4, seed: int = 0, n_samples: int = 20
) -> dict[str, Any]:
    """Cross-modal prediction of held-out trials by a fitted model (a ``SweepSettings.scorer``).

    ``score_per_trial`` (trials,): log-likelihood (nats) of the behavior given the neural data
    alone plus that of the neural data given the behavior alone — the two cross-modal terms of
    :func:`mmgpvae_core.evaluation.heldout.evaluate` (same predictive densities). Also their means
    (``cross_behavior``, ``cross_neural``), R² of behavior from neural (pooled and per channel)
    and bits/spike (Poisson) or R² of the neural data from behavior. ``n_groups`` is unused (no
    co-smoothing here); it is accepted to match the scorer signature.
    """
    from mmgpvae_core.evaluation.heldout import bits_per_spike, predict, r2_per_channel, r2_pooled
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


def pairing_job(
    config: dict[str, Any],
    neural: Dataset,
    behavior: Dataset,
    settings: SweepSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """One fit of the null test (a :func:`~mmgpvae_core.sweep.run_jobs` job): the sweep's
    cross-validated fit of ``config``'s split on the pairing ``config["permutation"]`` (None:
    the real one) or the circular shift ``config["shift"]`` (bins), scored by
    :func:`cross_modal_scores`."""
    perm, shift = config.get("permutation"), config.get("shift")
    if isinstance(neural, list):  # several sessions: each one's own shift or re-pairing
        b = [
            _null_pairing(n, bb, None if perm is None else perm[k], None if shift is None else shift[k])
            for k, (n, bb) in enumerate(zip(neural, behavior))
        ]
    else:
        b = _null_pairing(neural, behavior, perm, shift)
    settings = dataclasses.replace(settings, scorer=cross_modal_scores, save_dir=None)
    row = run_config(config, neural, b, settings, should_stop)
    row["shuffle"] = int(config["shuffle"])
    row["pairing"] = config["pairing"]
    row["shift"] = ";".join(map(str, shift)) if isinstance(shift, list) else shift
    return row


def _null_pairing(neural: Dataset, behavior: Dataset, perm, shift) -> Dataset:
    """``behavior`` shifted in time by ``shift`` bins, re-paired by ``perm``, or as it is."""
    if shift is not None:
        return shifted(behavior, shift, neural.trial_lengths)
    if perm is not None:
        return repaired(behavior, perm, neural.trial_lengths)
    return behavior


@dataclass
class NullTestResult:
    """The fits of a null test: ``rows[k]["shuffle"]`` 0 is the real pairing, 1… the shuffles
    (re-pairings, or circular time shifts when ``null`` is "shift"); ``folds``: how the fits
    held data out (:meth:`~mmgpvae_core.evaluation.heldout.Folds.describe`)."""

    rows: list[dict[str, Any]]
    within_condition: bool = False
    cancelled: bool = False
    null: str = "re-pair"
    folds: str = ""

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
        if self.null == "shift":
            return "circular shifts in time"
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


def null_kind(neural: Dataset, null: str = "auto", within_condition: bool = False) -> str:
    """"shift" (circular time shifts) or "re-pair" (re-paired trials) for ``neural``: "auto"
    shifts a continuous session (windows, no trials table) and re-pairs trials."""
    from mmgpvae_core.continuous import is_continuous

    if null not in NULLS:
        raise ValueError(f"null: expected one of {NULLS}, got {null!r}")
    if null == "auto":
        null = "shift" if is_continuous(neural) and not within_condition else "re-pair"
    if null == "shift" and (within_condition or not is_continuous(neural)):
        raise ValueError(
            "circular time shifts need a continuous session cut into windows (no trials table, "
            "no within-condition re-pairing)"
        )
    return null


def _repair_configs(neural: Dataset, shuffles: int, within: bool, seed: int) -> list[dict]:
    perms = pairing_permutations(  # trials of any lengths: `repaired` masks past the neural end
        neural.n_trials, shuffles, conditions=neural.conditions, within_condition=within, seed=seed
    )
    pairing = "within condition" if within else "across trials"
    return [
        {"shuffle": k + 1, "pairing": f"shuffled {pairing}", "permutation": p.tolist()}
        for k, p in enumerate(perms)
    ]


def _shift_configs(neural: Dataset, shuffles: int, seed: int) -> list[dict]:
    W, dt = neural.n_time, neural.bin_size_s or 1.0
    shifts = circular_shifts(neural.n_trials * W, W, shuffles, seed)
    return [
        {"shuffle": k + 1, "pairing": f"shifted {s * dt:g} s", "shift": int(s)}
        for k, s in enumerate(shifts)
    ]


def _per_session(per: list[list[dict]], kind: str) -> list[dict]:
    """The k-th null of several sessions: each session's k-th shift (or re-pairing)."""
    key = "shift" if kind == "shift" else "permutation"
    out = []
    for configs in zip(*per):
        first = configs[0]
        what = "shifted each session" if kind == "shift" else first["pairing"]
        out.append({"shuffle": first["shuffle"], "pairing": what, key: [c[key] for c in configs]})
    return out


def shift_range(neural: Dataset) -> tuple[float, float]:
    """The smallest and largest allowed circular shift of ``neural``'s session, in seconds."""
    W, dt = neural.n_time, neural.bin_size_s or 1.0
    n = neural.n_trials * W
    m = min_shift_bins(n, W)
    return m * dt, (n - m) * dt


def run_null_test(
    neural: Dataset,
    behavior: Dataset,
    split: Any = (2, 1, 1),
    shuffles: int = 19,
    settings: SweepSettings | None = None,
    *,
    within_condition: bool = False,
    null: str = "auto",
    session_names: Sequence[str] | None = None,
    **execution: Any,
) -> NullTestResult:
    """Fit the real pairing and ``shuffles`` null pairings of ``split`` (a (shared, private
    neural, private behavior) tuple or dict), each by k-fold cross-validation (``settings``:
    folds, epochs, seed, model options; the same folds for every fit: blocked for a session,
    :func:`~mmgpvae_core.evaluation.heldout.session_folds`), and score each on its held-out trials by
    cross-modal prediction.

    ``null``: "auto" (circular time shifts of the behavior for a continuous session, re-paired
    trials otherwise; :func:`null_kind`), "shift" or "re-pair".
    Several sessions (``neural`` and ``behavior`` lists, ``session_names``): every fit is one
    multi-session model; each null shifts (or re-pairs) every session's behavior within that
    session, folds are within each session.
    ``execution``: the keywords of :func:`~mmgpvae_core.sweep.run_jobs` — ``n_jobs`` local
    processes or ``ray_address`` (and ``gpus_per_trial``), ``on_result(done, total, row)`` as
    each fit ends, ``should_stop()`` to cancel (unfinished fits are dropped)."""
    from mmgpvae_core.evaluation.heldout import session_folds

    if behavior is None:
        raise ValueError("the null test needs behavior data: it re-pairs behavior trials")
    settings = with_resolved_likelihoods(settings or SweepSettings(folds=2), neural, behavior)
    sessions = neural if isinstance(neural, list) else [neural]
    kinds = {null_kind(n, null, within_condition) for n in sessions}
    if len(kinds) > 1:
        raise ValueError(
            "the sessions need one kind of null: all continuous sessions (time shifts) or all "
            "with trials (re-pairing)"
        )
    kind = kinds.pop()
    folds = session_folds(sessions[0], settings.folds, settings.seed).describe()
    if kind == "shift":
        per = [_shift_configs(n, shuffles, settings.seed + k) for k, n in enumerate(sessions)]
    else:
        per = [
            _repair_configs(n, shuffles, within_condition, settings.seed + k)
            for k, n in enumerate(sessions)
        ]
    nulls = per[0] if len(per) == 1 else _per_session(per, kind)
    base = {**split_dict(split), "length_scale_init": None, "lr": None}
    if isinstance(neural, list):
        base["sessions"] = list(session_names or default_session_names(len(neural)))
    configs = [{**base, "shuffle": 0, "pairing": "real"}] + [{**base, **c} for c in nulls]
    rows = run_jobs(pairing_job, configs, neural, behavior, settings, **execution)
    rows.sort(key=lambda r: int(r["shuffle"]))
    return NullTestResult(rows, within_condition, stopped(execution), kind, folds)


def write_null_csv(result: NullTestResult, path: str | Path) -> Path:
    """One row per fit (``NULL_CSV_COLUMNS``), the real pairing first (``shuffle`` 0)."""
    return write_rows(result.rows, NULL_CSV_COLUMNS, path)


def read_null_csv(path: str | Path) -> NullTestResult:
    """A :class:`NullTestResult` from :func:`write_null_csv`'s file (for figures)."""
    rows = []
    for r in read_csv(path):
        row: dict[str, Any] = dict(r)
        row["shuffle"] = int(r["shuffle"])
        for k in ("score", *CROSS_MODAL_TERMS, *DIRECTION_METRICS, "fit_seconds"):
            row[k] = number(r.get(k, ""))
        rows.append(row)
    within = any("within" in r.get("pairing", "") for r in rows)
    kind = "shift" if any(r.get("shift") not in (None, "") for r in rows) else "re-pair"
    return NullTestResult(rows, within, null=kind, folds=next((r.get("folds", "") for r in rows), ""))
