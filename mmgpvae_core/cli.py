"""``mmgpvae``: the headless command line (simulate, fit, export-latents, score, inspect, figures).

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
from mmgpvae_core.config import LIKELIHOODS, ConfigError
from mmgpvae_core.data import DataError

EXIT_BAD_INPUT = 2


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
        model = MMGPVAE(a.shared, a.private_neural, a.private_behavior, **kwargs)
        model.data_config = model.data_config.replace(
            neural_path=str(a.neural), behavior_path=str(a.behavior or "")
        )
        out = Path(a.out)
        done, epochs = 0, model.train_config.epochs
    print(
        f"fitting {model!r} on {neural.n_trials} trials × {neural.n_time} bins "
        f"({neural.n_channels} neural" + (f", {behavior.n_channels} behavior" if behavior else "")
        + f" channels) on {model.device}; up to {epochs} epochs -> {out}",
        file=sys.stderr,
    )
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
        status = "interrupted" if code == 130 and checkpoint.save("interrupted") else None
        if status is None:
            model.save(out)
            status = model.outcome.status if model.outcome else None
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
    from mmgpvae_core.project import read_project

    p = read_project(a.run)
    post = p["posterior"]
    arrays: dict[str, np.ndarray] = {}
    for name in ("shared", "private_neural", "private_behavior"):
        if name in post:
            arrays[name] = np.asarray(post[name]["mean"], dtype=np.float64)
            arrays[f"{name}_var"] = np.asarray(post[name]["var"], dtype=np.float64)
        else:
            n, t = p["neural"].data.shape[:2]
            arrays[name] = np.zeros((n, t, 0))
            arrays[f"{name}_var"] = np.zeros((n, t, 0))
    # Bins past each trial's end (NaN padding) carry no data: mark them NaN, not a prior guess.
    lengths = p["neural"].trial_lengths
    t_idx = np.arange(p["neural"].n_time)
    pad = t_idx[None, :] >= lengths[:, None]
    for v in arrays.values():
        v[pad] = np.nan
    cond = p["neural"].conditions
    arrays["conditions"] = cond if cond is not None else np.zeros(len(lengths), dtype=int)
    arrays["bin_size_s"] = np.asarray(np.nan if p["neural"].bin_size_s is None else p["neural"].bin_size_s)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    shapes = {k: v.shape for k, v in arrays.items() if not k.endswith("_var")}
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
    from mmgpvae_core.figures import write_figure_set

    trials = [int(t) for t in a.trials.split(",")] if a.trials else None
    paths = write_figure_set(a.run, a.out, fmt=a.format, trials=trials, dpi=a.dpi)
    for p in paths:
        print(f"wrote {p}")
    return 0


# ---------------------------------------------------------------------------- sweep
def cmd_sweep(a: argparse.Namespace) -> int:
    """Cross-validated sweep over latent splits; prints ``best: ...`` last."""
    import os

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
    model_kwargs: dict[str, Any] = {
        "neural_likelihood": a.neural_likelihood,
        "behavior_likelihood": a.behavior_likelihood,
    }
    if a.device:
        model_kwargs["device"] = a.device
    elif not a.ray_address:
        model_kwargs["device"] = "cpu"  # many small fits: processes on cores beat one GPU
    settings = SweepSettings(
        folds=a.folds, epochs=a.epochs, seed=a.seed, model_kwargs=model_kwargs,
        save_dir=a.save_fits,
    )
    where = f"Ray cluster {a.ray_address}" if a.ray_address else (
        f"{a.jobs or os.cpu_count()} local processes")
    print(
        f"sweep: {len(grid)} configurations × {a.folds} folds, {a.epochs} epochs each, on "
        f"{where}", file=sys.stderr,
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


# ---------------------------------------------------------------------------- parser
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
    f.add_argument("--neural", help="neural data file (spikes or calcium)")
    f.add_argument("--behavior", help="behavior data file (pose, stimulus, images)")
    f.add_argument("--neural-likelihood", choices=LIKELIHOODS, default="poisson")
    f.add_argument("--behavior-likelihood", choices=LIKELIHOODS, default="gaussian")
    f.add_argument("--neural-decoder", choices=("linear", "mlp"))
    f.add_argument("--behavior-decoder", choices=("linear", "mlp"))
    f.add_argument("--shared", type=int, default=2, help="shared latent dimensions")
    f.add_argument("--private-neural", type=int, default=1)
    f.add_argument("--private-behavior", type=int, default=1)
    f.add_argument("--out", help="project file to write (.mmgp)")
    f.add_argument("--epochs", type=int, help="maximum epochs (early stop on a plateau)")
    f.add_argument("--lr", type=float, help="Adam learning rate")
    f.add_argument("--batch-size", type=int, help="trials per optimisation step (default 25)")
    f.add_argument(
        "--cross-modal",
        type=float,
        metavar="FRACTION",
        help="fraction of training trials encoded from one modality alone (neural-only or "
        "behavior-only, both still scored): trains cross-modal prediction (default: TrainConfig)",
    )
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    f.add_argument("--length-scale-init", type=float, help="bins (default: from the data)")
    f.add_argument(
        "--prune-threshold", type=float, default=1e-8,
        help="drop frequencies whose prior variance is below this fraction of the largest",
    )
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
    f.add_argument("--trials", help="trials table (CSV: start_time, stop_time[, condition])")
    f.add_argument("--bin-size", type=float, help="common bin size in seconds")
    f.add_argument("--neural-rate", type=float, help="sampling rate (Hz) of the neural file")
    f.add_argument("--behavior-rate", type=float, help="sampling rate (Hz) of the behavior file")
    f.add_argument(
        "--neural-signal", choices=("neuropil", "dff", "spks"),
        help="suite2p signal: F-0.7*Fneu (default), dF/F, or deconvolved spks",
    )
    f.add_argument(
        "--iscell-threshold", type=float,
        help="keep suite2p ROIs with cell probability >= this (default: the iscell label)",
    )
    f.add_argument("--all-rois", action="store_true", help="keep every suite2p ROI")
    f.add_argument("--dff-percentile", type=float, help="dF/F baseline percentile (default 8)")
    f.add_argument("--neural-series", help="NWB series name for the neural data")
    f.add_argument("--behavior-series", help="NWB series name for the behavior data")
    f.add_argument(
        "--likelihood-threshold", type=float,
        help="pose points under this likelihood are missing (default 0.6)",
    )
    f.add_argument("--egocentric", metavar="BODYPART", help="centre pose on this body part")
    f.add_argument(
        "--zscore", choices=("neural", "behavior", "both"),
        help="z-score each channel of these modalities",
    )
    f.add_argument(
        "--window", type=float, default=10.0,
        help="seconds per trial when there is no trials table (default 10)",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fit)

    e = sub.add_parser("export-latents", help="posterior latents of a project as NPZ")
    e.add_argument("run", help="project file (.mmgp)")
    e.add_argument("--out", required=True, help="output .npz")
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
    g.add_argument("run", help="project file (.mmgp)")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--format", choices=("pdf", "svg", "png"), default="pdf")
    g.add_argument("--trials", help="comma-separated trial indices for reconstructions")
    g.add_argument("--dpi", type=int, default=300, help="resolution of PNG figures (default 300)")
    g.set_defaults(func=cmd_figures)
    w = sub.add_parser(
        "sweep", help="choose the latent split by k-fold cross-validation (CSV table, plot)"
    )
    w.add_argument("--neural", required=True, help="neural data file")
    w.add_argument("--behavior", help="behavior data file")
    w.add_argument("--neural-likelihood", choices=LIKELIHOODS, default="poisson")
    w.add_argument("--behavior-likelihood", choices=LIKELIHOODS, default="gaussian")
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
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit codes as in the module docstring, 141 when the reader of stdout
    left early (``mmgpvae inspect FILE | head``)."""
    args = build_parser().parse_args(argv)
    try:
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
