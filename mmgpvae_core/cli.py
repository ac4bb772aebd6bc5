"""``mmgpvae``: the headless command line (simulate, fit, export-latents, score, inspect, figures,
sweep, null-test, consistency).

Exit codes: 0 success, 1 training failed, 2 bad input (the message names file and field),
130 interrupted (Ctrl+C or SIGTERM; the project holds the last completed epoch).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.checkpoint import CHECKPOINT_EVERY_S
from mmgpvae_core.config import AUTO, LIKELIHOODS, ConfigError
from mmgpvae_core.data import DataError

EXIT_BAD_INPUT = 2


def _data_warnings_as_lines():
    """A reader's DataWarning (a cell dropped, a rate overridden) as one ``mmgpvae: warning:``
    line on stderr; other warnings go on as before."""
    from mmgpvae_core.loaders.checks import data_warnings

    return data_warnings(lambda m: print(f"mmgpvae: warning: {m}", file=sys.stderr))


def _fail(msg: str, code: int = EXIT_BAD_INPUT) -> int:
    """One line on stderr (a multi-line message from a library is joined), the exit code back."""
    one_line = " ".join(part.strip() for part in str(msg).splitlines() if part.strip())
    print(f"mmgpvae: error: {one_line}", file=sys.stderr)
    return code


# ---------------------------------------------------------------------------- simulate
def cmd_simulate(a: argparse.Namespace) -> int:
    from mmgpvae_core.simulate import simulate, write_simulation

    sim = simulate(
        n_trials=a.trials,
        n_time=a.bins,
        shared=a.shared,
        private_neural=a.private_neural,
        private_behavior=a.private_behavior,
        n_neurons=a.neurons,
        private_behavior_weight=a.private_behavior_weight,
        seed=a.seed,
    )
    paths = write_simulation(a.out, sim)
    for k, p in paths.items():
        print(f"wrote {k}: {p}")
    return 0


# ---------------------------------------------------------------------------- fit
def _load_pair(a: argparse.Namespace):
    from mmgpvae_core.loaders import load_pair

    neural: dict[str, Any] = {}
    behavior: dict[str, Any] = {}
    for opts, key, val in (
        (neural, "signal", a.neural_signal),
        (neural, "iscell_threshold", a.iscell_threshold),
        (neural, "dff_percentile", a.dff_percentile),
        (neural, "series", a.neural_series),
        (behavior, "series", a.behavior_series),
        (behavior, "likelihood_threshold", a.likelihood_threshold),
        (behavior, "egocentric", a.egocentric),
    ):
        if val is not None:
            opts[key] = val
    if a.all_rois:
        neural["use_iscell"] = False
    if a.zscore in ("neural", "both"):
        neural["zscore"] = True
    if a.zscore in ("behavior", "both"):
        behavior["zscore"] = True
    return load_pair(
        a.neural,
        a.behavior,
        trials=a.trials,
        bin_size_s=a.bin_size,
        neural_rate_hz=a.neural_rate,
        behavior_rate_hz=a.behavior_rate,
        neural_options=neural,
        behavior_options=behavior,
        window_s=a.window,
    )


class _Progress:
    """A tqdm progress bar fed by the training callback."""

    def __init__(self, total: int, initial: int, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, initial=initial, unit="epoch", disable=quiet, dynamic_ncols=True,
            file=sys.stderr,
        )

    def __call__(self, r) -> None:
        self.bar.update(1)
        self.bar.set_postfix(
            elbo=f"{r.elbo:.1f}", kl=f"{r.kl:.1f}",
            ell=" ".join(f"{x:.1f}" for x in r.length_scales), refresh=False,
        )

    def close(self) -> None:
        self.bar.close()


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (``kill``, a cluster's pre-emption notice) interrupts the fit as Ctrl+C does, so
    it saves its last completed epoch before it goes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _model_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """Model and training options from the flags of ``_add_model_arguments`` (fit, null-test)."""
    kwargs: dict[str, Any] = dict(
        neural_likelihood=a.neural_likelihood,
        behavior_likelihood=a.behavior_likelihood,
        seed=a.seed,
        device=a.device or "auto",
        prune_threshold=a.prune_threshold,
    )
    for key, val in (
        ("epochs", a.epochs),
        ("lr", a.lr),
        ("length_scale_init", a.length_scale_init),
        ("batch_size", a.batch_size),
        ("cross_modal", a.cross_modal),
    ):
        if val is not None:
            kwargs[key] = val
    if a.neural_decoder:
        kwargs["neural_decoder"] = a.neural_decoder
    if a.behavior_decoder:
        kwargs["behavior_decoder"] = a.behavior_decoder
    return kwargs


def cmd_fit(a: argparse.Namespace) -> int:
    import torch

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.checkpoint import Checkpointer
    from mmgpvae_core.training import FitOutcome, TrainingFailed

    torch.set_num_threads(max(1, torch.get_num_threads()))
    resumes = None  # the FitState of an interrupted fit this one continues
    if a.resume:
        model = MMGPVAE.load(a.resume, device=a.device)
        changes = {k: v for k, v in (("epochs", a.epochs), ("lr", a.lr)) if v is not None}
        if changes:
            model.train_config = model.train_config.replace(**changes)
        neural, behavior = model.neural, model.behavior
        out = Path(a.out or a.resume)
        done = len(model.history)
        state = model.fit_state
        if state is not None:  # killed or interrupted: on to its target (or --epochs N more)
            epochs = a.epochs if a.epochs is not None else state.remaining_epochs
            resumes = dataclasses.replace(state, epoch=done, target_epoch=done + epochs)
            print(
                f"mmgpvae: resuming the interrupted fit of {a.resume} from epoch {done}: "
                f"{epochs} more, to epoch {done + epochs}", file=sys.stderr,
            )
        else:
            epochs = model.train_config.epochs
            print(
                f"mmgpvae: resuming {a.resume} from epoch {done}: up to {epochs} more epochs",
                file=sys.stderr,
            )
    else:
        if not a.neural:
            return _fail("fit needs --neural FILE (or --resume RUN.mmgp)")
        if not a.out:
            return _fail("fit needs --out RUN.mmgp")
        neural, behavior = _load_pair(a)
        model = MMGPVAE(a.shared, a.private_neural, a.private_behavior, **_model_kwargs(a))
        model.data_config = model.data_config.replace(
            neural_path=str(a.neural), behavior_path=str(a.behavior or "")
        )
        out = Path(a.out)
        done, epochs = 0, model.train_config.epochs
    choices = model.resolve_likelihoods(neural, behavior)
    print(
        f"fitting {model!r} on {neural.n_trials} trials × {neural.n_time} bins "
        f"({neural.n_channels} neural" + (f", {behavior.n_channels} behavior" if behavior else "")
        + f" channels) on {model.device}; up to {epochs} epochs -> {out}",
        file=sys.stderr,
    )
    for modality, choice in choices.items():
        why = "from the project" if a.resume else choice.reason
        print(f"  {modality} likelihood: {choice.name} ({why})", file=sys.stderr)
    bar = _Progress(done + epochs, done, a.quiet)

    def checkpoint_failed(exc: OSError) -> None:
        print(f"\nmmgpvae: warning: could not write a checkpoint ({exc}); training goes on",
              file=sys.stderr)

    checkpoint = Checkpointer(
        model, out, a.checkpoint_every, resumes=resumes, on_error=checkpoint_failed
    )

    def on_epoch(r) -> None:
        bar(r)
        checkpoint(r)

    code = 0
    try:
        with _sigterm_interrupts():
            model.fit(
                neural, behavior, epochs=epochs, on_epoch=on_epoch,
                warmup=resumes.warmup if resumes else None,
            )
    except TrainingFailed as exc:
        bar.close()
        print(f"mmgpvae: training failed: {exc}", file=sys.stderr)
        model.outcome = FitOutcome("failed", len(model.history) - done, str(exc))
        code = 1
    except KeyboardInterrupt:
        bar.close()
        print(
            f"mmgpvae: interrupted; saving the last completed epoch (`mmgpvae fit --resume {out}` "
            "continues)", file=sys.stderr,
        )
        code = 130
    bar.close()
    if model.module is not None and len(model.history):
        # An interrupted fit is saved as a checkpoint, so that --resume goes on to its target.
        try:
            status = "interrupted" if code == 130 and checkpoint.save("interrupted") else None
            if status is None:
                model.save(out)
                status = model.outcome.status if model.outcome else None
        except OSError as exc:  # --out unwritable, disk full: the fit must not be lost
            import tempfile

            rescue = Path(tempfile.gettempdir()) / f"{out.stem}.rescued.mmgp"
            model.save(rescue)
            print(f"mmgpvae: error: could not write {out} ({exc}); the fit was saved to {rescue}",
                  file=sys.stderr)
            return 1
        h = model.history
        print(
            f"saved {out}: {len(h)} epochs, ELBO {h.elbo[-1]:.2f} per trial "
            f"(neural {h.ell_neural[-1]:.2f}, behavior {h.ell_behavior[-1]:.2f}, KL {h.kl[-1]:.2f}); "
            f"length-scales {[round(float(x), 2) for x in model.length_scales]} bins"
            + (f"; {status}" if status else ""),
            file=sys.stderr,
        )
    return code


# ---------------------------------------------------------------------------- export / score
def cmd_export_latents(a: argparse.Namespace) -> int:
    from mmgpvae_core.export import collect_latents, export_latents, latents_format

    latents_format(a.out)  # a wrong extension fails before the project is read
    if a.continuous:
        from mmgpvae_core.export import export_continuous

        out = export_continuous(a.run, a.out)
        with np.load(out) if out.suffix == ".npz" else contextlib.nullcontext() as z:
            what = {k: z[k].shape for k in z.files} if z is not None else "session-long series"
        print(f"wrote {out}: {what}")
        return 0
    latents = collect_latents(a.run)
    out = export_latents(latents, a.out)
    shapes = {k: v.shape for k, v in latents.arrays.items() if not k.endswith("_var")}
    print(f"wrote {out}: {shapes}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from mmgpvae_core.metrics import score_latents

    def load(path: str, what: str) -> dict[str, np.ndarray]:
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(path, "-", f"not a readable NPZ of {what} ({exc})") from None

    lat, truth = load(a.latents, "latents"), load(a.truth, "true latents")
    for name in ("shared",):
        if name not in lat:
            raise DataError(a.latents, name, "missing; expected the output of export-latents")
    scores = score_latents(lat, truth)
    if a.json:
        print(json.dumps(scores, indent=2))
    else:
        for k, v in scores.items():
            print(f"{k:28s} {v:7.3f}")
    return 0


# ---------------------------------------------------------------------------- inspect
def cmd_inspect(a: argparse.Namespace) -> int:
    path = Path(a.file)
    if path.suffix == ".mmgp":
        from mmgpvae_core.project import read_project

        p = read_project(path)
        info: dict[str, Any] = {"kind": "mmgpvae project", "config": p["config"]}
        for name in ("neural", "behavior"):
            if p[name] is not None:
                info[name] = p[name].summary()
        h = p["history"]
        if "elbo" in h and len(h["elbo"]):
            info["epochs"] = int(len(h["elbo"]))
            info["final"] = {k: float(h[k][-1]) for k in ("elbo", "ell_neural", "ell_behavior", "kl")}
            info["length_scales_bins"] = np.round(h["length_scales"][-1], 3).tolist()
        info["outcome"] = {k: (v.item() if hasattr(v, "item") else v) for k, v in p["outcome"].items()}
    else:
        from mmgpvae_core.loaders import inspect_file

        info = inspect_file(path, rate_hz=a.rate, **({"series": a.series} if a.series else {}))
    print(json.dumps(info, indent=2, default=str))
    return 0


# ---------------------------------------------------------------------------- figures
def cmd_figures(a: argparse.Namespace) -> int:
    from mmgpvae_core.figures import write_control_figures, write_figure_set

    if not (a.run or a.null_test or a.consistency):
        return _fail("figures needs a project RUN.mmgp, --null-test CSV or --consistency CSV")
    trials = [int(t) for t in a.trials.split(",")] if a.trials else None
    paths = write_figure_set(a.run, a.out, fmt=a.format, trials=trials, dpi=a.dpi) if a.run else []
    paths += write_control_figures(a.out, a.format, a.null_test, a.consistency, dpi=a.dpi)
    for p in paths:
        print(f"wrote {p}")
    return 0


# ---------------------------------------------------------------------------- sweep
def _fits_device(a: argparse.Namespace) -> str | None:
    """The device of each of many small fits (sweep, controls): ``--device``, else the CPU on
    local processes (processes on cores beat one GPU), else the Ray cluster's choice (None)."""
    return a.device or (None if a.ray_address else "cpu")


def _where(a: argparse.Namespace) -> str:
    import os

    return f"Ray cluster {a.ray_address}" if a.ray_address else (
        f"{a.jobs or os.cpu_count()} local processes")


def cmd_sweep(a: argparse.Namespace) -> int:
    """Cross-validated sweep over latent splits; prints ``best: ...`` last."""
    from mmgpvae_core.loaders import load_pair
    from mmgpvae_core.sweep import (
        SweepSettings,
        format_table,
        make_grid,
        parse_floats,
        parse_range,
        plot_sweep,
        run_sweep,
        write_csv,
    )

    try:
        grid = make_grid(
            parse_range(a.shared),
            parse_range(a.private_neural),
            parse_range(a.private_behavior) if a.behavior else [0],
            parse_floats(a.length_scale_init),
            parse_floats(a.lr),
        )
    except ValueError as exc:
        return _fail(f"sweep: {exc}")
    if not grid:
        return _fail("sweep: the grid is empty")
    neural, behavior = load_pair(a.neural, a.behavior)
    if a.folds < 2 or a.folds > neural.n_trials:
        return _fail(f"sweep: --folds must be between 2 and {neural.n_trials} (the trials)")
    from mmgpvae_core.model.likelihoods import resolve_likelihood

    model_kwargs: dict[str, Any] = {}
    for modality, ds in (("neural", neural), ("behavior", behavior)):
        if ds is None:
            continue
        choice = resolve_likelihood(getattr(a, f"{modality}_likelihood"), ds, modality)
        model_kwargs[f"{modality}_likelihood"] = choice.name  # one choice for every fold
        print(f"sweep: {modality} likelihood: {choice}", file=sys.stderr)
    if _fits_device(a):
        model_kwargs["device"] = _fits_device(a)
    settings = SweepSettings(
        folds=a.folds, epochs=a.epochs, seed=a.seed, model_kwargs=model_kwargs,
        save_dir=a.save_fits,
    )
    print(
        f"sweep: {len(grid)} configurations × {a.folds} folds, {a.epochs} epochs each, on "
        f"{_where(a)}", file=sys.stderr,
    )

    def progress(done: int, total: int, row: dict) -> None:
        if not a.quiet:
            print(
                f"  [{done}/{total}] shared={row['shared']} private_neural="
                f"{row['private_neural']} private_behavior={row['private_behavior']}: "
                f"score {row['score']:.2f} ({row['status']})", file=sys.stderr, flush=True,
            )

    result = run_sweep(
        neural, behavior, grid, settings, n_jobs=a.jobs, ray_address=a.ray_address,
        on_result=progress,
    )
    out = write_csv(result, a.out)
    print(f"wrote {out}", file=sys.stderr)
    if a.plot:
        print(f"wrote {plot_sweep(result, a.plot)}", file=sys.stderr)
    print(format_table(result))
    print(f"why: {result.reason}")
    if result.best is None:
        return _fail("sweep: no configuration finished", code=1)
    print(result.best_line())
    return 0


# ---------------------------------------------------------------------------- controls
def _fit_line(done: int, total: int, what: str, row: dict, quiet: bool) -> None:
    if not quiet:
        score = f"score {row['score']:.2f}, " if "score" in row else ""
        print(
            f"  [{done}/{total}] {what}: {score}{row.get('fit_seconds', 0):.0f} s "
            f"({row['status']})", file=sys.stderr, flush=True,
        )


def cmd_null_test(a: argparse.Namespace) -> int:
    """The real pairing against re-paired behavior trials; prints ``p=P real=R null=M±SD`` last."""
    from mmgpvae_core.controls import run_null_test, write_null_csv
    from mmgpvae_core.figures import null_test_figure, save_figure
    from mmgpvae_core.sweep import SweepSettings

    if a.shuffles < 1:
        return _fail("null-test: --shuffles must be at least 1")
    neural, behavior = _load_pair(a)
    if behavior is None:
        return _fail("null-test needs --behavior FILE: it re-pairs behavior trials")
    if a.folds < 2 or a.folds > neural.n_trials:
        return _fail(f"null-test: --folds must be between 2 and {neural.n_trials} (the trials)")
    kwargs = _model_kwargs(a)
    kwargs.pop("device")
    if _fits_device(a):
        kwargs["device"] = _fits_device(a)
    settings = SweepSettings(
        folds=a.folds, epochs=kwargs.pop("epochs", 150), seed=a.seed, model_kwargs=kwargs
    )
    how = "within each condition" if a.within_condition else "across all trials"
    print(
        f"null-test: the real pairing and {a.shuffles} with behavior trials re-paired {how}; "
        f"split {a.shared}+{a.private_neural}+{a.private_behavior}, {a.folds} folds, "
        f"{settings.epochs} epochs per fit, on {_where(a)}", file=sys.stderr,
    )

    def progress(done: int, total: int, row: dict) -> None:
        what = "real pairing" if row["shuffle"] == 0 else f"shuffle {row['shuffle']}"
        _fit_line(done, total, what, row, a.quiet)

    try:
        result = run_null_test(
            neural, behavior, (a.shared, a.private_neural, a.private_behavior), a.shuffles,
            settings, within_condition=a.within_condition, n_jobs=a.jobs,
            ray_address=a.ray_address, on_result=progress,
        )
    except ValueError as exc:  # no conditions to shuffle within, no trials to exchange
        return _fail(f"null-test: {exc}")
    print(f"wrote {write_null_csv(result, a.out)}", file=sys.stderr)
    if a.plot:
        fig = null_test_figure(result.real_score, result.null_scores, result.p, result.pairing)
        print(f"wrote {save_figure(fig, a.plot)}", file=sys.stderr)
    if not np.isfinite(result.real_score):
        status = (result.real or {}).get("status", "cancelled")
        return _fail(f"null-test: the real pairing's fit did not finish ({status})", code=1)
    for line in result.details():
        print(line)
    print(result.summary_line())
    return 0


def cmd_consistency(a: argparse.Namespace) -> int:
    """Refit a project with other seeds; one line per subspace (canonical correlations)."""
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.controls import (
        fitted_latents,
        refit_settings,
        run_consistency,
        write_consistency_csv,
    )
    from mmgpvae_core.figures import consistency_figure, save_figure

    if a.seeds < 2:
        return _fail("consistency: --seeds must be at least 2 (the project's and one more)")
    model = MMGPVAE.load(a.run, device="cpu")
    if not len(model.history) or model.neural is None:
        return _fail(f"consistency: {a.run} holds no fitted model")
    split, settings = refit_settings(model, a.epochs, _fits_device(a) or "auto")
    first = model.train_config.seed
    seeds = [first + k for k in range(1, a.seeds)]
    print(
        f"consistency: {a.run} (seed {first}) against {len(seeds)} refits, seeds "
        f"{seeds[0]}–{seeds[-1]}, up to {settings.epochs} epochs each, on {_where(a)}",
        file=sys.stderr,
    )
    result = run_consistency(
        model.neural, model.behavior, split, seeds, settings,
        reference=fitted_latents(model), reference_seed=first, n_jobs=a.jobs,
        ray_address=a.ray_address,
        on_result=lambda d, n, r: _fit_line(d, n, f"seed {r['seed']}", r, a.quiet),
    )
    if a.out:
        print(f"wrote {write_consistency_csv(result, a.out)}", file=sys.stderr)
    if a.plot:
        print(f"wrote {save_figure(consistency_figure(result), a.plot)}", file=sys.stderr)
    for line in result.lines():
        print(line)
    return 0 if any(s == "ok" for s in result.status) else _fail(
        "consistency: no refit finished", code=1)


# ---------------------------------------------------------------------------- parser
def _add_data_arguments(p: argparse.ArgumentParser, required: bool = False) -> None:
    """The data files and how they are read, aligned and cut into trials (fit, null-test)."""
    p.add_argument("--neural", required=required, help="neural data file (spikes or calcium)")
    p.add_argument(
        "--behavior", required=required, help="behavior data file (pose, stimulus, images)"
    )
    p.add_argument("--trials", help="trials table (CSV: start_time, stop_time[, condition])")
    p.add_argument("--bin-size", type=float, help="common bin size in seconds")
    p.add_argument("--neural-rate", type=float, help="sampling rate (Hz) of the neural file")
    p.add_argument("--behavior-rate", type=float, help="sampling rate (Hz) of the behavior file")
    p.add_argument(
        "--neural-signal", choices=("neuropil", "dff", "spks"),
        help="suite2p signal: F-0.7*Fneu (default), dF/F, or deconvolved spks",
    )
    p.add_argument(
        "--iscell-threshold", type=float,
        help="keep suite2p ROIs with cell probability >= this (default: the iscell label)",
    )
    p.add_argument("--all-rois", action="store_true", help="keep every suite2p ROI")
    p.add_argument("--dff-percentile", type=float, help="dF/F baseline percentile (default 8)")
    p.add_argument("--neural-series", help="NWB series name for the neural data")
    p.add_argument(
        "--behavior-series", help="NWB series name (or the video of a SLEAP .slp) for the behavior data"
    )
    p.add_argument(
        "--likelihood-threshold", type=float,
        help="pose points under this likelihood are missing (default 0.6)",
    )
    p.add_argument("--egocentric", metavar="BODYPART", help="centre pose on this body part")
    p.add_argument(
        "--zscore", choices=("neural", "behavior", "both"),
        help="z-score each channel of these modalities",
    )
    p.add_argument(
        "--window", type=float, default=10.0,
        help="seconds per trial when there is no trials table (default 10)",
    )


def _add_likelihood_arguments(p: argparse.ArgumentParser) -> None:
    for modality in ("neural", "behavior"):
        p.add_argument(
            f"--{modality}-likelihood", choices=LIKELIHOODS + (AUTO,), default=AUTO,
            help="observation model (default auto: from the data — calcium and other "
            "non-integer signals gaussian, non-negative integer counts poisson (neural), "
            "only 0/1 bernoulli; negbinomial for over-dispersed counts)",
        )


def _add_model_arguments(
    p: argparse.ArgumentParser, epochs_help: str = "maximum epochs (early stop on a plateau)"
) -> None:
    """The latent split, likelihoods, decoders and training options (fit, null-test)."""
    _add_likelihood_arguments(p)
    p.add_argument("--neural-decoder", choices=("linear", "mlp"))
    p.add_argument("--behavior-decoder", choices=("linear", "mlp"))
    p.add_argument("--shared", type=int, default=2, help="shared latent dimensions")
    p.add_argument("--private-neural", type=int, default=1)
    p.add_argument("--private-behavior", type=int, default=1)
    p.add_argument("--epochs", type=int, help=epochs_help)
    p.add_argument("--lr", type=float, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, help="trials per optimisation step (default 25)")
    p.add_argument(
        "--cross-modal",
        type=float,
        metavar="FRACTION",
        help="fraction of training trials encoded from one modality alone (neural-only or "
        "behavior-only, both still scored): trains cross-modal prediction (default: TrainConfig)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--length-scale-init", type=float, help="bins (default: from the data)")
    p.add_argument(
        "--prune-threshold", type=float, default=1e-8,
        help="drop frequencies whose prior variance is below this fraction of the largest",
    )


def _add_execution_arguments(p: argparse.ArgumentParser) -> None:
    """Where many fits run, and their progress lines (null-test, consistency)."""
    p.add_argument("--ray-address", help="run on this Ray cluster ('local' starts one here)")
    p.add_argument("--jobs", type=int, help="local processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no per-fit progress lines")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mmgpvae",
        description="Fit multi-modal GP-VAEs to paired neural and behavioral recordings.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("simulate", help="write a simulated data set with known latents")
    s.add_argument("out", help="output folder (neural.h5, behavior.h5, truth.npz)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--trials", type=int, default=100)
    s.add_argument("--bins", type=int, default=80, help="time bins per trial")
    s.add_argument("--neurons", type=int, default=60)
    s.add_argument("--shared", type=int, default=2)
    s.add_argument("--private-neural", type=int, default=1)
    s.add_argument("--private-behavior", type=int, default=1)
    s.add_argument(
        "--private-behavior-weight", type=float, default=1.0,
        help="scale of the private behavior latent in the pose network (1: as strong as each "
        "shared latent; 0.5: behavior mostly task-driven, as in many real recordings)",
    )
    s.set_defaults(func=cmd_simulate)

    f = sub.add_parser("fit", help="fit a model and write a .mmgp project")
    _add_data_arguments(f)
    _add_model_arguments(f)
    f.add_argument("--out", help="project file to write (.mmgp)")
    f.add_argument(
        "--resume", metavar="RUN",
        help="continue training a .mmgp project: a fit that was killed or interrupted goes on "
        "from its last checkpoint to its target epoch (or --epochs N more); a finished one "
        "trains --epochs more",
    )
    f.add_argument(
        "--checkpoint-every", type=float, default=CHECKPOINT_EVERY_S, metavar="SECONDS",
        help="also write --out every SECONDS during the fit, so that a killed fit can be "
        f"resumed (default {CHECKPOINT_EVERY_S:g}; 0: only at the end)",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fit)

    e = sub.add_parser("export-latents", help="posterior latents of a project as NPZ or NWB")
    e.add_argument("run", help="project file (.mmgp)")
    e.add_argument(
        "--out", required=True, help="output file: .npz (NumPy arrays) or .nwb (NWB, for pynapple)"
    )
    e.add_argument(
        "--continuous", action="store_true",
        help="a session fit on --window windows: one row per bin over the whole session "
        "(time in s, latents and variances), stitched from half-overlapping windows",
    )
    e.set_defaults(func=cmd_export_latents)

    c = sub.add_parser("score", help="cross-validated R² of inferred vs true latents")
    c.add_argument("latents", help="NPZ from export-latents")
    c.add_argument("truth", help="NPZ of true latents (truth.npz from simulate)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_score)

    i = sub.add_parser("inspect", help="summarize a data file or project")
    i.add_argument("file")
    i.add_argument("--rate", type=float, help="sampling rate (Hz) for files that lack one")
    i.add_argument("--series", help="NWB series name")
    i.set_defaults(func=cmd_inspect)

    g = sub.add_parser("figures", help="write publication figures for a project")
    g.add_argument("run", nargs="?", help="project file (.mmgp)")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--format", choices=("pdf", "svg", "png"), default="pdf")
    g.add_argument("--trials", help="comma-separated trial indices for reconstructions")
    g.add_argument("--dpi", type=int, default=300, help="resolution of PNG figures (default 300)")
    g.add_argument("--null-test", metavar="CSV", help="also draw a null-test result (null_test)")
    g.add_argument(
        "--consistency", metavar="CSV", help="also draw a consistency result (consistency)"
    )
    g.set_defaults(func=cmd_figures)
    w = sub.add_parser(
        "sweep", help="choose the latent split by k-fold cross-validation (CSV table, plot)"
    )
    w.add_argument("--neural", required=True, help="neural data file")
    w.add_argument("--behavior", help="behavior data file")
    _add_likelihood_arguments(w)
    w.add_argument("--shared", default="0-4", help="shared dimensions to try, e.g. 0-4 or 1,2,3")
    w.add_argument("--private-neural", default="0-2", help="private neural dimensions to try")
    w.add_argument("--private-behavior", default="0-2", help="private behavior dimensions to try")
    w.add_argument("--folds", type=int, default=3, help="cross-validation folds over trials")
    w.add_argument("--epochs", type=int, default=150, help="maximum epochs per fit")
    w.add_argument("--out", required=True, help="results table to write (.csv)")
    w.add_argument("--plot", help="figure of held-out score against dimensions (.png/.pdf/.svg)")
    w.add_argument(
        "--ray-address",
        help="run on this Ray cluster (Ray Tune; 'local' starts one here): one trial per worker",
    )
    w.add_argument("--jobs", type=int, help="local processes (default: all cores)")
    w.add_argument("--length-scale-init", help="initial length-scales to try, bins: a,b")
    w.add_argument("--lr", help="learning rates to try: a,b")
    w.add_argument("--seed", type=int, default=0, help="seeds folds, channel groups and fits")
    w.add_argument("--device", help="device per fit (default cpu locally, auto on Ray)")
    w.add_argument("--save-fits", metavar="DIR", help="save each configuration's first-fold fit")
    w.add_argument("--quiet", action="store_true", help="no per-configuration progress lines")
    w.set_defaults(func=cmd_sweep)

    n = sub.add_parser(
        "null-test",
        help="is the shared structure real? the real pairing against behavior trials re-paired "
        "at random, scored by held-out cross-modal prediction (last line: p=P real=R null=M±SD)",
    )
    _add_data_arguments(n, required=True)
    _add_model_arguments(n, epochs_help="maximum epochs per fit (default 150; early stop)")
    n.add_argument("--shuffles", type=int, default=19, help="re-paired fits (default 19)")
    n.add_argument(
        "--within-condition",
        action="store_true",
        help="re-pair behavior trials only within each condition: tests trial-by-trial "
        "coupling beyond what the task (the condition) explains",
    )
    n.add_argument("--folds", type=int, default=2, help="cross-validation folds over trials")
    n.add_argument("--out", required=True, help="one row per fit (.csv)")
    n.add_argument("--plot", help="null distribution with the real score (.png/.pdf/.svg)")
    _add_execution_arguments(n)
    n.set_defaults(func=cmd_null_test)

    k = sub.add_parser(
        "consistency",
        help="refit a project with other seeds: canonical correlations of each subspace with "
        "the project's (one line per subspace)",
    )
    k.add_argument("run", help="project file (.mmgp): the first seed")
    k.add_argument(
        "--seeds", type=int, default=5,
        help="seeds in all, the project's included (default 5: its seed s, and refits with "
        "seeds s+1 … s+4)",
    )
    k.add_argument("--epochs", type=int, help="maximum epochs per refit (default: the project's)")
    k.add_argument("--out", help="one row per subspace and refit (.csv)")
    k.add_argument("--plot", help="canonical correlations per subspace (.png/.pdf/.svg)")
    k.add_argument("--device", help="device per refit (default cpu locally, auto on Ray)")
    _add_execution_arguments(k)
    k.set_defaults(func=cmd_consistency)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit codes as in the module docstring, 141 when the reader of stdout
    left early (``mmgpvae inspect FILE | head``)."""
    args = build_parser().parse_args(argv)
    try:
        with _data_warnings_as_lines():
            code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that has gone shows here, not in the interpreter's exit
        return code
    except (DataError, ConfigError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        # Python's recipe for SIGPIPE: point stdout at devnull so the flush at exit is quiet,
        # and answer 128 + SIGPIPE as a shell does for a writer whose reader left.
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured in a test)
            pass
        return 141
    except OSError as exc:  # a file that cannot be written or read: a message, not a traceback
        return _fail(f"{getattr(exc, 'filename', None) or '-'}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
