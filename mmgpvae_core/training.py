"""The fit loop: Adam on the negative ELBO, reporting through plain callbacks.

``fit`` knows nothing about progress bars or Qt: it calls ``on_epoch(EpochReport)`` after each
epoch and checks ``should_stop()`` before each, so a CLI progress bar, a GUI worker and a test all
drive it the same way. A cancelled or failed fit leaves the module in its last good state.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from mmgpvae_core import heap
from mmgpvae_core.config import TrainConfig
from mmgpvae_core.model.elbo import ENCODE_BEHAVIOR, ENCODE_BOTH, ENCODE_NEURAL, elbo_terms
from mmgpvae_core.model.module import MMGPVAEModule, fixed_rows
from mmgpvae_core.model.sessions import MultiSessionModule, as_list, session_modules
from mmgpvae_core.optim import Adam


@dataclass
class EpochReport:
    """Plain numbers about one epoch (safe to pass across threads). ELBO terms are per trial,
    averaged over the trials whose posterior used both encoders (with ``cross_modal`` > 0 the
    single-encoder trials are left out, so the numbers stay comparable with a plain fit)."""

    epoch: int
    n_epochs: int
    elbo: float
    ell_neural: float
    ell_behavior: float
    kl: float
    beta: float
    length_scales: np.ndarray
    elapsed_s: float


@dataclass
class TrainingHistory:
    """One row per epoch ever trained on this model (continues across resumes)."""

    epoch: list[int] = field(default_factory=list)
    elbo: list[float] = field(default_factory=list)
    ell_neural: list[float] = field(default_factory=list)
    ell_behavior: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    length_scales: list[list[float]] = field(default_factory=list)
    elapsed_s: list[float] = field(default_factory=list)

    def append(self, r: EpochReport) -> None:
        self.epoch.append(r.epoch)
        self.elbo.append(r.elbo)
        self.ell_neural.append(r.ell_neural)
        self.ell_behavior.append(r.ell_behavior)
        self.kl.append(r.kl)
        self.length_scales.append([float(x) for x in r.length_scales])
        self.elapsed_s.append(r.elapsed_s)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=float) for k, v in self.__dict__.items()}

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> TrainingHistory:
        h = cls()
        for k in h.__dict__:
            if k in d:
                v = np.asarray(d[k])
                setattr(h, k, v.astype(int).tolist() if k == "epoch" else v.tolist())
        return h

    def __len__(self) -> int:
        return len(self.epoch)


@dataclass
class FitOutcome:
    status: str  # "converged", "max_epochs", "cancelled", "failed"
    epochs_run: int
    message: str = ""


class TrainingFailed(RuntimeError):
    """The ELBO or its gradient became non-finite, or a factorisation failed; the model was
    restored to its last good state."""


#: errors of the arithmetic of a step (a Cholesky of a matrix that lost positive-definiteness):
#: they end the fit as :class:`TrainingFailed`, with the last good state kept
NUMERICAL_ERRORS = (torch.linalg.LinAlgError, np.linalg.LinAlgError, FloatingPointError)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def rng_unchanged(device: torch.device | str):
    """A context in which torch's random draws (MLP decoders' sampled reconstructions) leave the
    global generator of the CPU, and of ``device``, as they found it (saving or exporting
    mid-fit must not change the fit's draws)."""
    device = resolve_device(device) if isinstance(device, str) else device
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    return torch.random.fork_rng(devices=[device], device_type=device.type)


def make_optimizer(
    model: MMGPVAEModule | MultiSessionModule,
    cfg: TrainConfig,
    params: list[torch.nn.Parameter] | None = None,
) -> Adam:
    """Adam over ``params`` (default: every parameter of ``model``, each shared one once)."""
    return Adam(model.parameters() if params is None else params, lr=cfg.lr)


#: On a plateau, the learning rate is annealed (cosine) from ``lr`` to ``ANNEAL_FLOOR × lr``
#: over ``ANNEAL_LENGTH × patience`` more epochs before the fit stops. At a constant step size
#: Adam's mini-batch noise keeps the latents moving (cross-validated R² of a private latent
#: varies by ±0.01 from one epoch to the next at the plateau); annealing settles them, so the
#: fit can stop on a shorter patience with the same or better recovery (benchmarks/RESULTS.md,
#: "Time to fit").
ANNEAL_LENGTH = 0.5
ANNEAL_FLOOR = 0.05


def _set_lr(optimizer: Adam, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _snapshot(obj):
    """A copy of a state dict: tensors cloned, containers rebuilt, other values shared (they
    are immutable). ~10× cheaper than ``copy.deepcopy`` of an optimizer state, every epoch."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_snapshot(v) for v in obj]
    return obj


def fit(
    model: MMGPVAEModule | MultiSessionModule,
    neural: torch.Tensor | list[torch.Tensor],
    behavior: torch.Tensor | None | list[torch.Tensor | None],
    cfg: TrainConfig,
    optimizer: Adam | None = None,
    history: TrainingHistory | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    warmup: tuple[int, int] | None = None,
) -> FitOutcome:
    """Train ``model`` in place for up to ``cfg.epochs`` more epochs.

    neural (N, T, C_A), behavior (N, T, C_B) or None, on the model's device; for a
    :class:`MultiSessionModule`, one of each per session (``N``, ``T`` and ``C_A`` may differ):
    every epoch visits every trial of every session once, in mini-batches of one session each,
    dealt in random order (one session is exactly the single-session fit). Only parameters the
    optimizer holds change (adapting new sessions holds only theirs). Early-stops when the
    ELBO, averaged over windows of ``patience / 2`` epochs, improves by less than ``min_delta``
    (relative) from one window to the next, after a last ``ANNEAL_LENGTH × patience`` epochs at
    a learning rate annealed to ``ANNEAL_FLOOR × lr``. Each call starts at ``cfg.lr`` and leaves
    the optimizer at ``cfg.lr``, so a continued fit trains as a fresh one would.
    The KL weight warms up linearly from 0 to 1 over the first ``kl_warmup`` of the epochs of a
    fresh fit (resumed fits start at 1); ``warmup`` = (first epoch, length) continues the warm-up
    of an interrupted fit instead (``checkpoint.FitState.warmup``).
    With ``cfg.cross_modal`` = f > 0 (and behavior given), in every mini-batch each trial is,
    with probability f, encoded from one modality alone (neural or behavior, equally often) while
    both modalities are scored; see ``elbo.py``. The draws use their own generator, so the
    mini-batch order is the same as without cross-modal training.
    """
    history = history if history is not None else TrainingHistory()
    optimizer = optimizer or make_optimizer(model, cfg)
    _set_lr(optimizer, cfg.lr)
    try:
        return _fit(
            model, neural, behavior, cfg, optimizer, history, on_epoch, should_stop, warmup
        )
    finally:
        _set_lr(optimizer, cfg.lr)


#: channels hidden together from an encoder in channel masking: a quarter, as co-smoothing
#: (``heldout.cosmooth``, 4 groups by default) hides them
MASK_GROUPS = 4


def hidden_channels(
    n: int,
    c_neural: int,
    c_behavior: int | None,
    fraction: float,
    gen: torch.Generator,
    device: torch.device,
) -> dict[str, torch.Tensor] | None:
    """Channel masking of one mini-batch: with probability ``fraction`` a trial has a random
    quarter of one modality's channels (neural or behavior, equally often) hidden from the
    encoders. Returns per modality an (n, C) boolean mask, or None when nothing is hidden."""
    if fraction <= 0:
        return None
    sizes = {"neural": c_neural} if c_behavior is None else {"neural": c_neural, "behavior": c_behavior}
    u = torch.rand(n, generator=gen)
    which = torch.randint(len(sizes), (n,), generator=gen)
    out = {}
    for k, (name, c) in enumerate(sizes.items()):
        k_hide = max(1, c // MASK_GROUPS) if c > 1 else 0
        rank = torch.rand(n, c, generator=gen).argsort(dim=1).argsort(dim=1)
        chosen = ((u < fraction) & (which == k)).unsqueeze(1)
        out[name] = (chosen & (rank < k_hide)).to(device)
    return out


def _epoch_batches(
    sizes: list[int], batch_size: int | None, gen: torch.Generator, device: torch.device
) -> list[tuple[int, torch.Tensor]]:
    """One epoch's mini-batches as (session, trial indices): each session's trials in a random
    order, cut into batches; with several sessions the batches are then dealt in random order
    (one session draws exactly what the single-session loop always drew)."""
    batches = []
    for k, n in enumerate(sizes):
        bs = n if batch_size is None else min(batch_size, n)
        perm = torch.randperm(n, generator=gen).to(device)
        batches += [(k, perm[s : s + bs]) for s in range(0, n, bs)]
    if len(sizes) > 1:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
    return batches


class _Plateau:
    """Early stop on a plateau: the mean ELBO of the last half-patience window improved by less
    than min_delta (relative) over the window before it. Windows average out the noise of
    mini-batches and Monte Carlo samples; only epochs at full KL weight count. Then the
    learning rate anneals (cosine) over the last epochs."""

    def __init__(self, cfg: TrainConfig, optimizer: Adam, start_epoch: int):
        self.cfg, self.optimizer, self.start_epoch = cfg, optimizer, start_epoch
        self.full: list[float] = []
        self.anneal_from: int | None = None  # the epoch the plateau was found, then annealing

    def update(self, i: int, elbo: float, beta: float) -> FitOutcome | None:
        """After epoch ``i`` (0-based in this call): the outcome when the fit is done."""
        cfg = self.cfg
        if beta < 1.0:
            return None
        full = self.full
        full.append(elbo)
        w = max(1, cfg.patience // 2)
        if self.anneal_from is None and len(full) >= 2 * w:
            recent, before = np.mean(full[-w:]), np.mean(full[-2 * w : -w])
            if recent - before < cfg.min_delta * abs(recent):
                self.anneal_from = i + 1
        if self.anneal_from is None:
            return None
        length = max(1, round(ANNEAL_LENGTH * cfg.patience))
        done = i + 1 - self.anneal_from
        if done >= length or ANNEAL_LENGTH <= 0:
            return FitOutcome(
                "converged", i + 1,
                f"ELBO plateaued after {self.start_epoch + self.anneal_from} epochs; learning "
                f"rate annealed over {done} more",
            )
        cos = 0.5 * (1.0 + math.cos(math.pi * (done + 1) / length))
        _set_lr(self.optimizer, cfg.lr * (ANNEAL_FLOOR + (1.0 - ANNEAL_FLOOR) * cos))
        return None


@dataclass
class _Loop:
    """What every mini-batch of one :func:`fit` call shares."""

    model: torch.nn.Module
    views: list[MMGPVAEModule]
    neurals: list[torch.Tensor]
    behaviors: list[torch.Tensor | None]
    cfg: TrainConfig
    optimizer: Adam
    cross: float
    n_total: int
    device: torch.device
    cm_gen: torch.Generator
    mask_gen: torch.Generator
    #: per session, what the fit computes once of its trials (``MMGPVAEModule.fixed_inputs``)
    fixed: list[dict] = field(default_factory=list)
    #: pinned buffers of :meth:`rows`, one per data tensor
    pinned: dict[int, torch.Tensor] = field(default_factory=dict)

    def encoders(self, n: int) -> torch.Tensor | None:
        """Cross-modal training: which encoders build each trial's posterior (None: both)."""
        if self.cross <= 0:
            return None
        u = torch.rand(n, generator=self.cm_gen)
        encoders = torch.full((n,), ENCODE_BOTH, dtype=torch.long)
        encoders[u < self.cross] = ENCODE_BEHAVIOR
        encoders[u < self.cross / 2] = ENCODE_NEURAL
        return encoders.to(self.device)

    def rows(self, y: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
        """``y[idx]`` on the model's device. Data kept in CPU memory (a CUDA fit,
        ``MMGPVAE._training_tensor``) are gathered into a pinned buffer, kept for the next
        batch, and copied from there (page-locked memory: the copy is a DMA transfer)."""
        if y is None or y.device == self.device:
            return None if y is None else y[idx]
        shape = (len(idx), *y.shape[1:])
        buf = self.pinned.get(id(y))
        if buf is None or buf.shape[0] < shape[0]:
            buf = self.pinned[id(y)] = torch.empty(shape, dtype=y.dtype, pin_memory=True)
        out = buf[: shape[0]]
        torch.index_select(y, 0, idx.cpu(), out=out)
        return out.to(self.device)

    def step(self, k: int, idx: torch.Tensor, beta: float):
        """One optimisation step on trials ``idx`` of session ``k``: (per-trial terms, the
        encoders used), or the reason it failed (a string)."""
        cfg = self.cfg
        neural, behavior = self.neurals[k], self.behaviors[k]
        encoders = self.encoders(len(idx))
        hidden = hidden_channels(
            len(idx), neural.shape[-1], None if behavior is None else behavior.shape[-1],
            cfg.channel_masking, self.mask_gen, self.device,
        )
        try:
            fixed = self.fixed[k] if self.fixed else {}
            terms = elbo_terms(
                self.views[k], self.rows(neural, idx), self.rows(behavior, idx), beta,
                cfg.n_samples, encoders=encoders, hidden=hidden,
                fixed=fixed_rows(fixed, idx) if any(fixed.values()) else None,
            )
            loss = terms.loss * (self.n_total / len(idx)) / self.n_total
            if not torch.isfinite(loss):
                return "the ELBO became non-finite"
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            if not torch.isfinite(norm):  # a step would make every parameter NaN
                return "the gradient became non-finite"
            self.optimizer.step()
        except NUMERICAL_ERRORS as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return f"a numerical error stopped training ({type(exc).__name__}: {first})"
        return terms.per_trial.cpu().numpy().astype(float), encoders


def _model_device(model: torch.nn.Module, default: torch.device) -> torch.device:
    """Where the model's parameters are (the data may be in CPU memory)."""
    p = next(model.parameters(), None)
    return default if p is None else p.device


def _fit(model, neural, behavior, cfg, optimizer, history, on_epoch, should_stop, warmup):
    """The loop of :func:`fit` (which sets and restores the learning rate around it)."""
    gen = torch.Generator().manual_seed(cfg.seed + len(history))
    cm_gen = torch.Generator().manual_seed(10_007 + cfg.seed + len(history))
    mask_gen = torch.Generator().manual_seed(20_011 + cfg.seed + len(history))
    views, neurals, behaviors = session_modules(model), as_list(neural), as_list(behavior)
    if not (len(views) == len(neurals) == len(behaviors)):
        raise ValueError(
            f"{len(views)} session(s) in the model but {len(neurals)} neural and "
            f"{len(behaviors)} behavior array(s)"
        )
    torch.manual_seed(cfg.seed + len(history))
    sizes = [y.shape[0] for y in neurals]
    N, device = sum(sizes), _model_device(model, neurals[0].device)
    loop = _Loop(
        model, views, neurals, behaviors, cfg, optimizer,
        cfg.cross_modal if behaviors[0] is not None else 0.0, N, device, cm_gen, mask_gen,
        [view.fixed_inputs(n, b) for view, n, b in zip(views, neurals, behaviors)],
    )
    heap.release()  # the set-up's passes over the data, freed: the steps start from their room
    start_epoch = len(history)
    fresh = (start_epoch, max(1, int(cfg.kl_warmup * cfg.epochs)) if start_epoch == 0 else 0)
    origin, warm = warmup or fresh
    t0 = time.perf_counter() - (history.elapsed_s[-1] if history.elapsed_s else 0.0)
    plateau = _Plateau(cfg, optimizer, start_epoch)
    good_state = copy.deepcopy(model.state_dict())
    good_opt = _snapshot(optimizer.state_dict())
    for i in range(cfg.epochs):
        if should_stop is not None and should_stop():
            return FitOutcome("cancelled", i, "cancelled by the user")
        beta = min(1.0, (start_epoch - origin + i + 1) / warm) if warm else 1.0
        tot, tot_all, n_full = np.zeros(3), np.zeros(3), 0
        model.train()
        for k, idx in _epoch_batches(sizes, cfg.batch_size, gen, device):
            done = loop.step(k, idx, beta)
            if isinstance(done, str):
                model.load_state_dict(good_state)
                optimizer.load_state_dict(good_opt)
                raise TrainingFailed(
                    f"{done} at epoch {start_epoch + i + 1}; the model was restored to its "
                    "last good state (try a smaller learning rate, or rescale the data)"
                )
            pt, encoders = done
            tot_all += pt.sum(1)
            full_trials = slice(None) if encoders is None else (encoders == ENCODE_BOTH).cpu().numpy()
            tot += pt[:, full_trials].sum(1)
            n_full += len(idx) if encoders is None else int(full_trials.sum())
        good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        good_opt = _snapshot(optimizer.state_dict())
        # ELBO per trial from the both-encoder trials only (all trials if, by chance, none).
        tot = tot / n_full if n_full else tot_all / N
        report = EpochReport(
            epoch=start_epoch + i + 1,
            n_epochs=start_epoch + cfg.epochs,
            elbo=float(tot[0] + tot[1] - tot[2]),
            ell_neural=float(tot[0]),
            ell_behavior=float(tot[1]),
            kl=float(tot[2]),
            beta=beta,
            length_scales=model.prior.length_scale.detach().cpu().numpy().copy(),
            elapsed_s=time.perf_counter() - t0,
        )
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if (outcome := plateau.update(i, report.elbo, beta)) is not None:
            return outcome
    return FitOutcome("max_epochs", cfg.epochs)


#: epochs of :func:`fit_readout`
READOUT_EPOCHS = 50


def fit_readout(
    view: MMGPVAEModule,
    neural: torch.Tensor,
    behavior: torch.Tensor,
    cfg: TrainConfig,
    epochs: int = READOUT_EPOCHS,
) -> None:
    """A new session's neural read-out (decoder and likelihood parameters) fitted to its
    spikes given latents inferred from its behavior alone (the shared parts fixed): where a
    session added to a fitted model starts, so its own encoder learns against a read-out that
    already speaks the model's latent space. neural (N, T, C), behavior (N, T, C_B)."""
    params = [
        p for name, p in view.named_parameters() if name.startswith(("dec_neural.", "lik_neural."))
    ]
    optimizer = Adam(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    view.train()
    for _ in range(epochs):
        for _, idx in _epoch_batches([neural.shape[0]], cfg.batch_size, gen, neural.device):
            encoders = torch.full((len(idx),), ENCODE_BEHAVIOR, dtype=torch.long, device=neural.device)
            terms = elbo_terms(view, neural[idx], behavior[idx], 1.0, cfg.n_samples, encoders=encoders)
            loss = -terms.ell_neural / len(idx)
            if not torch.isfinite(loss):
                raise TrainingFailed("the read-out of a new session became non-finite")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
