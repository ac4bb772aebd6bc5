"""Held-out scores of a fit: trial splits, co-smoothing, cross-modal prediction, held-out ELBO.

Everything here scores a fitted :class:`~mmgpvae_core.api.MMGPVAE` on trials it was *not* trained
on. Inputs are ``(trials, time, channels)`` arrays or :class:`Dataset` objects; NaN = missing.

Held-out channels are hidden from the encoders by setting them to NaN (the encoders treat NaN as
missing), so "predict neuron i from the others" needs no special model: the posterior is inferred
from what is left and the decoder predicts everything.

Predictive scores (nats, summed over bins and channels, one number per trial):

- ``cosmooth_neural``: held-out neurons given the other neurons *and* the behavior;
- ``cosmooth_behavior``: held-out behavior channels given the other channels and the neural data;
- ``cross_behavior``: all behavior channels given the neural data alone (shared latents inferred
  by the neural encoder alone: the product-of-experts posterior with one expert);
- ``cross_neural``: all neurons given the behavior alone.

Their sum, ``score``, is the model-selection criterion of :mod:`mmgpvae_core.sweep`
(:mod:`mmgpvae_core.evaluation.recovery` scores latents against a known truth instead). Reported as
well: NLB-style co-smoothing bits/spike (held-out neurons from held-in neurons only), R² per
behavior channel predicted from neural activity alone, bits/spike of neurons predicted from
behavior alone, and the held-out ELBO per modality.

Predictive densities are each likelihood's ``predictive_log_prob``: Poisson (and negative
binomial) at the posterior-mean rate ``E[exp f]``; Gaussian the moment-matched predictive
``N(E y, Var f + noise)`` in the data's units; Bernoulli with ``E[p]``. Count likelihoods report
bits/spike, others R².
Linear decoders use the posterior moments in closed form, MLP decoders ``n_samples`` samples.
Bits/spike follow the Neural Latents Benchmark: (log-likelihood − that of each neuron's mean rate
over the evaluated trials) / (spike count · ln 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mmgpvae_core.data import Dataset
from mmgpvae_core.model.elbo import elbo_terms

PREDICTIVE_TERMS = ("cosmooth_neural", "cosmooth_behavior", "cross_behavior", "cross_neural")


# ---------------------------------------------------------------------------- splits
def _labels(n_trials: int, conditions: Any) -> np.ndarray:
    if conditions is None:
        return np.zeros(n_trials, dtype=int)
    cond = np.asarray(conditions)
    if cond.shape != (n_trials,):
        raise ValueError(f"conditions: expected shape ({n_trials},), found {cond.shape}")
    return cond


def _stratified_order(n_trials: int, conditions: Any, seed: int) -> np.ndarray:
    """Trials shuffled within each condition, then interleaved condition by condition: dealing
    this order round-robin into k folds gives every fold the same mix of conditions."""
    rng = np.random.default_rng(seed)
    labels = _labels(n_trials, conditions)
    groups = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    order = np.concatenate(groups) if groups else np.arange(0)
    return order


def kfold_splits(
    n_trials: int, k: int, conditions: Any = None, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs; every trial is validated exactly once. Seeded and
    stratified by condition (each fold gets each condition's trials in proportion)."""
    if not 2 <= k <= n_trials:
        raise ValueError(f"folds: need 2 <= k <= {n_trials} trials, got {k}")
    order = _stratified_order(n_trials, conditions, seed)
    fold_of = np.empty(n_trials, dtype=int)
    fold_of[order] = np.arange(n_trials) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def train_val_split(
    n_trials: int, val_fraction: float = 0.25, conditions: Any = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One seeded (train, validation) split, stratified by condition."""
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be in (0, 1)")
    order = _stratified_order(n_trials, conditions, seed)
    labels = _labels(n_trials, conditions)
    val = []
    for c in np.unique(labels):
        members = order[labels[order] == c]
        n_val = int(round(val_fraction * len(members)))
        val.append(members[:n_val])
    val_idx = np.sort(np.concatenate(val)) if val else np.arange(0)
    if len(val_idx) == 0 or len(val_idx) == n_trials:
        raise ValueError(f"val_fraction {val_fraction} leaves an empty train or validation set")
    return np.setdiff1d(np.arange(n_trials), val_idx), val_idx


#: windows left unused between a validation block and the training windows of a session
GAP_WINDOWS = 1


@dataclass(frozen=True)
class Folds:
    """(train, validation) index pairs over trials or windows, and how they were dealt.

    kind: "blocked" (contiguous blocks of a continuous session's windows, ``gap`` windows left
    unused beside each validation block, so that no held-out window sits between training
    neighbours that share its slow signals) or "stratified" (trials of a trials table, dealt at
    random in proportion to their conditions).
    """

    splits: list[tuple[np.ndarray, np.ndarray]]
    kind: str
    gap: int = 0

    def __iter__(self):
        return iter(self.splits)

    def __len__(self) -> int:
        return len(self.splits)

    def describe(self) -> str:
        """One phrase for the output, e.g. "3 blocked folds (contiguous windows, 1 left unused
        beside each validation block)"."""
        n = len(self.splits)
        what = "held-out split" if n == 1 else "folds"
        if self.kind == "blocked":
            return (
                f"{n} blocked {what} (contiguous windows of the session, {self.gap} window(s) "
                "left unused beside each validation block)"
            )
        return f"{n} stratified {what} (trials dealt at random within each condition)"


def _blocked(n: int, val_blocks: list[tuple[int, int]], gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    idx = np.arange(n)
    for lo, hi in val_blocks:
        train = idx[(idx < lo - gap) | (idx >= hi + gap)]
        val = idx[lo:hi]
        if len(val) == 0 or len(train) == 0:
            raise ValueError(
                f"folds: {n} windows are too few for {len(val_blocks)} blocked folds with "
                f"{gap} window(s) left unused beside each validation block"
            )
        out.append((train, val))
    return out


def blocked_kfold_splits(n_trials: int, k: int, gap: int = GAP_WINDOWS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` contiguous validation blocks of consecutive windows (every window validated once);
    training takes the windows more than ``gap`` away from the block."""
    if not 2 <= k <= n_trials:
        raise ValueError(f"folds: need 2 <= k <= {n_trials} windows, got {k}")
    edges = np.linspace(0, n_trials, k + 1).round().astype(int)
    return _blocked(n_trials, list(zip(edges[:-1], edges[1:])), gap)


def blocked_test_split(
    n_trials: int, test_fraction: float, gap: int = GAP_WINDOWS
) -> tuple[np.ndarray, np.ndarray]:
    """The last ``test_fraction`` of a session's windows for testing, the windows before them
    (less ``gap``) for training."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be in (0, 1), got {test_fraction}")
    n_val = max(1, int(round(test_fraction * n_trials)))
    return _blocked(n_trials, [(n_trials - n_val, n_trials)], gap)[0]


def session_folds(ds: Dataset, k: int, seed: int = 0, gap: int = GAP_WINDOWS) -> Folds:
    """``k`` folds of ``ds``: blocked for a continuous session (windows), stratified by condition
    for trials."""
    from mmgpvae_core.continuous import is_continuous

    if is_continuous(ds):
        return Folds(blocked_kfold_splits(ds.n_trials, k, gap), "blocked", gap)
    return Folds(kfold_splits(ds.n_trials, k, ds.conditions, seed), "stratified")


def session_test_split(ds: Dataset, test_fraction: float, seed: int = 0, gap: int = GAP_WINDOWS) -> Folds:
    """One split holding out ``test_fraction``: the end of a continuous session (blocked), or
    that fraction of the trials stratified by condition."""
    from mmgpvae_core.continuous import is_continuous

    if is_continuous(ds):
        return Folds([blocked_test_split(ds.n_trials, test_fraction, gap)], "blocked", gap)
    return Folds([train_val_split(ds.n_trials, test_fraction, ds.conditions, seed)], "stratified")


def channel_groups(n_channels: int, n_groups: int, seed: int = 0) -> list[np.ndarray]:
    """Channels split into ``n_groups`` disjoint random groups (each held out once)."""
    rng = np.random.default_rng(seed)
    n_groups = max(1, min(n_groups, n_channels))
    return [np.sort(g) for g in np.array_split(rng.permutation(n_channels), n_groups)]


# ---------------------------------------------------------------------------- predictions
def _array(x: Any) -> np.ndarray | None:
    if x is None:
        return None
    return np.asarray(x.data if isinstance(x, Dataset) else x, dtype=np.float64)


@torch.no_grad()
def predict(
    model,
    neural: Any = None,
    behavior: Any = None,
    targets: dict[str, Any] | None = None,
    n_samples: int = 20,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Posterior-predictive of each modality from the inputs given (either may be None).

    Returns, per modality, ``mean`` (trials, time, channels) and, for each array in ``targets``,
    ``log_prob`` (same shape; NaN where the target is missing) under the predictive density.
    """
    module = model.require_fitted()
    module.eval()
    dev = model.torch_device
    nd, bd = _array(neural), _array(behavior)

    def t(x):
        return None if x is None else torch.as_tensor(x, dtype=torch.float32, device=dev)

    out: dict[str, dict[str, np.ndarray]] = {}
    with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
        torch.manual_seed(seed)
        post = module.posterior(t(nd), t(bd))
        cache: dict = {}  # one draw of posterior samples for every MLP decoder
        for name, _, _, lik in module.modalities():
            mean, f_var = module.predictive(name, post, n_samples, cache)
            res = {"mean": mean.cpu().numpy().astype(np.float64)}
            y = None if targets is None else _array(targets.get(name))
            if y is not None:
                res["log_prob"] = _log_prob(lik, y, mean, f_var)
            out[name] = res
    return out


def _log_prob(lik, y: np.ndarray, mean: torch.Tensor, f_var: torch.Tensor) -> np.ndarray:
    """Predictive log-density of each observed sample (NaN where y is missing)."""
    yt = torch.as_tensor(np.nan_to_num(y), dtype=mean.dtype, device=mean.device)
    out = lik.predictive_log_prob(yt, mean, f_var).cpu().numpy().astype(np.float64)
    out[np.isnan(y)] = np.nan
    return out


# ---------------------------------------------------------------------------- metrics
def r2_per_channel(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(channels,) R² = 1 − SSE / SST over all observed bins of the evaluated trials."""
    y = np.asarray(y, dtype=float).reshape(-1, y.shape[-1])
    p = np.asarray(pred, dtype=float).reshape(-1, y.shape[-1])
    ok = ~np.isnan(y)
    yc = np.where(ok, y, 0.0)
    n = ok.sum(0).clip(min=1)
    mu = yc.sum(0) / n
    sse = np.where(ok, (y - p) ** 2, 0.0).sum(0)
    sst = np.where(ok, (y - mu) ** 2, 0.0).sum(0)
    return 1.0 - sse / np.where(sst > 0, sst, np.nan)


def r2_pooled(y: np.ndarray, pred: np.ndarray) -> float:
    """R² pooled over channels: 1 − Σ SSE / Σ SST (each channel around its own mean)."""
    y2 = np.asarray(y, dtype=float).reshape(-1, y.shape[-1])
    p2 = np.asarray(pred, dtype=float).reshape(-1, y.shape[-1])
    ok = ~np.isnan(y2)
    mu = np.nanmean(y2, axis=0)
    sse = np.where(ok, (y2 - p2) ** 2, 0.0).sum()
    sst = np.where(ok, (y2 - mu) ** 2, 0.0).sum()
    return float(1.0 - sse / sst) if sst > 0 else float("nan")


def bits_per_spike(counts: np.ndarray, rates: np.ndarray) -> float:
    """NLB bits/spike of predicted ``rates`` for ``counts`` (trials, time, neurons), relative to
    each neuron's mean rate over these trials. 0 = no better than the mean rate."""
    y = np.asarray(counts, dtype=float)
    lam = np.clip(np.asarray(rates, dtype=float), 1e-8, None)
    ok = ~np.isnan(y)
    y0 = np.where(ok, y, 0.0)
    mean_rate = np.clip(y0.sum((0, 1)) / ok.sum((0, 1)).clip(min=1), 1e-8, None)
    ll = np.where(ok, y0 * np.log(lam) - lam, 0.0).sum()
    ll0 = np.where(ok, y0 * np.log(mean_rate) - mean_rate, 0.0).sum()
    n_spikes = y0.sum()
    return float((ll - ll0) / (n_spikes * np.log(2))) if n_spikes > 0 else float("nan")


def _per_trial(lp: np.ndarray) -> np.ndarray:
    return np.nansum(lp, axis=(1, 2))


def _masked(y: np.ndarray, channels: np.ndarray) -> np.ndarray:
    x = y.copy()
    x[..., channels] = np.nan
    return x


def cosmooth(
    model,
    target: str,
    neural: Any,
    behavior: Any = None,
    n_groups: int = 4,
    seed: int = 0,
    n_samples: int = 20,
) -> dict[str, np.ndarray]:
    """Predict each channel of ``target`` ("neural" or "behavior") with it (and the rest of its
    group) hidden, from the other channels of ``target`` plus the other modality if given (pass
    None to leave it out). Channels are held out in ``n_groups`` random groups, each once.

    Returns ``mean`` and ``log_prob`` (trials, time, channels) of the held-out predictions.
    """
    data = {"neural": _array(neural), "behavior": _array(behavior)}
    y = data[target]
    if y is None:
        raise ValueError(f"co-smoothing {target} needs {target} data")
    mean = np.full_like(y, np.nan)
    lp = np.full_like(y, np.nan)
    for g in channel_groups(y.shape[-1], n_groups, seed):
        inputs = dict(data)
        inputs[target] = _masked(y, g)
        res = predict(
            model,
            inputs["neural"],
            inputs["behavior"],
            targets={target: y},
            n_samples=n_samples,
            seed=seed,
        )[target]
        mean[..., g] = res["mean"][..., g]
        lp[..., g] = res["log_prob"][..., g]
    return {"mean": mean, "log_prob": lp}


@torch.no_grad()
def heldout_elbo(model, neural: Any, behavior: Any = None) -> dict[str, float]:
    """ELBO of held-out trials, per trial: ``elbo``, ``ell_neural``, ``ell_behavior``, ``kl``.
    (Biased towards fewer latents as a selection criterion: the KL grows with every dimension.)"""
    module = model.require_fitted()
    module.eval()
    nd, bd = _array(neural), _array(behavior)
    dev = model.torch_device
    n = nd.shape[0]
    with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
        torch.manual_seed(0)
        terms = elbo_terms(
            module,
            torch.as_tensor(nd, dtype=torch.float32, device=dev),
            None if bd is None else torch.as_tensor(bd, dtype=torch.float32, device=dev),
            n_samples=8,
        )
    return {
        "elbo": float(terms.elbo) / n,
        "ell_neural": float(terms.ell_neural) / n,
        "ell_behavior": float(terms.ell_behavior) / n,
        "kl": float(terms.kl) / n,
    }


def evaluate(
    model,
    neural: Any,
    behavior: Any = None,
    n_groups: int = 4,
    seed: int = 0,
    n_samples: int = 20,
) -> dict[str, Any]:
    """Every held-out score of a fitted model on trials it did not see.

    Returns floats (per-trial means in nats, bits/spike, R²) and arrays: ``score_per_trial``
    (trials,) — the selection score, the sum of the four predictive terms of the module
    docstring — and ``r2_behavior_channels`` (behavior channels,).
    """
    yn, yb = _array(neural), _array(behavior)
    module = model.require_fitted()
    has_b = yb is not None and module.has_behavior
    is_counts = module.lik_neural.counts  # bits/spike for spike counts, R² otherwise
    kw = dict(n_groups=n_groups, seed=seed, n_samples=n_samples)
    out: dict[str, Any] = {}
    per_trial = np.zeros(yn.shape[0])

    cs_n = cosmooth(model, "neural", yn, yb if has_b else None, **kw)
    out["cosmooth_neural"] = float(_per_trial(cs_n["log_prob"]).mean())
    per_trial += _per_trial(cs_n["log_prob"])
    nlb = cosmooth(model, "neural", yn, None, **kw)  # neurons from neurons only (NLB co-bps)
    if is_counts:
        out["cosmooth_bps"] = bits_per_spike(yn, nlb["mean"])
    else:
        out["cosmooth_r2"] = r2_pooled(yn, nlb["mean"])

    if has_b:
        cs_b = cosmooth(model, "behavior", yn, yb, **kw)
        out["cosmooth_behavior"] = float(_per_trial(cs_b["log_prob"]).mean())
        per_trial += _per_trial(cs_b["log_prob"])

        from_neural = predict(model, yn, None, targets={"behavior": yb}, **_pk(kw))["behavior"]
        out["cross_behavior"] = float(_per_trial(from_neural["log_prob"]).mean())
        per_trial += _per_trial(from_neural["log_prob"])
        r2c = r2_per_channel(yb, from_neural["mean"])
        out["r2_behavior_channels"] = r2c
        out["r2_behavior_from_neural"] = r2_pooled(yb, from_neural["mean"])
        out["r2_behavior_from_neural_mean"] = float(np.nanmean(r2c))

        from_behavior = predict(model, None, yb, targets={"neural": yn}, **_pk(kw))["neural"]
        out["cross_neural"] = float(_per_trial(from_behavior["log_prob"]).mean())
        per_trial += _per_trial(from_behavior["log_prob"])
        if is_counts:
            out["bps_neural_from_behavior"] = bits_per_spike(yn, from_behavior["mean"])
        else:
            out["r2_neural_from_behavior"] = r2_pooled(yn, from_behavior["mean"])

    for k, v in heldout_elbo(model, yn, yb if has_b else None).items():
        out[f"heldout_{k}"] = v
    out["score_per_trial"] = per_trial
    out["score"] = float(per_trial.mean())
    return out


def _pk(kw: dict) -> dict:
    return {"n_samples": kw["n_samples"], "seed": kw["seed"]}
