"""Model selection: sweep latent splits (and optionally length-scale init, learning rate) with
k-fold cross-validation, locally on every core or on a Ray cluster (Ray Tune).

The selection criterion
-----------------------
Each configuration is fitted on k − 1 folds and scored on the held-out fold by the *predictive*
log-likelihood of held-out data (``evaluation.py``), summed over four terms:

1. held-out neurons given the other neurons and the behavior (co-smoothing),
2. held-out behavior channels given the other behavior channels and the neural data,
3. behavior given the neural data alone (cross-modal),
4. neural data given the behavior alone (cross-modal).

Why these, and not the held-out ELBO: the ELBO of held-out trials pays a KL for every latent
dimension, so it is biased towards fewer latents, and it cannot tell a shared dimension from a
private one (both explain their modality's data equally well). The predictive terms pin down the
three numbers separately. Terms 1 and 2 measure how many dimensions each modality has
(P_S + P_A for neural, P_S + P_B for behavior): a private dimension of A helps predict A's held-out
channels from A's own other channels, and nothing else. Terms 3 and 4 measure how many dimensions
the modalities share: only shared dimensions carry information across, so too few shared
dimensions loses cross-modal accuracy — and too many cannot help it, since a "shared" latent that
one modality does not really load on is inferred at its prior from that modality alone. Terms 1–4
together, held out, also punish too many dimensions of any kind through overfitting, but only
weakly: extra dimensions mostly *tie*. So the best score alone is not the answer; the rule is

    among the configurations whose mean per-trial score is within one standard error (of the
    per-trial paired difference) of the best, take the one with the fewest latent dimensions,
    then the fewest shared dimensions (sharing is the stronger claim), then the highest score

(the "one-standard-error rule" of cross-validation). Per-trial scores are paired across
configurations (every trial is held out once, under the same folds), which makes the standard
error of a difference small.
"""

from __future__ import annotations

import csv
import faulthandler
import itertools
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import Dataset

SPLIT_KEYS = ("shared", "private_neural", "private_behavior")
HYPER_KEYS = ("length_scale_init", "lr")
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
CSV_COLUMNS = (
    *SPLIT_KEYS,
    "n_latents",
    *HYPER_KEYS,
    "score",
    "score_se",
    "chosen",
    *METRICS,
    "r2_behavior_channels",
    "epochs_run",
    "fit_seconds",
    "status",
    "project",
)


# ---------------------------------------------------------------------------- the grid
def parse_range(text: str) -> list[int]:
    """``"0-4"`` → [0, 1, 2, 3, 4]; ``"0,2,3"`` → [0, 2, 3]; ``"2"`` → [2]."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            lo, hi = part.split("-", 1) if not part.startswith("-") else ("", part)
            a, b = int(lo), int(hi)
            if b < a:
                raise ValueError(f"empty range {part!r}")
            out.extend(range(a, b + 1))
        else:
            out.append(int(part))
    if not out or min(out) < 0:
        raise ValueError(f"expected non-negative integers like 0-4 or 0,2,3; got {text!r}")
    return sorted(set(out))


def parse_floats(text: str | None) -> list[float | None]:
    """``"10,20"`` → [10.0, 20.0]; None or "" → [None] (the model's default)."""
    if not text:
        return [None]
    return [float(x) for x in str(text).split(",") if x.strip()]


def make_grid(
    shared: Sequence[int],
    private_neural: Sequence[int],
    private_behavior: Sequence[int],
    length_scale_inits: Sequence[float | None] = (None,),
    lrs: Sequence[float | None] = (None,),
) -> list[dict[str, Any]]:
    """Every combination, as dicts with ``SPLIT_KEYS`` and ``HYPER_KEYS`` (None = default);
    the empty split (0, 0, 0) is skipped."""
    grid = []
    for s, a, b, ell, lr in itertools.product(
        shared, private_neural, private_behavior, length_scale_inits, lrs
    ):
        if s + a + b == 0:
            continue
        grid.append(
            {
                "shared": int(s),
                "private_neural": int(a),
                "private_behavior": int(b),
                "length_scale_init": ell,
                "lr": lr,
            }
        )
    return grid


def config_name(config: dict[str, Any]) -> str:
    name = f"s{config['shared']}_a{config['private_neural']}_b{config['private_behavior']}"
    if config.get("length_scale_init") is not None:
        name += f"_ell{config['length_scale_init']:g}"
    if config.get("lr") is not None:
        name += f"_lr{config['lr']:g}"
    return name


# ---------------------------------------------------------------------------- one configuration
@dataclass
class SweepSettings:
    """What every configuration shares: folds, epochs, seed, other model/training options."""

    folds: int = 3
    epochs: int = 150
    seed: int = 0
    n_groups: int = 4
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    save_dir: str | None = None  # write each configuration's first-fold fit here (.mmgp)
    # Held-out scoring, ``scorer(model, neural, behavior, n_groups=, seed=) -> dict`` with a
    # ``score_per_trial`` (trials,) array; None: ``evaluation.evaluate`` (the module docstring's
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
    for modality, ds in (("neural", neural), ("behavior", behavior)):
        if ds is not None:
            key = f"{modality}_likelihood"
            kw[key] = resolve_likelihood(kw.get(key, "auto"), ds, modality).name
    return replace(settings, model_kwargs=kw)


def run_config(
    config: dict[str, Any],
    neural: Dataset,
    behavior: Dataset | None,
    settings: SweepSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Fit one configuration on each training fold, score it on the held-out fold.

    Returns a row: the configuration, each metric averaged over folds, ``score`` (mean over all
    trials of the per-trial selection score), ``score_se``, ``score_per_trial`` (trials,),
    ``status`` ("ok", "cancelled" or "failed: ..."), and ``project`` when ``save_dir`` is set.
    Metrics are the keys of ``METRICS`` the scorer returns (the others are NaN).
    """
    import torch

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.evaluation import evaluate, kfold_splits

    score = settings.scorer or evaluate
    torch.set_num_threads(1)
    row: dict[str, Any] = {k: config.get(k) for k in (*SPLIT_KEYS, *HYPER_KEYS)}
    row["n_latents"] = sum(int(config[k]) for k in SPLIT_KEYS)
    folds = kfold_splits(neural.n_trials, settings.folds, neural.conditions, settings.seed)
    per_trial = np.full(neural.n_trials, np.nan)
    fold_metrics: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    epochs_run = 0
    row["status"], row["project"] = "ok", ""
    kwargs = dict(settings.model_kwargs)
    kwargs.update({k: config[k] for k in HYPER_KEYS if config.get(k) is not None})
    kwargs.setdefault("seed", settings.seed)
    for f, (train, val) in enumerate(folds):
        if should_stop is not None and should_stop():
            row["status"] = "cancelled"
            break
        model = MMGPVAE(
            config["shared"], config["private_neural"], config["private_behavior"], **kwargs
        )
        b_train = None if behavior is None else behavior.subset(train)
        b_val = None if behavior is None else behavior.subset(val)
        try:
            model.fit(
                neural.subset(train), b_train, epochs=settings.epochs, should_stop=should_stop
            )
        except Exception as exc:  # one bad configuration must not end the sweep
            row["status"] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
            break
        if model.outcome is not None and model.outcome.status == "cancelled":
            row["status"] = "cancelled"
            break
        epochs_run += model.outcome.epochs_run if model.outcome else settings.epochs
        ev = score(model, neural.subset(val), b_val, n_groups=settings.n_groups, seed=settings.seed)
        per_trial[val] = ev.pop("score_per_trial")
        fold_metrics.append(ev)
        if f == 0 and settings.save_dir:
            path = Path(settings.save_dir) / f"{config_name(config)}.mmgp"
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
            row["project"] = str(path)
    row["fit_seconds"] = round(time.perf_counter() - t0, 2)
    row["epochs_run"] = epochs_run
    done = row["status"] == "ok"
    for key in METRICS:
        vals = [m[key] for m in fold_metrics if key in m]
        row[key] = float(np.mean(vals)) if vals and done else float("nan")
    ch = [m["r2_behavior_channels"] for m in fold_metrics if "r2_behavior_channels" in m]
    row["r2_behavior_channels"] = np.mean(ch, axis=0) if ch and done else np.zeros(0)
    row["score_per_trial"] = per_trial if done else np.full(neural.n_trials, np.nan)
    row["score"] = float(np.mean(per_trial)) if done else float("nan")
    n = neural.n_trials
    row["score_se"] = float(np.std(per_trial, ddof=1) / math.sqrt(n)) if done and n > 1 else 0.0
    return row


# ---------------------------------------------------------------------------- selection
def select_best(rows: Sequence[dict[str, Any]]) -> tuple[int, str]:
    """Index of the chosen row by the one-standard-error rule (module docstring), and why."""
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok" and np.isfinite(r["score"])]
    if not ok:
        raise ValueError("no configuration finished: nothing to choose from")
    top = max(ok, key=lambda i: rows[i]["score"])
    best = np.asarray(rows[top]["score_per_trial"])
    tied = []
    for i in ok:
        d = best - np.asarray(rows[i]["score_per_trial"])
        se = np.std(d, ddof=1) / math.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= se:
            tied.append(i)
    chosen = min(tied, key=lambda i: (rows[i]["n_latents"], rows[i]["shared"], -rows[i]["score"]))
    if chosen == top:
        why = f"highest held-out predictive score ({rows[top]['score']:.2f} nats/trial)"
    else:
        why = (
            f"fewest latents within one standard error of the best score "
            f"({rows[chosen]['score']:.2f} vs {rows[top]['score']:.2f} nats/trial for "
            f"{config_name(rows[top])}; {len(tied)} configuration(s) tied)"
        )
    return chosen, why


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    best_index: int | None
    reason: str
    cancelled: bool = False

    @property
    def best(self) -> dict[str, Any] | None:
        return None if self.best_index is None else self.rows[self.best_index]

    def best_line(self) -> str:
        b = self.best
        if b is None:
            return "best: none"
        return (
            f"best: shared={b['shared']} private_neural={b['private_neural']} "
            f"private_behavior={b['private_behavior']}"
        )


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


def _tune_trainable(config, job=None, neural=None, behavior=None, settings=None):
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


def _run_ray(
    address, job, configs, neural, behavior, settings, on_result, should_stop, gpus_per_trial
):
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
            settings = SweepSettings(
                **{**settings.__dict__, "model_kwargs": {**settings.model_kwargs, "device": "cpu"}}
            )
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
                _tune_trainable, job=job, neural=neural, behavior=behavior, settings=settings
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
        return _run_ray(
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
) -> SweepResult:
    """Fit and score every configuration; choose one (:func:`select_best`).

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
    cancelled = bool(should_stop is not None and should_stop())
    try:
        best, why = select_best(rows)
    except ValueError as exc:
        best, why = None, str(exc)
    for i, r in enumerate(rows):
        r["chosen"] = i == best
    return SweepResult(rows, best, why, cancelled)


# ---------------------------------------------------------------------------- output
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{float(v):.6g}"
    if isinstance(v, (np.ndarray, list, tuple)):
        return ";".join(f"{float(x):.4g}" for x in v)
    return str(v)


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], path: str | Path) -> Path:
    """A CSV of ``columns`` (missing values empty, arrays ``;``-joined); parent folders made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_fmt(r.get(k)) for k in columns])
    return path


def write_csv(result: SweepResult, path: str | Path) -> Path:
    """One row per configuration (``CSV_COLUMNS``); ``chosen`` = 1 on the selected row."""
    return write_rows(result.rows, CSV_COLUMNS, path)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    """Held-out score (± SE) and cross-modal R² against the number of shared dimensions, one
    line per private split; the chosen configuration is starred."""
    from mmgpvae_core.figures._base import new_figure

    rows = [r for r in result.rows if r.get("status") == "ok"]
    fig = new_figure(9.0, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["private_neural"], r["private_behavior"], r.get("length_scale_init"), r.get("lr"))
        groups.setdefault(key, []).append(r)
    for key, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        rs = sorted(rs, key=lambda r: r["shared"])
        x = [r["shared"] for r in rs]
        label = f"A={key[0]} B={key[1]}" + "".join(
            f" {n}={v:g}" for n, v in zip(("ℓ0", "lr"), key[2:]) if v is not None
        )
        ax1.errorbar(
            x,
            [r["score"] for r in rs],
            yerr=[r["score_se"] for r in rs],
            marker="o",
            ms=3,
            lw=1,
            capsize=2,
            label=label,
        )
        ax2.plot(
            x,
            [r.get("r2_behavior_from_neural", np.nan) for r in rs],
            marker="o",
            ms=3,
            lw=1,
            label=label,
        )
    b = result.best
    if b is not None:
        ax1.plot(
            [b["shared"]], [b["score"]], marker="*", ms=14, color="k", ls="none", label="chosen"
        )
        ax2.plot(
            [b["shared"]],
            [b.get("r2_behavior_from_neural", np.nan)],
            marker="*",
            ms=14,
            color="k",
            ls="none",
        )
    ax1.set_xlabel("shared dimensions")
    ax1.set_ylabel("held-out predictive log-lik. (nats/trial)")
    ax2.set_xlabel("shared dimensions")
    ax2.set_ylabel("R² behavior from neural (held out)")
    ax1.legend(fontsize=6, ncol=2)
    ax1.set_title(result.best_line().replace("best: ", "chosen: "), fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def format_table(result: SweepResult, columns: Sequence[str] | None = None) -> str:
    """A plain-text table of the main columns (for the terminal and the benchmark log)."""
    cols = list(
        columns
        or (
            *SPLIT_KEYS,
            "score",
            "score_se",
            "cosmooth_bps",
            "r2_behavior_from_neural",
            "bps_neural_from_behavior",
            "heldout_elbo",
            "chosen",
        )
    )
    short = {"private_neural": "A", "private_behavior": "B", "shared": "S"}
    lines = ["| " + " | ".join(short.get(c, c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in result.rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if c == "chosen":
                cells.append("**←**" if v else "")
            elif isinstance(v, float):
                cells.append(
                    "" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
                )
            else:
                cells.append("" if v is None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
