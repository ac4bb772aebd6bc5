"""``mmgpvae fit``: fit a model (or go on with one, ``--resume``) and write a .mmgp project."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from pathlib import Path

from mmgpvae_core.checkpoint import CHECKPOINT_EVERY_S
from mmgpvae_core.cli.common import (
    add_data_arguments,
    add_model_arguments,
    fail,
    load_data,
    model_kwargs,
)


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


def cmd_fit(a: argparse.Namespace) -> int:
    import torch

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.checkpoint import Checkpointer
    from mmgpvae_core.config import DataConfig
    from mmgpvae_core.training import FitOutcome, TrainingFailed

    torch.set_num_threads(max(1, torch.get_num_threads()))
    resumes = None  # the FitState of an interrupted fit this one continues
    data_config = None  # a resumed fit keeps its project's
    if a.resume:
        model = MMGPVAE.load(a.resume, device=a.device)
        model.set_params(**{k: v for k, v in (("epochs", a.epochs), ("lr", a.lr)) if v is not None})
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
            return fail("fit needs --neural FILE (or --resume RUN.mmgp)")
        if not a.out:
            return fail("fit needs --out RUN.mmgp")
        neural, behavior = load_data(a)
        model = MMGPVAE(**model_kwargs(a))
        data_config = DataConfig(neural_path=str(a.neural), behavior_path=str(a.behavior or ""))
        out = Path(a.out)
        done, epochs = 0, model.train_config.epochs
    choices = model.resolve_likelihoods(neural, behavior)
    print(
        f"fitting {model!r} on {neural.n_trials} trials × {neural.n_time} bins "
        f"({neural.n_channels} neural" + (f", {behavior.n_channels} behavior" if behavior else "")
        + f" channels) on {model.torch_device}; up to {epochs} epochs -> {out}",
        file=sys.stderr,
    )
    for modality, choice in choices.items():
        why = "from the project" if a.resume else choice.reason
        print(f"  {modality} likelihood: {choice.name} ({why})", file=sys.stderr)
    bar = Progress(done + epochs, done, a.quiet)

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
        with sigterm_interrupts():
            model.partial_fit(  # a fresh model starts; a resumed one goes on
                neural, behavior, epochs=epochs, on_epoch=on_epoch,
                warmup=resumes.warmup if resumes else None, data_config=data_config,
            )
    except TrainingFailed as exc:
        bar.close()
        print(f"mmgpvae: training failed: {exc}", file=sys.stderr)
        model.outcome_ = FitOutcome("failed", len(model.history) - done, str(exc))
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


def add_parser(sub) -> None:
    f = sub.add_parser("fit", help="fit a model and write a .mmgp project")
    add_data_arguments(f)
    add_model_arguments(f)
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
