"""The model against the baselines on held-out data (:func:`run_compare`).

Every method is fitted on exactly the same training trials or windows and scored on the same
held-out ones (``heldout.session_folds`` / ``session_test_split``: contiguous blocks of a
continuous session, one window left unused beside each, or stratified trials). Directions:

- ``behavior_from_neural``: the model's behavior predicted from the neural data alone (shared
  latents from the neural encoder: the product-of-experts posterior with one expert) against
  ``wiener`` and ``wiener_causal``;
- ``neural_from_behavior``: the model's neurons predicted from the behavior alone against
  ``glm``.

A held-out block of a continuous session is predicted as the stitched session is inferred
(``continuous``): half-overlapping windows combined with Hann weights, so the model's
predictions have no seams at window edges, as the baselines' lags have none.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmgpvae_core.compare.baselines import GLM, Bayes, Wiener
from mmgpvae_core.data import Dataset

DIRECTIONS = ("behavior_from_neural", "neural_from_behavior")
#: the baselines of every comparison (and of its summary line, a contract)
BASELINES = {"behavior_from_neural": ("wiener", "wiener_causal"), "neural_from_behavior": ("glm",)}
#: further methods, in the table, the CSV and the plot where the data allow them
EXTRA = {"behavior_from_neural": ("bayes",), "neural_from_behavior": ()}


@dataclass
class CompareSettings:
    """How the comparison is held out and how many model fits it averages.

    ``folds``: K folds (blocked for a session), or None for one split holding out
    ``test_fraction`` (the end of a session). ``lags``: L, the baselines' window ±L bins.
    ``seeds``: model fits per fold, seeds ``seed … seed + seeds − 1``. ``model_kwargs`` go to
    :class:`~mmgpvae_core.api.MMGPVAE` (split, likelihoods, training options)."""

    folds: int | None = None
    test_fraction: float = 0.2
    lags: int = 5
    seeds: int = 1
    seed: int = 0
    model_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    """What :func:`run_compare` found.

    ``rows``: one dict per method, direction, channel and metric: ``value`` (mean over folds,
    then over seeds), ``sd`` (over seeds; 0 for the deterministic baselines), ``n_fits``.
    ``example``: held-out behavior of the first fold, observed and predicted by each method
    (``time`` (bins,) s, ``observed`` and ``methods[name]`` (bins, channels)), for the plot.
    """

    rows: list[dict[str, Any]]
    folds_kind: str
    folds_description: str
    behavior_channels: list[str]
    neural_metric: str
    example: dict[str, Any]
    cancelled: bool = False  # stopped by ``should_stop``: only the folds that ended are scored


def _runs(idx: np.ndarray) -> list[np.ndarray]:
    """Sorted indices cut into runs of consecutive values."""
    idx = np.sort(np.asarray(idx))
    return np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1) if len(idx) else []


def segments(ds: Dataset, idx: np.ndarray, continuous: bool) -> list[np.ndarray]:
    """``(bins, channels)`` stretches of consecutive bins: each run of consecutive windows of a
    session joined end to end, or each trial."""
    if continuous:
        return [np.asarray(ds.data[r], dtype=np.float64).reshape(-1, ds.n_channels) for r in _runs(idx)]
    return [np.asarray(ds.data[i], dtype=np.float64) for i in np.sort(idx)]


def _model_prediction(model, x_a, x_b, target: str, window: int | None) -> np.ndarray:
    """(bins, channels) of ``target`` predicted from one modality's segment (the other None):
    as trials (``window`` None: the segment is one trial) or stitched windows."""
    from mmgpvae_core.continuous import BATCH_ELEMENTS, Stitcher, window_starts, windows_of
    from mmgpvae_core.evaluation.heldout import predict

    x = x_a if x_a is not None else x_b
    if window is None:
        res = predict(model, None if x_a is None else x_a[None], None if x_b is None else x_b[None])
        return res[target]["mean"][0]
    starts = window_starts(len(x), window, max(1, window // 2))
    st = Stitcher(starts, window, len(x))
    batch = max(1, BATCH_ELEMENTS // (window * x.shape[1]))
    for b in range(0, len(starts), batch):
        w = windows_of(x, starts[b : b + batch], window)
        mean = predict(model, w if x_a is not None else None, w if x_b is not None else None)[
            target
        ]["mean"]
        st.add(b, mean, np.zeros_like(mean))
    return st.result()[0]


def _metrics(direction: str, y: np.ndarray, p: np.ndarray, names: list[str], counts: bool):
    """(channel, metric, value) of held-out ``y`` predicted by ``p``, both (bins, channels)."""
    from mmgpvae_core.evaluation.heldout import bits_per_spike, r2_per_channel, r2_pooled

    out = []
    if direction == "neural_from_behavior" and counts:
        for i, name in enumerate(names):
            out.append((name, "bits_per_spike", bits_per_spike(y[None, :, i : i + 1], p[None, :, i : i + 1])))
        out.append(("all", "bits_per_spike", bits_per_spike(y[None], p[None])))
        return out
    r2 = r2_per_channel(y, p)
    with np.errstate(invalid="ignore"):
        mae = np.nanmean(np.abs(y - p), axis=0)
    for i, name in enumerate(names):
        out.append((name, "r2", float(r2[i])))
        if direction == "behavior_from_neural":
            out.append((name, "mae", float(mae[i])))
    out.append(("all", "r2", r2_pooled(y, p)))
    if direction == "behavior_from_neural":
        out.append(("all", "mae", float(np.nanmean(np.abs(y - p)))))
    return out


def _fit_model(neural, behavior, train, settings: CompareSettings, seed: int, on_epoch, should_stop):
    from mmgpvae_core.api import MMGPVAE

    model = MMGPVAE(**{**settings.model_kwargs, "seed": seed})
    model.fit(neural.subset(train), behavior.subset(train), on_epoch=on_epoch, should_stop=should_stop)
    return model


def _model_segments(model, nv, bv, window) -> dict[str, list[np.ndarray]]:
    return {
        "behavior_from_neural": [_model_prediction(model, x, None, "behavior", window) for x in nv],
        "neural_from_behavior": [_model_prediction(model, None, x, "neural", window) for x in bv],
    }


def _baseline_segments(nt, bt, nv, bv, lags: int, counts: bool) -> dict[tuple[str, str], list]:
    out = {}
    for name, causal in (("wiener", False), ("wiener_causal", True)):
        out[(name, "behavior_from_neural")] = Wiener(lags, causal).fit(nt, bt).predict(nv)
    out[("glm", "neural_from_behavior")] = GLM(lags, counts).fit(bt, nt).predict(bv)
    if counts:  # the Bayesian decoder's likelihood is Poisson
        out[("bayes", "behavior_from_neural")] = Bayes(lags).fit(nt, bt).predict(nv)
    return out


def compare_folds(neural: Dataset, settings: CompareSettings):
    """The held-out split(s) of ``settings`` for ``neural``: a ``heldout.Folds``."""
    from mmgpvae_core.evaluation.heldout import session_folds, session_test_split

    if settings.folds:
        return session_folds(neural, settings.folds, settings.seed)
    return session_test_split(neural, settings.test_fraction, settings.seed)


def run_compare(
    neural: Dataset,
    behavior: Dataset,
    settings: CompareSettings,
    report: Callable[[str], None] | None = None,
    on_epoch: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Comparison:
    """Fit the model (``settings.seeds`` seeds) and the baselines on each training fold, and
    score each on its held-out trials or windows. ``report(line)`` after each fit;
    ``on_epoch`` and ``should_stop`` go to the model's fits. ``should_stop()`` is also checked
    between fits: a fold it cuts short is not scored (``Comparison.cancelled``)."""
    from mmgpvae_core.continuous import is_continuous
    from mmgpvae_core.data import DataError
    from mmgpvae_core.model.likelihoods import likelihood_class, resolve_likelihood

    if behavior is None:
        raise DataError(neural.source, "behavior", "compare needs a behavior file (--behavior)")
    say = report or (lambda line: None)
    continuous = is_continuous(neural)
    folds = compare_folds(neural, settings)
    lik = resolve_likelihood(settings.model_kwargs.get("neural_likelihood", "auto"), neural)
    counts = likelihood_class(lik.name).counts
    kwargs = {**settings.model_kwargs, "neural_likelihood": lik.name}
    settings = dataclasses.replace(settings, model_kwargs=kwargs)
    window = neural.n_time if continuous else None
    names = {"behavior_from_neural": behavior.channel_names, "neural_from_behavior": neural.channel_names}
    records: list[tuple] = []
    example: dict[str, Any] = {}
    stopped = should_stop or (lambda: False)
    for f, (train, val) in enumerate(folds):
        if stopped():
            break
        nt, bt = segments(neural, train, continuous), segments(behavior, train, continuous)
        nv, bv = segments(neural, val, continuous), segments(behavior, val, continuous)
        truth = {"behavior_from_neural": np.concatenate(bv), "neural_from_behavior": np.concatenate(nv)}
        t0 = time.perf_counter()
        preds = {(m, d, 0): p for (m, d), p in _baseline_segments(nt, bt, nv, bv, settings.lags, counts).items()}
        say(f"fold {f + 1}/{len(folds)}: baselines fitted in {time.perf_counter() - t0:.0f} s")
        for s in range(settings.seeds):
            if stopped():
                break
            t0 = time.perf_counter()
            model = _fit_model(
                neural, behavior, train, settings, settings.seed + s, on_epoch, should_stop
            )
            for d, p in _model_segments(model, nv, bv, window).items():
                preds[("mmgpvae", d, s)] = p
            say(
                f"fold {f + 1}/{len(folds)}, seed {settings.seed + s}: mmgpvae fitted in "
                f"{time.perf_counter() - t0:.0f} s ({len(model.history)} epochs)"
            )
        if stopped():  # a fit cut short (or not run): the fold is not scored
            break
        for (m, d, s), p in preds.items():
            for ch, metric, v in _metrics(d, truth[d], np.concatenate(p), names[d], counts):
                records.append((m, d, ch, metric, f, s, v))
        if f == 0:
            example = _example(neural, val, continuous, truth, preds)
    return Comparison(
        rows=_aggregate(records),
        folds_kind=folds.kind,
        folds_description=folds.describe(),
        behavior_channels=list(behavior.channel_names),
        neural_metric="bits_per_spike" if counts else "r2",
        example=example,
        cancelled=stopped(),
    )


def _example(neural, val, continuous, truth, preds) -> dict[str, Any]:
    """The first held-out stretch of behavior, observed and predicted (seed 0), for the plot."""
    dt = neural.bin_size_s or 1.0
    n = len(np.sort(val)) * neural.n_time if continuous else neural.n_time
    n = min(n, len(truth["behavior_from_neural"]))
    methods = {
        m: np.concatenate(p)[:n] for (m, d, s), p in preds.items()
        if d == "behavior_from_neural" and s == 0
    }
    start = float(np.min(val)) * neural.n_time * dt if continuous else 0.0
    return {
        "time": start + (np.arange(n) + 0.5) * dt,
        "observed": truth["behavior_from_neural"][:n],
        "methods": methods,
        "time_is_session": continuous,
    }


def _aggregate(records: list[tuple]) -> list[dict[str, Any]]:
    """Mean over folds per seed, then mean and spread (sd over seeds) per method, direction,
    channel and metric, in the order first seen."""
    per_seed: dict[tuple, dict[int, list[float]]] = {}
    for m, d, ch, metric, _f, s, v in records:
        per_seed.setdefault((m, d, ch, metric), {}).setdefault(s, []).append(v)
    rows = []
    for (m, d, ch, metric), by_seed in per_seed.items():
        with np.errstate(invalid="ignore"):
            vals = np.array([np.nanmean(v) if not np.all(np.isnan(v)) else np.nan for v in by_seed.values()])
        ok = vals[~np.isnan(vals)]
        rows.append({
            "method": m, "direction": d, "channel": ch, "metric": metric,
            "value": float(ok.mean()) if len(ok) else float("nan"),
            "sd": float(ok.std(ddof=1)) if len(ok) > 1 else 0.0,
            "n_fits": len(ok),
        })
    return rows
