"""One configuration's cross-validated fits (:func:`run_config`), and many jobs run on local
processes or a Ray cluster (:func:`run_jobs`); :func:`run_sweep` runs and chooses."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import Dataset
from mmgpvae_core.sweep.grid import HYPER_KEYS, SPLIT_KEYS, config_name, swept
from mmgpvae_core.sweep.selection import SweepResult, choose

METRICS = (
    "cosmooth_neural",
    "cosmooth_behavior",
    "cross_behavior",
    "cross_neural",
    "cosmooth_bps",
    "cosmooth_r2",
    "r2_behavior_from_neural",
    "r2_behavior_from_neural_mean",
    "bps_neural_from_behavior",
    "r2_neural_from_behavior",
    "heldout_elbo",
    "heldout_ell_neural",
    "heldout_ell_behavior",
    "heldout_kl",
)


@dataclass
class SweepSettings:
    """What every configuration shares: folds, epochs, seed, other model/training options
    (``model_kwargs``; an option a configuration sweeps overrides them)."""

    folds: int = 3
    epochs: int = 150
    seed: int = 0
    n_groups: int = 4
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    save_dir: str | None = None  # write each configuration's first-fold fit here (.mmgp)
    # Held-out scoring, ``scorer(model, neural, behavior, n_groups=, seed=) -> dict`` with a
    # ``score_per_trial`` (trials,) array; None: ``heldout.evaluate`` (the module docstring's
    # predictive score). A module-level function, so that worker processes can unpickle it.
    scorer: Callable[..., dict[str, Any]] | None = None


def with_resolved_likelihoods(
    settings: SweepSettings, neural: Dataset, behavior: Dataset | None
) -> SweepSettings:
    """``settings`` with an "auto" (or absent) likelihood replaced by the choice for the whole
    data set, so that every fold and every fit models the data alike (a fold whose training
    trials hold only 0s and 1s must not get a Bernoulli likelihood of its own)."""
    from mmgpvae_core.model.likelihoods import resolve_likelihood

    kw = dict(settings.model_kwargs)
    neural, behavior = session_pairs(neural, behavior)[0]
    for modality, ds in (("neural", neural), ("behavior", behavior)):
        if ds is not None:
            key = f"{modality}_likelihood"
            kw[key] = resolve_likelihood(kw.get(key, "auto"), ds, modality).name
    return replace(settings, model_kwargs=kw)


def fold_roles(folds, n_trials: int) -> np.ndarray:
    """(folds, trials) int8: what each trial is in each fold: 1 training, 2 validation, 0
    unused (the windows beside a blocked validation block)."""
    roles = np.zeros((len(folds), n_trials), dtype=np.int8)
    for f, (train, val) in enumerate(folds):
        roles[f, train], roles[f, val] = 1, 2
    return roles


def run_config(
    config: dict[str, Any],
    neural: Dataset,
    behavior: Dataset | None,
    settings: SweepSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Fit one configuration on each training fold, score it on the held-out fold.

    Folds are :func:`~mmgpvae_core.evaluation.heldout.session_folds`: contiguous blocks of windows with
    one window left unused beside each validation block for a continuous session, stratified by
    condition for trials. Several sessions (``neural`` and ``behavior`` lists, their names in
    ``config["sessions"]``): fold f holds out fold f of every session, one multi-session model
    is fitted on the rest, and each session is scored by its own part of the model; the trials
    of the row's arrays are every session's in turn.

    Returns a row: the configuration, each metric averaged over folds, ``score`` (mean over all
    trials of the per-trial selection score), ``score_se``, ``score_per_trial`` (trials,),
    ``status`` ("ok", "cancelled" or "failed: ..."), ``folds`` (their kind: "blocked" or
    "stratified"), ``fold_roles`` ((folds, trials): 1 training, 2 validation, 0 unused), and
    ``project`` when ``save_dir`` is set. Metrics are the keys of ``METRICS`` the scorer returns
    (the others are NaN).
    """
    import torch

    from mmgpvae_core.evaluation.heldout import evaluate, session_folds

    score = settings.scorer or evaluate
    torch.set_num_threads(1)
    row: dict[str, Any] = {k: config.get(k) for k in (*SPLIT_KEYS, *HYPER_KEYS)}
    row.update(swept(config))
    row["n_latents"] = sum(int(config[k]) for k in SPLIT_KEYS)
    datas = session_pairs(neural, behavior)
    names = config.get("sessions") if isinstance(neural, list) else None
    folds = [session_folds(n, settings.folds, settings.seed) for n, _ in datas]
    row["folds"] = folds[0].kind
    row["fold_roles"] = np.concatenate(
        [fold_roles(f, n.n_trials) for f, (n, _) in zip(folds, datas)], axis=1
    )
    offsets = np.cumsum([0] + [n.n_trials for n, _ in datas])
    per_trial = np.full(offsets[-1], np.nan)
    fold_metrics: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    epochs_run = 0
    row["status"], row["project"] = "ok", ""
    kwargs = dict(settings.model_kwargs)
    kwargs.update(swept(config))
    kwargs.setdefault("seed", settings.seed)
    for f, parts in enumerate(zip(*folds)):  # parts: each session's (train, val) of fold f
        if should_stop is not None and should_stop():
            row["status"] = "cancelled"
            break
        train = [
            (n.subset(tr), None if b is None else b.subset(tr))
            for (n, b), (tr, _) in zip(datas, parts)
        ]
        model = _fit_fold(config, kwargs, train, names, settings, should_stop)
        if isinstance(model, str):
            row["status"] = model
            break
        epochs_run += model.outcome.epochs_run if model.outcome else settings.epochs
        evs = []
        for k, ((n, b), (_, val)) in enumerate(zip(datas, parts)):
            ev = score(
                model.for_session(k), n.subset(val), None if b is None else b.subset(val),
                n_groups=settings.n_groups, seed=settings.seed,
            )
            per_trial[offsets[k] + val] = ev.pop("score_per_trial")
            evs.append(ev)
        fold_metrics.append(_mean_over_sessions(evs))
        if f == 0 and settings.save_dir:
            path = Path(settings.save_dir) / f"{config_name(config)}.mmgp"
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
            row["project"] = str(path)
    row["fit_seconds"] = round(time.perf_counter() - t0, 2)
    row["epochs_run"] = epochs_run
    return _summarized(row, fold_metrics, per_trial)


def _fit_fold(config, kwargs, train, names, settings, should_stop):
    """The fitted model of one fold's training data ``train`` (each session's (neural,
    behavior)); a status string ("failed: …", "cancelled") when it did not finish."""
    from mmgpvae_core.api import MMGPVAE

    model = MMGPVAE(config["shared"], config["private_neural"], config["private_behavior"], **kwargs)
    try:
        if names is None:
            model.fit(*train[0], epochs=settings.epochs, should_stop=should_stop)
        else:
            behavior = None if train[0][1] is None else [b for _, b in train]
            model.fit([n for n, _ in train], behavior, names=names, epochs=settings.epochs,
                      should_stop=should_stop)
    except Exception as exc:  # one bad configuration must not end the sweep
        return f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
    if model.outcome is not None and model.outcome.status == "cancelled":
        return "cancelled"
    return model


def session_pairs(neural, behavior) -> list[tuple[Dataset, Dataset | None]]:
    """(neural, behavior) of each session: lists (several sessions, ``fit --sessions``) or
    one session's datasets."""
    if not isinstance(neural, list):
        return [(neural, behavior)]
    return list(zip(neural, behavior if behavior is not None else [None] * len(neural)))


def _mean_over_sessions(evs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each held-out metric averaged over the sessions' evaluations (one session's as it is)."""
    if len(evs) == 1:
        return evs[0]
    return {k: np.mean([ev[k] for ev in evs], axis=0) for k in evs[0] if all(k in ev for ev in evs)}


def _summarized(
    row: dict[str, Any], fold_metrics: list[dict[str, Any]], per_trial: np.ndarray
) -> dict[str, Any]:
    """``row`` with each metric averaged over folds and the score over all trials (NaN unless
    every fold finished)."""
    done = row["status"] == "ok"
    for key in METRICS:
        vals = [m[key] for m in fold_metrics if key in m]
        row[key] = float(np.mean(vals)) if vals and done else float("nan")
    ch = [m["r2_behavior_channels"] for m in fold_metrics if "r2_behavior_channels" in m]
    row["r2_behavior_channels"] = np.mean(ch, axis=0) if ch and done else np.zeros(0)
    n = len(per_trial)
    row["score_per_trial"] = per_trial if done else np.full(n, np.nan)
    row["score"] = float(np.mean(per_trial)) if done else float("nan")
    row["score_se"] = float(np.std(per_trial, ddof=1) / math.sqrt(n)) if done and n > 1 else 0.0
    return row


# ---------------------------------------------------------------------------- execution
# A *job* is a module-level function ``job(config, neural, behavior, settings, should_stop=None)
# -> row`` (a dict of plain values and numpy arrays): :func:`run_config` for the sweep; the
# shuffle and seed controls (``controls.py``) run their own fits through the same machinery.
_WORKER: dict[str, Any] = {}


def _init_worker(job, neural, behavior, settings, stop_event) -> None:
    import torch

    torch.set_num_threads(1)
    _WORKER.update(job=job, neural=neural, behavior=behavior, settings=settings, stop=stop_event)


def _run_in_worker(config: dict[str, Any]) -> dict[str, Any]:
    w = _WORKER
    stop = w["stop"]
    return w["job"](
        config,
        w["neural"],
        w["behavior"],
        w["settings"],
        should_stop=None if stop is None else stop.is_set,
    )


def _run_local(job, configs, neural, behavior, settings, n_jobs, on_result, should_stop):
    rows: list[dict[str, Any]] = []
    if n_jobs == 1:
        for i, c in enumerate(configs):
            if should_stop is not None and should_stop():
                break
            row = job(c, neural, behavior, settings, should_stop=should_stop)
            rows.append(row)
            if on_result is not None:
                on_result(i + 1, len(configs), row)
        return rows
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # safe from GUI threads and torch's thread pools
    with ctx.Manager() as manager:
        stop = manager.Event()
        with ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(job, neural, behavior, settings, stop),
        ) as pool:
            pending = {pool.submit(_run_in_worker, c) for c in configs}
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    row = fut.result()
                    rows.append(row)
                    if on_result is not None:
                        on_result(len(rows), len(configs), row)
                if should_stop is not None and should_stop() and not stop.is_set():
                    stop.set()
                    for fut in pending:
                        fut.cancel()
    return rows


def run_jobs(
    job: Callable[..., dict[str, Any]],
    configs: Sequence[dict[str, Any]],
    neural: Dataset,
    behavior: Dataset | None,
    settings: SweepSettings,
    *,
    n_jobs: int | None = None,
    ray_address: str | None = None,
    gpus_per_trial: float | None = None,
    on_result: Callable[[int, int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Run ``job(config, neural, behavior, settings, should_stop=...)`` for every config and
    return the rows in the order they finished (execution as in :func:`run_sweep`; ``job`` must
    be a module-level function, for worker processes and Ray to unpickle)."""
    configs = list(configs)
    if ray_address:
        from mmgpvae_core.integrations.ray import run_ray

        return run_ray(
            ray_address,
            job,
            configs,
            neural,
            behavior,
            settings,
            on_result,
            should_stop,
            gpus_per_trial,
        )
    jobs = min(n_jobs or os.cpu_count() or 1, max(1, len(configs)))
    return _run_local(job, configs, neural, behavior, settings, jobs, on_result, should_stop)


def run_sweep(
    neural: Dataset,
    behavior: Dataset | None,
    configs: Sequence[dict[str, Any]],
    settings: SweepSettings | None = None,
    *,
    n_jobs: int | None = None,
    ray_address: str | None = None,
    gpus_per_trial: float | None = None,
    on_result: Callable[[int, int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    session_names: Sequence[str] | None = None,
) -> SweepResult:
    """Fit and score every configuration; choose one (:func:`select_best`). ``neural`` and
    ``behavior`` may be lists, one entry per session (``session_names``): each configuration is
    then a multi-session model, its folds within each session (:func:`run_config`).

    Local: ``n_jobs`` processes (default: every core; 1 = in this process). With
    ``ray_address`` ("local" starts a Ray instance on this machine) the sweep runs as a Ray Tune
    grid, one trial per configuration, each on one CPU and, where the cluster has GPUs, one GPU.
    ``on_result(done, total, row)`` is called as each configuration finishes; ``should_stop()``
    is polled to cancel (configurations not finished are dropped).
    """
    settings = with_resolved_likelihoods(settings or SweepSettings(), neural, behavior)
    configs = list(configs)
    if not configs:
        raise ValueError("the sweep has no configurations")
    if isinstance(neural, list):  # several sessions: every configuration fits them together
        from mmgpvae_core.data import default_session_names

        names = list(session_names or default_session_names(len(neural)))
        configs = [{**c, "sessions": names} for c in configs]
    rows = run_jobs(
        run_config,
        configs,
        neural,
        behavior,
        settings,
        n_jobs=n_jobs,
        ray_address=ray_address,
        gpus_per_trial=gpus_per_trial,
        on_result=on_result,
        should_stop=should_stop,
    )
    order = {config_name(c): i for i, c in enumerate(configs)}
    rows.sort(key=lambda r: order.get(config_name(r), len(order)))
    return choose(rows, bool(should_stop is not None and should_stop()))
