"""Ray Tune: run a sweep's (or a control's) jobs on a Ray cluster, one trial per job.

Optional (``pip install mmgpvae-studio[ray]``): imported only when a ``ray_address`` is given.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile
from dataclasses import replace
from typing import Any

import numpy as np


def tune_trainable(config, job=None, neural=None, behavior=None, settings=None):
    from ray import tune

    row = job(config["job"], neural, behavior, settings)
    metrics = {k: _plain(v) for k, v in row.items()}
    # Tune adds its own keys to a result: these two say which are the row's, and which were arrays.
    metrics["row_keys"] = list(row)
    metrics["array_keys"] = [k for k, v in row.items() if isinstance(v, np.ndarray)]
    score = row.get("score", float("nan"))
    metrics["score_metric"] = score if isinstance(score, float) and np.isfinite(score) else -1e30
    tune.report(metrics)


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.astype(float).tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _rearm_faulthandler(was_enabled: bool) -> None:
    """``ray.init`` replaces faulthandler's SIGSEGV handler and ``ray.shutdown`` resets it to
    the default: a later crash would print nothing. Install it again (disable first: enabling
    an enabled faulthandler installs nothing)."""
    if was_enabled:
        faulthandler.disable()
        faulthandler.enable(all_threads=True)


def run_ray(
    address, job, configs, neural, behavior, settings, on_result, should_stop, gpus_per_trial
):
    """Run ``job`` (a :func:`mmgpvae_core.sweep.run_jobs` job) for every config as a Ray Tune
    grid on the cluster at ``address`` ("local" starts one here), one CPU (and, where the
    cluster has GPUs, one GPU) per trial; rows in the order they finished."""
    import ray
    from ray import tune

    crash_reports = faulthandler.is_enabled()
    started_here = not ray.is_initialized()
    if started_here:
        if address in ("local", "auto-local"):
            ray.init(
                num_cpus=os.cpu_count(),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        if gpus_per_trial is None:
            gpus_per_trial = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        if gpus_per_trial == 0:
            settings = replace(settings, model_kwargs={**settings.model_kwargs, "device": "cpu"})
        total = len(configs)
        rows: list[dict[str, Any]] = []

        class _Progress(tune.Callback):
            def on_trial_result(self, iteration, trials, trial, result, **info):
                row = {k: result[k] for k in result.get("row_keys", ()) if k in result}
                for k in result.get("array_keys", ()):
                    row[k] = np.asarray(row.get(k, []), dtype=float)
                rows.append(row)
                if on_result is not None:
                    on_result(len(rows), total, row)

        class _Stop(tune.Stopper):
            def __call__(self, trial_id, result):
                return False

            def stop_all(self):
                return bool(should_stop is not None and should_stop())

        trainable = tune.with_resources(
            tune.with_parameters(
                tune_trainable, job=job, neural=neural, behavior=behavior, settings=settings
            ),
            {"cpu": 1, "gpu": gpus_per_trial},
        )
        storage = tempfile.mkdtemp(prefix="mmgpvae_tune_")
        tuner = tune.Tuner(
            trainable,
            param_space={"job": tune.grid_search(list(configs))},
            tune_config=tune.TuneConfig(metric="score_metric", mode="max"),
            run_config=tune.RunConfig(
                name="mmgpvae_sweep",
                storage_path=storage,
                stop=_Stop(),
                callbacks=[_Progress()],
                verbose=0,
            ),
        )
        tuner.fit()
        return rows
    finally:
        if started_here:
            ray.shutdown()
        _rearm_faulthandler(crash_reports)
