"""``mmgpvae fit``: fit a model (or go on with one, ``--resume``) and write a .mmgp project."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from mmgpvae_core.cli.common import (
    add_data_arguments,
    add_model_arguments,
    fail,
    load_data,
    model_kwargs,
)
from mmgpvae_core.project.checkpoint import CHECKPOINT_EVERY_S


class Progress:
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
def sigterm_interrupts():
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


@dataclasses.dataclass
class FitJob:
    """What ``cmd_fit`` trains: the model, its data (lists, one entry per session, for a
    multi-session model), where it goes and how far."""

    model: object
    neural: object
    behavior: object
    out: Path
    done: int
    epochs: int
    names: list[str] | None = None
    resumes: object = None  # the FitState of an interrupted fit this one continues
    data_config: object = None  # a resumed fit keeps its project's


def _session_data(model) -> tuple[object, object, list[str] | None]:
    """A fitted model's training data: (neural, behavior, None), or per-session lists and the
    session names for a multi-session model."""
    if not model.is_multi_session:
        return model.neural, model.behavior, None
    return (
        [n for n, _ in model.session_data_], [b for _, b in model.session_data_],
        model.session_names,
    )


def _resume_job(a: argparse.Namespace) -> FitJob:
    from mmgpvae_core.api import MMGPVAE

    model = MMGPVAE.load(a.resume, device=a.device)
    model.set_params(**{k: v for k, v in (("epochs", a.epochs), ("lr", a.lr)) if v is not None})
    neural, behavior, names = _session_data(model)
    done = len(model.history)
    job = FitJob(model, neural, behavior, Path(a.out or a.resume), done, 0, names)
    state = model.fit_state
    if state is not None:  # killed or interrupted: on to its target (or --epochs N more)
        job.epochs = a.epochs if a.epochs is not None else state.remaining_epochs
        job.resumes = dataclasses.replace(state, epoch=done, target_epoch=done + job.epochs)
        print(
            f"mmgpvae: resuming the interrupted fit of {a.resume} from epoch {done}: "
            f"{job.epochs} more, to epoch {done + job.epochs}", file=sys.stderr,
        )
    else:
        job.epochs = model.train_config.epochs
        print(
            f"mmgpvae: resuming {a.resume} from epoch {done}: up to {job.epochs} more epochs",
            file=sys.stderr,
        )
    return job


def _new_job(a: argparse.Namespace) -> FitJob:
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.config import DataConfig

    model = MMGPVAE(**model_kwargs(a))
    if not a.sessions:
        neural, behavior = load_data(a)
        data_config = DataConfig(neural_path=str(a.neural), behavior_path=str(a.behavior or ""))
        return FitJob(model, neural, behavior, Path(a.out), 0, model.train_config.epochs,
                      data_config=data_config)
    from mmgpvae_core.cli.sessions import load_sessions

    names, neural, behavior, configs = load_sessions(a)
    if a.from_run:
        run = MMGPVAE.load(a.from_run, device=a.device)
        from mmgpvae_core.config import TrainConfig

        run.set_params(**TrainConfig.from_arguments(a))  # training options; the model is RUN's
        print(
            f"mmgpvae: adding {len(names)} session(s) to the latent space of {a.from_run} "
            f"(its sessions: {', '.join(run.session_names) or 'one'}); only their own neural "
            "read-in and read-out are learned", file=sys.stderr,
        )
        model = run.new_sessions(neural, behavior, names, data_configs=configs, source=a.from_run)
    return FitJob(model, neural, behavior, Path(a.out), 0, model.train_config.epochs, names,
                  data_config=configs)


def _announce(a: argparse.Namespace, job: FitJob) -> None:
    model, neural, behavior = job.model, job.neural, job.behavior
    first_n = neural[0] if isinstance(neural, list) else neural
    first_b = behavior[0] if isinstance(behavior, list) else behavior
    choices = model.resolve_likelihoods(first_n, first_b)
    if job.names:
        what = ", ".join(
            f"{name} ({n.n_trials} trials × {n.n_time} bins, {n.n_channels} neural)"
            for name, n in zip(job.names, neural)
        )
        n = len(job.names)
        what = f"{n} session{'s' if n > 1 else ''}: {what}" + (
            f"; {first_b.n_channels} behavior channels" if first_b is not None else ""
        )
    else:
        what = (
            f"{first_n.n_trials} trials × {first_n.n_time} bins ({first_n.n_channels} neural"
            + (f", {first_b.n_channels} behavior" if first_b is not None else "") + " channels)"
        )
    print(
        f"fitting {model!r} on {what} on {model.torch_device}; up to {job.epochs} epochs -> "
        f"{job.out}", file=sys.stderr,
    )
    for modality, choice in choices.items():
        why = "from the project" if a.resume or a.from_run else choice.reason
        print(f"  {modality} likelihood: {choice.name} ({why})", file=sys.stderr)


def _train(job: FitJob, on_epoch) -> int:
    """Run the fit; 0, 1 (training failed) or 130 (interrupted)."""
    from mmgpvae_core.training import FitOutcome, TrainingFailed

    model = job.model
    try:
        with sigterm_interrupts():
            model.partial_fit(  # a fresh model starts; a resumed one goes on
                job.neural, job.behavior, epochs=job.epochs, on_epoch=on_epoch,
                warmup=job.resumes.warmup if job.resumes else None,
                data_config=job.data_config, **({"names": job.names} if job.names else {}),
            )
    except TrainingFailed as exc:
        print(f"\nmmgpvae: training failed: {exc}", file=sys.stderr)
        model.outcome_ = FitOutcome("failed", len(model.history) - job.done, str(exc))
        return 1
    except KeyboardInterrupt:
        print(
            f"\nmmgpvae: interrupted; saving the last completed epoch (`mmgpvae fit --resume "
            f"{job.out}` continues)", file=sys.stderr,
        )
        return 130
    return 0


def _save(job: FitJob, code: int, checkpoint) -> int:
    """Write the project (an interrupted fit as a checkpoint, so --resume goes on to its
    target); a project that cannot be written where asked is rescued to the temp folder."""
    model, out = job.model, job.out
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
        + (f"; sessions {', '.join(job.names)}" if job.names else "")
        + (f"; {status}" if status else ""),
        file=sys.stderr,
    )
    return code


def cmd_fit(a: argparse.Namespace) -> int:
    import torch

    from mmgpvae_core.project.checkpoint import Checkpointer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    if a.resume:
        job = _resume_job(a)
    else:
        if not (a.neural or a.sessions):
            return fail("fit needs --neural FILE, --sessions SESSIONS.csv or --resume RUN.mmgp")
        if a.neural and a.sessions:
            return fail("fit takes --neural/--behavior or --sessions, not both")
        if a.from_run and not a.sessions:
            return fail("--from RUN adds new sessions to RUN's latent space: give them with "
                        "--sessions NEW.csv")
        if not a.out:
            return fail("fit needs --out RUN.mmgp")
        job = _new_job(a)
    _announce(a, job)
    bar = Progress(job.done + job.epochs, job.done, a.quiet)

    def checkpoint_failed(exc: OSError) -> None:
        print(f"\nmmgpvae: warning: could not write a checkpoint ({exc}); training goes on",
              file=sys.stderr)

    checkpoint = Checkpointer(
        job.model, job.out, a.checkpoint_every, resumes=job.resumes, on_error=checkpoint_failed
    )

    def on_epoch(r) -> None:
        bar(r)
        checkpoint(r)

    code = _train(job, on_epoch)
    bar.close()
    if job.model.module is not None and len(job.model.history):
        code = _save(job, code, checkpoint)
    return code


def add_parser(sub) -> None:
    f = sub.add_parser("fit", help="fit a model and write a .mmgp project")
    add_data_arguments(f)
    add_model_arguments(f)
    f.add_argument("--out", help="project file to write (.mmgp)")
    f.add_argument(
        "--sessions", metavar="SESSIONS.csv",
        help="fit several sessions in one latent space: a CSV with columns name,neural,behavior"
        "[,trials] (paths absolute or relative to the CSV's folder); every data option applies "
        "to each session",
    )
    f.add_argument(
        "--from", dest="from_run", metavar="RUN",
        help="with --sessions: add these new sessions to the latent space of the fitted project "
        "RUN, keeping everything shared fixed and learning only their own neural read-in and "
        "read-out (works with few trials)",
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
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fit)
