"""A scikit-learn estimator: ``MMGPVAE(shared=2, ...).fit(neural, behavior).transform(...)``.

Arrays in, arrays out: ``neural`` and ``behavior`` are ``(trials, time, channels)`` arrays (NaN =
missing) or :class:`Dataset` objects. The CLI and the app are thin layers over this class.

Estimator conventions (so that ``sklearn.base.clone`` and grid searches work): the constructor
stores its arguments — the fields of :class:`ModelConfig` and :class:`TrainConfig`, defaults
from there — and nothing else; ``get_params`` / ``set_params`` read and change them; ``fit``
starts afresh, ``partial_fit`` goes on training (the app's "Train", ``mmgpvae fit --resume``);
what a fit learns ends in ``_`` (``module_``, ``history_``, ...). The names without ``_``
(``module``, ``history``, ...) read the same, None (an empty history) before a fit.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmgpvae_core.config import SUBSPACES, DataConfig, ModelConfig, TrainConfig
from mmgpvae_core.data import Dataset, check_for_likelihood, check_pair, default_session_names
from mmgpvae_core.model.fourier import circular_length
from mmgpvae_core.model.kernels import padding_for
from mmgpvae_core.model.likelihoods import LikelihoodChoice, likelihood_class, resolve_likelihood
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.posterior import FourierPosterior
from mmgpvae_core.model.prior import length_scale_from_data
from mmgpvae_core.model.sessions import MultiSessionModule
from mmgpvae_core.project.checkpoint import FitState
from mmgpvae_core.training import (  # rng_unchanged: also api's, as before
    EpochReport,
    FitOutcome,
    TrainingHistory,
    fit,
    make_optimizer,
    resolve_device,
    rng_unchanged,  # noqa: F401 (api.rng_unchanged, as before)
)

_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
_TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
#: the constructor's arguments (the estimator's parameters), in order
PARAMS = _MODEL_FIELDS + _TRAIN_FIELDS
#: data values inferred at a time by ``posterior`` / ``reconstruct``: bounded memory on long
#: sessions; an MLP decoder's reconstruction draws the noise of such a batch in one call.
#: 8 MiB of float32: at 32 MiB, writing the project of an hour of 500 units peaked on one
#: batch's reconstruction and working arrays, above the epochs (benchmarks/RESULTS.md, "Scale")
BATCH_VALUES = 1 << 21
#: data values the encoders read at a time within a batch: their working arrays (transformed,
#: standardized, masked copies of the input, its concatenation with the mask, the hidden
#: layers) are about ten times the values read, ~40 MB here
ENCODE_VALUES = 1 << 20
_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(ModelConfig) + dataclasses.fields(TrainConfig)
}


def _as_dataset(x: Any, name: str) -> Dataset | None:
    if x is None or isinstance(x, Dataset):
        return x
    return Dataset(data=np.asarray(x, dtype=float), source=f"<{name} array>")


def _batches(*datasets: Dataset | None, values: int | None = None, within: slice = slice(None)):
    """Slices of trials (of ``within``) holding about ``values`` (default ``BATCH_VALUES``)
    data values of ``datasets`` together."""
    given = [d for d in datasets if d is not None]
    per_trial = given[0].n_time * sum(d.n_channels for d in given)
    step = max(1, (BATCH_VALUES if values is None else values) // max(1, per_trial))
    start, stop, _ = within.indices(given[0].n_trials)
    for s in range(start, stop, step):
        yield slice(s, min(s + step, stop))


#: what a session may be called: it names a group in the project file and a file on export
SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: the fitted attributes that describe the sessions of a multi-session fit
_SESSION_ATTRS = (
    "sessions_", "session_data_", "session_shapes_", "session_data_configs_", "multi_",
    "adapted_from_", "fixed_transforms_",
)


def check_session_names(names: list[str]) -> list[str]:
    """``names`` as given, or ValueError for an empty, repeated or unusable one."""
    names = [str(n) for n in names]
    for n in names:
        if not SESSION_NAME.match(n):
            raise ValueError(
                f"session name {n!r}: expected letters, digits, '_', '.' or '-' (it names a "
                "file on export)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"session names must differ; got {names}")
    return names


def check_sessions(
    names: list[str], neural: list[Dataset], behavior: list[Dataset | None]
) -> None:
    """Sessions of one model: every one has behavior or none does, with the same channels
    (the behavior encoder and decoder are shared); neural channels may differ. ValueError
    naming the session, its file and what differs."""
    first = behavior[0]
    for name, nd, bd in zip(names, neural, behavior):
        where = f"session '{name}' ({(bd or nd).source})"
        if (bd is None) != (first is None):
            raise ValueError(
                f"{where}: {'no' if bd is None else 'a'} behavior file, but session "
                f"'{names[0]}' has {'one' if first is not None else 'none'}; every session of "
                "one model needs the same modalities"
            )
        if bd is not None and first is not None and list(bd.channel_names) != list(first.channel_names):
            raise ValueError(
                f"{where}: behavior channels {list(bd.channel_names)} differ from session "
                f"'{names[0]}''s {list(first.channel_names)}; every session must record the same "
                "behavior variables, in the same order (the behavior encoder and decoder are "
                "shared)"
            )


def _fitted(name: str, doc: str) -> property:
    """A read-only view of the fitted attribute ``name_`` (None before a fit)."""
    return property(lambda self: getattr(self, f"{name}_", None), doc=doc)


class MMGPVAE:
    """Multi-modal GP-VAE with shared and private latents.

    Parameters are the fields of :class:`ModelConfig` (latent split, likelihoods, decoders,
    kernel hyperparameters) and :class:`TrainConfig` (epochs, lr, seed, device, ...); the first
    three (the split) may be given by position. A bad value raises ``ConfigError`` here.
    """

    def __init__(
        self,
        shared: int = _DEFAULTS["shared"],
        private_neural: int = _DEFAULTS["private_neural"],
        private_behavior: int = _DEFAULTS["private_behavior"],
        **params: Any,
    ) -> None:
        if unknown := set(params) - set(PARAMS):
            raise TypeError(f"unknown argument(s): {sorted(unknown)}")
        self.shared = shared
        self.private_neural = private_neural
        self.private_behavior = private_behavior
        for name in PARAMS[3:]:
            setattr(self, name, params.get(name, _DEFAULTS[name]))
        self._validate()

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, by name (scikit-learn's estimator protocol)."""
        return {name: getattr(self, name) for name in PARAMS}

    def set_params(self, **params: Any) -> MMGPVAE:
        """Change parameters; a fitted model keeps its module until the next ``fit`` (training
        settings such as ``epochs`` and ``lr`` apply to the next ``partial_fit``)."""
        if unknown := set(params) - set(PARAMS):
            raise ValueError(f"invalid parameter(s) for MMGPVAE: {sorted(unknown)}")
        old = self.get_params()
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self._validate()
        except Exception:
            for name, value in old.items():
                setattr(self, name, value)
            raise
        return self

    def __sklearn_tags__(self):
        """For scikit-learn ≥ 1.6 (grid searches ask). Not a ``BaseEstimator``: importing
        scikit-learn at start would cost the CLI and the app a second."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))

    def _validate(self) -> None:
        ModelConfig(**{n: getattr(self, n) for n in _MODEL_FIELDS})
        self.train_config  # noqa: B018 (validates)

    @property
    def model_config(self) -> ModelConfig:
        """The fitted model's configuration (likelihoods resolved, ``model_config_``), or before
        a fit the one the parameters describe."""
        fitted = getattr(self, "model_config_", None)
        return fitted or ModelConfig(**{n: getattr(self, n) for n in _MODEL_FIELDS})

    @property
    def train_config(self) -> TrainConfig:
        """The training settings the parameters describe (the next ``partial_fit`` uses them)."""
        return TrainConfig(**{n: getattr(self, n) for n in _TRAIN_FIELDS})

    @train_config.setter
    def train_config(self, config: TrainConfig) -> None:
        self.set_params(**{n: getattr(config, n) for n in _TRAIN_FIELDS})

    @property
    def data_config(self) -> DataConfig:
        """Where the training data came from (``fit(..., data_config=)``), saved with the
        project."""
        return getattr(self, "data_config_", None) or DataConfig()

    module = _fitted("module", "The fitted :class:`MMGPVAEModule` (``module_``).")
    shape = _fitted("shape", "Channels and time bins of the fitted module (``shape_``).")
    optimizer = _fitted("optimizer", "The optimizer a ``partial_fit`` goes on with.")
    outcome = _fitted("outcome", "How the last fit ended (``outcome_``).")
    fit_state = _fitted("fit_state", "A checkpoint's fit in progress (``fit_state_``).")
    neural = _fitted("neural", "The neural training data (``neural_``).")
    behavior = _fitted("behavior", "The behavior training data (``behavior_``).")

    @property
    def history(self) -> TrainingHistory:
        """Per-epoch training history (``history_``; empty before a fit)."""
        history = getattr(self, "history_", None)
        return TrainingHistory() if history is None else history

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "module_", None) is not None

    # ------------------------------------------------------------------ helpers
    @property
    def torch_device(self) -> torch.device:
        """The device the ``device`` parameter resolves to."""
        return resolve_device(self.device)

    def _tensor(self, ds: Dataset | None, rows: slice = slice(None)) -> torch.Tensor | None:
        if ds is None:
            return None
        return torch.as_tensor(ds.data[rows], dtype=torch.float32, device=self.torch_device)

    def _training_tensor(self, ds: Dataset | None) -> torch.Tensor | None:
        """The training data as the fit reads it: on a CUDA device, left in CPU memory (the
        float32 array itself, no copy), from which ``training.fit`` moves each mini-batch
        through a pinned buffer (an hour of 5,000 channels need not fit on the GPU, and is
        not held twice); elsewhere on the device, as :meth:`_tensor`."""
        if ds is None or self.torch_device.type != "cuda":
            return self._tensor(ds)
        return torch.as_tensor(ds.data, dtype=torch.float32)

    def _shapes(
        self, cfg: ModelConfig, neurals: list[Dataset], behaviors: list[Dataset | None]
    ) -> list[ModelShape]:
        """Each session's :class:`ModelShape`: the length-scale from the first session's data,
        one circular length for all (the prior's frequencies are shared)."""
        neural, behavior = neurals[0], behaviors[0]
        arrays = [neural.data] + ([behavior.data] if behavior is not None else [])
        names = [cfg.neural_likelihood, cfg.behavior_likelihood][: len(arrays)]
        logs = [likelihood_class(name).counts for name in names]
        ell0 = cfg.length_scale_init or length_scale_from_data(arrays, logs, seed=self.seed)
        min_ell = cfg.min_length_scale or max(1.0, ell0 * cfg.min_length_scale_fraction)
        min_ell = min(min_ell, ell0)
        used = {cfg.kernels[s] for s in SUBSPACES if getattr(cfg, s) > 0}
        t_circ = circular_length(
            max(d.n_time for d in neurals), ell0, padding_for(used, cfg.padding)
        )
        return [
            ModelShape(
                n_neural=nd.n_channels,
                n_behavior=0 if bd is None else bd.n_channels,
                n_time=nd.n_time,
                t_circ=t_circ,
                length_scale_init=float(ell0),
                min_length_scale=float(min_ell),
                length_scale_param=cfg.length_scale_param,
            )
            for nd, bd in zip(neurals, behaviors)
        ]

    def _build(self, cfg: ModelConfig, neural: Dataset, behavior: Dataset | None) -> None:
        if behavior is None and cfg.private_behavior > 0:
            cfg = cfg.replace(private_behavior=0)
        self.model_config_ = cfg
        self.shape_ = self._shapes(cfg, [neural], [behavior])[0]
        torch.manual_seed(self.seed)
        self.module_ = MMGPVAEModule(cfg, self.shape_).to(self.torch_device)
        self.module_.init_from_data(self._training_tensor(neural), self._training_tensor(behavior))
        self.optimizer_ = make_optimizer(self.module_, self.train_config)
        self.history_ = TrainingHistory()

    def _build_sessions(
        self,
        cfg: ModelConfig,
        neurals: list[Dataset],
        behaviors: list[Dataset | None],
        names: list[str],
    ) -> None:
        if behaviors[0] is None and cfg.private_behavior > 0:
            cfg = cfg.replace(private_behavior=0)
        self.model_config_ = cfg
        shapes = self._shapes(cfg, neurals, behaviors)
        torch.manual_seed(self.seed)
        multi = MultiSessionModule.build(cfg, shapes).to(self.torch_device)
        for view, nd in zip(multi.sessions, neurals):
            view.init_modality("neural", self._training_tensor(nd))
        if behaviors[0] is not None:  # the shared behavior parts: from every session's behavior
            C = behaviors[0].n_channels
            every = torch.cat([self._tensor(b).reshape(-1, C) for b in behaviors])  # type: ignore[union-attr]
            multi.sessions[0].init_modality("behavior", every[None])
        self._set_sessions(multi, names, shapes, [DataConfig() for _ in names])
        self.adapted_from_, self.fixed_transforms_ = None, None
        self.optimizer_ = make_optimizer(multi, self.train_config)
        self.history_ = TrainingHistory()

    def _set_sessions(
        self,
        multi: MultiSessionModule,
        names: list[str],
        shapes: list[ModelShape],
        data_configs: list[DataConfig],
    ) -> None:
        self.multi_, self.sessions_, self.session_shapes_ = multi, list(names), list(shapes)
        self.session_data_configs_ = list(data_configs)
        self.module_, self.shape_ = multi.sessions[0], shapes[0]
        self.data_config_ = data_configs[0]

    def _trainable(self) -> list[torch.nn.Parameter] | None:
        """What the optimizer trains: an adapted model only its sessions' own parameters (the
        rest frozen), its read-in from where ``sessions.carry_read_in`` set it; every other
        model all (None). The carried read-in is learned on, not kept: kept, the real S1
        recording's second half added to its first half's fit read velocity at R² 0.09 from
        10 training windows (a fresh fit 0.46; learned on, 0.46 with a better held-out score),
        and in six simulations the held-out score beats a fresh fit's in 6 of 6, by more than
        kept (benchmarks/RESULTS.md, "Many sessions").
        It starts carried, not at random: a random read-in can switch its shared latents off
        (precision 0) under the fitted behavior encoder and not come back."""
        if not getattr(self, "adapted_from_", None):
            return None
        for p in self.multi_.parameters():
            p.requires_grad_(False)
        own = self.multi_.own_parameters()
        for p in own:
            p.requires_grad_(True)
        return own

    def _forget(self) -> None:
        """Drop every fitted attribute: the estimator as its constructor left it."""
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            delattr(self, name)

    def resolve_likelihoods(
        self, neural: Any, behavior: Any = None
    ) -> dict[str, LikelihoodChoice]:
        """The likelihood of each given modality, and why ("auto: …" or "set"): an ``"auto"``
        one is chosen from the data (``likelihoods.choose_likelihood``: calcium and other
        non-integer signals → gaussian, non-negative integer counts → poisson, only 0/1 →
        bernoulli). A fit does this first and keeps the choice in ``model_config_``."""
        cfg = self.model_config
        out = {}
        for modality, data in (("neural", neural), ("behavior", behavior)):
            if data is None:
                continue
            out[modality] = resolve_likelihood(
                getattr(cfg, f"{modality}_likelihood"), _as_dataset(data, modality), modality
            )
        return out

    # ------------------------------------------------------------------ fitting
    def fit(self, neural: Any, behavior: Any = None, **options: Any) -> MMGPVAE:
        """Train a new model on ``neural`` (and ``behavior``), forgetting any earlier fit;
        ``partial_fit`` continues one. ``options`` as for ``partial_fit`` (``epochs``,
        ``on_epoch``, ``should_stop``, ``data_config``), but a fresh fit has no ``warmup``."""
        if "warmup" in options:
            raise TypeError("fit() starts afresh; continue a warm-up with partial_fit(warmup=)")
        self._forget()
        return self.partial_fit(neural, behavior, **options)

    def partial_fit(
        self,
        neural: Any,
        behavior: Any = None,
        *,
        epochs: int | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        warmup: tuple[int, int] | None = None,
        data_config: DataConfig | list[DataConfig] | None = None,
        names: list[str] | None = None,
    ) -> MMGPVAE:
        """Go on training the fitted model (its weights, optimizer and history) for ``epochs``
        (default: the ``epochs`` parameter) more; an unfitted one starts as ``fit`` does.
        ``warmup``: continue the KL warm-up of an interrupted fit (``FitState.warmup``).

        Several sessions: ``neural`` and ``behavior`` are lists, one entry per session (their
        ``names``, default session0, session1, …; ``data_config`` a list too): one model with
        a shared latent space (:mod:`~mmgpvae_core.model.sessions`)."""
        if isinstance(neural, (list, tuple)):
            return self._partial_fit_sessions(
                neural, behavior, names, data_config, epochs=epochs, on_epoch=on_epoch,
                should_stop=should_stop, warmup=warmup,
            )
        if self.is_multi_session:
            raise ValueError(
                f"this model holds {len(self.session_names)} sessions: continue it with lists "
                "of every session's data (neural=[...], behavior=[...], names=[...])"
            )
        neural_ds = _as_dataset(neural, "neural")
        behavior_ds = _as_dataset(behavior, "behavior")
        assert neural_ds is not None
        fresh = not self.is_fitted
        cfg = self._checked_config([(neural_ds, behavior_ds)])
        if fresh:
            self._build(cfg, neural_ds, behavior_ds)
        elif neural_ds.n_time != self.shape_.n_time:
            raise ValueError("continue training on data with the same number of time bins")
        if data_config is not None:
            self.data_config_ = data_config
        self.neural_, self.behavior_ = neural_ds, behavior_ds
        train = self.train_config if epochs is None else self.train_config.replace(epochs=epochs)
        self.outcome_ = fit(
            self.module_,
            self._training_tensor(neural_ds),  # type: ignore[arg-type]
            self._training_tensor(behavior_ds),
            train,
            optimizer=self.optimizer_,
            history=self.history_,
            on_epoch=on_epoch,
            should_stop=should_stop,
            warmup=warmup,
        )
        self.fit_state_ = None
        return self

    def _checked_config(self, pairs: list[tuple[Dataset, Dataset | None]]) -> ModelConfig:
        """The model configuration a fit on ``pairs`` (each session's neural and behavior)
        uses — before a first fit with any "auto" likelihood resolved from the first
        session — after checking every session's data against its likelihoods and as a
        pair."""
        cfg = self.model_config
        if not self.is_fitted:
            choices = self.resolve_likelihoods(*pairs[0])
            cfg = cfg.replace(**{f"{m}_likelihood": c.name for m, c in choices.items()})
        for nd, bd in pairs:
            check_for_likelihood(nd, cfg.neural_likelihood)
            if bd is not None:
                check_for_likelihood(bd, cfg.behavior_likelihood)
            check_pair(nd, bd)
        return cfg

    def _partial_fit_sessions(
        self, neural, behavior, names, data_config, **options: Any
    ) -> MMGPVAE:
        neurals = [_as_dataset(x, "neural") for x in neural]
        behaviors = (
            [None] * len(neurals) if behavior is None
            else [_as_dataset(x, "behavior") for x in behavior]
        )
        if len(behaviors) != len(neurals) or not neurals:
            raise ValueError(
                f"{len(neurals)} neural and {len(behaviors)} behavior data sets: give one of "
                "each per session"
            )
        names = check_session_names(names or default_session_names(len(neurals)))
        check_sessions(names, neurals, behaviors)  # type: ignore[arg-type]
        fresh = not self.is_fitted
        if not fresh and not self.is_multi_session:
            raise ValueError("this model was fitted on one session: continue it with its data")
        if not fresh and names != self.session_names:
            raise ValueError(
                f"continue training on the model's sessions {self.session_names}; got {names}"
            )
        cfg = self._checked_config(list(zip(neurals, behaviors)))
        if fresh:
            self._build_sessions(cfg, neurals, behaviors, names)  # type: ignore[arg-type]
        else:
            for name, nd, shape in zip(names, neurals, self.session_shapes_):
                if (nd.n_channels, nd.n_time) != (shape.n_neural, shape.n_time):
                    raise ValueError(
                        f"session '{name}': continue training on data of the model's shape "
                        f"({shape.n_neural} channels × {shape.n_time} bins); got "
                        f"{nd.n_channels} × {nd.n_time}"
                    )
        if data_config is not None:
            configs = list(data_config) if isinstance(data_config, (list, tuple)) else [data_config]
            self.session_data_configs_ = configs
            self.data_config_ = configs[0]
        self.session_data_ = list(zip(neurals, behaviors))
        self.neural_, self.behavior_ = self.session_data_[0]
        train = self.train_config
        if options["epochs"] is not None:
            train = train.replace(epochs=options["epochs"])
        self.outcome_ = fit(
            self.multi_,
            [self._training_tensor(nd) for nd in neurals],
            [self._training_tensor(bd) for bd in behaviors],
            train,
            optimizer=self.optimizer_,
            history=self.history_,
            on_epoch=options["on_epoch"],
            should_stop=options["should_stop"],
            warmup=options["warmup"],
        )
        self.fit_state_ = None
        return self

    def new_sessions(
        self,
        neural: list[Any],
        behavior: list[Any],
        names: list[str],
        *,
        data_configs: list[DataConfig] | None = None,
        source: str = "",
    ) -> MMGPVAE:
        """A new model of new sessions in this fitted model's latent space, ready to train
        with ``partial_fit`` (:meth:`add_sessions` does both)
        (``mmgpvae fit --sessions NEW.csv --from RUN``): everything shared (the GP prior, the
        behavior encoder and decoder, the neural encoder past its read-in) is copied and kept
        fixed; each new session's own neural read-out is learned from latents inferred from
        the behavior alone, and its read-in starts carried over from this model's sessions'
        (``sessions.carry_read_in``: only a map of the new neurons to the latents is fitted
        to the new trials) and the scale of its neural precisions chosen on its trials left out
        in turn (``sessions.calibrate_precision``: the neurons of trials that map was not
        fitted to are read less surely); then, in ``partial_fit``, the read-in from there, the
        read-out and the likelihood on the full ELBO (the scale stays as set).
        The shared and private-behavior latents are in this model's display coordinates. This
        model is left as it was."""
        from mmgpvae_core.model.sessions import carry_read_in, carry_rows
        from mmgpvae_core.training import fit_readout

        src = self.require_fitted()
        if not src.has_behavior:
            raise ValueError(
                "a new session joins a fitted model through its behavior, and this model has none"
            )
        neurals = [_as_dataset(x, "neural") for x in neural]
        behaviors = [_as_dataset(x, "behavior") for x in behavior]
        names = check_session_names(names)
        if len(neurals) != len(behaviors) or len(neurals) != len(names) or not names:
            raise ValueError("give one neural and one behavior data set per new session")
        ref = self.behavior if self.behavior is not None else behaviors[0]
        check_sessions(["(fitted model)", *names], [self.neural, *neurals], [ref, *behaviors])
        cfg = self._checked_config(list(zip(neurals, behaviors)))
        for name, nd in zip(names, neurals):
            if nd.n_time > self.shape_.n_time:
                raise ValueError(
                    f"session '{name}': trials of {nd.n_time} bins, longer than the fitted "
                    f"model's {self.shape_.n_time}; cut them shorter (--window)"
                )
        new = type(self)(**self.get_params())
        new.model_config_ = cfg
        owner = copy.deepcopy(src)
        shapes = [
            dataclasses.replace(self.shape_, n_neural=nd.n_channels, n_time=nd.n_time)
            for nd in neurals
        ]
        with torch.random.fork_rng(devices=[]):  # the same new sessions whatever ran before
            torch.manual_seed(self.train_config.seed)
            multi = MultiSessionModule(
                [MMGPVAEModule(cfg, shape, shared_with=owner) for shape in shapes]
            ).to(self.torch_device)
        for view, nd in zip(multi.sessions, neurals):
            view.init_modality("neural", new._training_tensor(nd))
        new._set_sessions(multi, names, shapes, data_configs or [DataConfig() for _ in names])
        new.session_data_ = list(zip(neurals, behaviors))
        new.neural_, new.behavior_ = new.session_data_[0]
        new.adapted_from_ = source or "(a fitted model)"
        new.fixed_transforms_ = {
            k: v for k, v in self.orthonormal_transforms().items() if k != "private_neural"
        }
        new.optimizer_ = make_optimizer(multi, new.train_config, params=new._trainable())
        new.history_ = TrainingHistory()
        references = []
        for _, fitted in self.sessions():
            rows = carry_rows(fitted.neural.n_time, fitted.neural.n_channels)
            references.append(
                (fitted.module_, self._tensor(fitted.neural, rows), self._tensor(fitted.behavior, rows))
            )
        for view, (nd, bd) in zip(multi.sessions, new.session_data_):
            fit_readout(view, new._tensor(nd), new._tensor(bd), new.train_config)
            rows = carry_rows(nd.n_time, nd.n_channels)
            carry_read_in(view, references, new._tensor(nd, rows), new._tensor(bd, rows))
        return new

    def add_sessions(
        self,
        neural: list[Any],
        behavior: list[Any],
        names: list[str],
        *,
        data_configs: list[DataConfig] | None = None,
        epochs: int | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        source: str = "",
    ) -> MMGPVAE:
        """:meth:`new_sessions`, then trained (``epochs``, default the ``epochs`` parameter):
        a new fitted model of the new sessions in this model's latent space."""
        new = self.new_sessions(neural, behavior, names, data_configs=data_configs, source=source)
        return new.partial_fit(
            [d for d, _ in new.session_data_], [b for _, b in new.session_data_], names=names,
            epochs=epochs, on_epoch=on_epoch, should_stop=should_stop,
        )

    # ------------------------------------------------------------------ sessions
    @property
    def is_multi_session(self) -> bool:
        """Whether this is a model of several sessions (``fit`` on lists, ``--sessions``)."""
        return getattr(self, "multi_", None) is not None

    @property
    def session_names(self) -> list[str]:
        """The sessions' names, in order ([] for a single-session model)."""
        return list(getattr(self, "sessions_", None) or [])

    def _session_index(self, session: int | str) -> int:
        names = self.session_names
        if isinstance(session, (int, np.integer)) and 0 <= int(session) < max(1, len(names)):
            return int(session)
        if session in names:
            return names.index(session)  # type: ignore[arg-type]
        raise KeyError(f"no session {session!r}; the model's sessions are {names or [0]}")

    def for_session(self, session: int | str) -> MMGPVAE:
        """One session of a multi-session model as a single-session estimator: its module (the
        same tensors), data and data configuration, and the shared and private-behavior display
        coordinates common to every session. A single-session model: itself."""
        k = self._session_index(session)
        if not self.is_multi_session:
            return self
        common = self.orthonormal_transforms()
        view = copy.copy(self)
        for name in _SESSION_ATTRS:
            view.__dict__.pop(name, None)
        view.module_ = self.multi_.sessions[k]
        view.shape_ = self.session_shapes_[k]
        view.neural_, view.behavior_ = self.session_data_[k]
        view.data_config_ = self.session_data_configs_[k]
        view.fixed_transforms_ = {n: t for n, t in common.items() if n != "private_neural"}
        view.session_name_ = self.sessions_[k]
        return view

    def sessions(self) -> list[tuple[str, MMGPVAE]]:
        """(name, :meth:`for_session`) of every session; a single-session model: one, named
        after its neural file's stem."""
        if not self.is_multi_session:
            stem = Path(self.data_config.neural_path or "session").stem or "session"
            return [(stem, self)]
        return [(name, self.for_session(k)) for k, name in enumerate(self.session_names)]

    def score(self, neural: Any, behavior: Any = None) -> float:
        """Held-out predictive score, nats per trial (higher is better): the sweep's selection
        score (``heldout.evaluate``), for scikit-learn's model selection."""
        from mmgpvae_core.evaluation.heldout import evaluate

        return float(evaluate(self, neural, behavior)["score"])

    def require_fitted(self) -> MMGPVAEModule:
        """The fitted module; ``RuntimeError`` before a fit."""
        if not self.is_fitted:
            raise RuntimeError("the model is not fitted yet: call fit() first")
        return self.module_

    def posterior(
        self, neural: Any = None, behavior: Any = None, *, session: int | str | None = None
    ) -> dict[str, np.ndarray]:
        """Posterior in the model's own latent coordinates: ``mean``, ``var`` (N, T, D).
        Either modality may be None (cross-modal inference); neither: the training data.
        ``session``: which session of a multi-session model (default the first)."""
        if session is not None:
            return self.for_session(session).posterior(neural, behavior)
        return self.infer(neural, behavior, reconstruction=False)[0]

    def infer(
        self,
        neural: Any = None,
        behavior: Any = None,
        *,
        posterior: bool = True,
        reconstruction: bool = True,
        dtype: Any = np.float64,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(:meth:`posterior`, :meth:`reconstruct` as ``dtype``) from one pass of inference, in
        batches of about ``BATCH_VALUES`` data values (each trial's posterior is its own); a
        part not asked for is empty. Saving and the views' snapshots need both: one pass."""
        n = None
        parts: dict[str, list[np.ndarray]] = {"mean": [], "var": []}
        rec: dict[str, np.ndarray] = {}
        for rows, post, batch, n in self.iter_infer(
            neural, behavior, posterior=posterior, reconstruction=reconstruction
        ):
            for k, v in post.items():
                parts[k].append(v)
            for k, v in batch.items():
                if k not in rec:
                    rec[k] = np.empty((n, *v.shape[1:]), dtype=dtype)
                rec[k][rows] = v
        return ({k: np.concatenate(v) for k, v in parts.items()} if posterior else {}), rec

    @torch.no_grad()
    def iter_infer(
        self,
        neural: Any = None,
        behavior: Any = None,
        *,
        posterior: bool = True,
        reconstruction: bool = True,
    ):
        """:meth:`infer` batch by batch: yields (rows, posterior ``mean``/``var`` float64,
        reconstruction as float32 numpy, number of trials) for each slice of trials, so a
        caller can write a long session's reconstruction without holding it whole."""
        m = self.require_fitted()
        m.eval()
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        nd, bd = _as_dataset(neural, "neural"), _as_dataset(behavior, "behavior")
        n = (nd if nd is not None else bd).n_trials
        for rows in _batches(nd, bd):
            post = FourierPosterior.cat([
                m.posterior(self._tensor(nd, part), self._tensor(bd, part))
                for part in _batches(nd, bd, values=ENCODE_VALUES, within=rows)
            ])
            out = {}
            if posterior:
                out["mean"] = post.time_mean().cpu().numpy().astype(np.float64)
                out["var"] = post.time_var().cpu().numpy().astype(np.float64)
            rec = {}
            if reconstruction:
                rec = {k: v.cpu().numpy() for k, v in m.reconstruct(post).items()}
            yield rows, out, rec, n
            del post, out, rec  # not held while the next batch is computed

    def subspace_indices(self) -> dict[str, list[int]]:
        m = self.require_fitted()
        return {name: getattr(m, f"idx_{name}") for name in SUBSPACES}

    @torch.no_grad()
    def orthonormal_transforms(self) -> dict[str, np.ndarray]:
        """Per subspace, a (d, d) map raw → display coordinates: SVD of the subspace's loadings
        (mixing and linear decoder weights, as GPFA does; every session's), ordered by variance
        explained. A session's view and an adapted model keep the shared and private-behavior
        maps of the model they came from (``fixed_transforms_``)."""
        m = self.require_fitted()
        views = list(self.multi_.sessions) if self.is_multi_session else [m]
        loadings = []
        for dec, idx in [(v.dec_neural, v.idx_neural) for v in views] + (
            [(m.dec_behavior, m.idx_behavior)] if m.has_behavior else []
        ):
            W = dec.affine()[0] if dec.is_linear else dec.mixing.weight
            loadings.append((W.cpu().numpy().astype(np.float64), idx))
        out = {}
        for name, sub in self.subspace_indices().items():
            blocks = [W[:, [idx.index(i) for i in sub]] for W, idx in loadings if set(sub) <= set(idx)]
            if not sub:
                out[name] = np.zeros((0, 0))
                continue
            L = np.vstack([b / (np.linalg.norm(b) + 1e-12) for b in blocks])
            _, s, vt = np.linalg.svd(L, full_matrices=False)
            signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
            out[name] = (s[:, None] * vt) * signs[:, None]
        fixed = getattr(self, "fixed_transforms_", None) or {}
        out.update({k: np.asarray(v, dtype=np.float64) for k, v in fixed.items()})
        return out

    def transform(
        self,
        neural: Any = None,
        behavior: Any = None,
        *,
        orthonormalize: bool = True,
        session: int | str | None = None,
    ) -> dict[str, np.ndarray]:
        """Posterior-mean latents per subspace, (trials, time, dim) each, in display coordinates
        (orthonormalized) unless ``orthonormalize=False``. Defaults to the training data.
        ``session``: which session of a multi-session model (name or index; default the
        first); every session's shared latents are in one space."""
        if session is not None:
            return self.for_session(session).transform(
                neural, behavior, orthonormalize=orthonormalize
            )
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        mean = self.posterior(neural, behavior)["mean"]
        T = self.orthonormal_transforms() if orthonormalize else None
        out = {}
        for name, idx in self.subspace_indices().items():
            z = mean[..., idx]
            out[name] = z @ T[name].T if T is not None and idx else z
        return out

    def latent_posterior(
        self, neural: Any = None, behavior: Any = None, *, session: int | str | None = None
    ) -> dict[str, dict]:
        """Per subspace: ``mean`` and ``var`` (trials, time, dim) in display coordinates
        (variances of the rotated coordinates' marginals, ignoring their small correlations).
        ``session`` as for :meth:`transform`."""
        if session is not None:
            return self.for_session(session).latent_posterior(neural, behavior)
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        return self.display_latents(self.posterior(neural, behavior))

    def display_latents(self, post: dict[str, np.ndarray]) -> dict[str, dict]:
        """Per subspace, ``mean`` and ``var`` (N, T, d) of :meth:`posterior`'s output ``post``
        in display coordinates (:meth:`orthonormal_transforms`)."""
        T = self.orthonormal_transforms()
        out = {}
        for name, idx in self.subspace_indices().items():
            mean, var = post["mean"][..., idx], post["var"][..., idx]
            if idx:
                mean, var = mean @ T[name].T, var @ (T[name] ** 2).T
            out[name] = {"mean": mean, "var": var}
        return out

    def reconstruct(
        self,
        neural: Any = None,
        behavior: Any = None,
        dtype: Any = np.float64,
        *,
        session: int | str | None = None,
    ) -> dict[str, np.ndarray]:
        """Posterior-predictive means (trials, time, channels) of each modality, as ``dtype``.
        ``session`` as for :meth:`transform`."""
        if session is not None:
            return self.for_session(session).reconstruct(neural, behavior, dtype)
        return self.infer(neural, behavior, posterior=False, dtype=dtype)[1]

    @property
    def length_scales(self) -> np.ndarray:
        """(D,) learned length-scales in bins."""
        return self.require_fitted().prior.length_scale.detach().cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def save(
        self,
        path: str | Path,
        *,
        outcome: FitOutcome | None = None,
        fit_state: FitState | None = None,
        inferred: tuple[dict, dict] | None = None,
    ) -> None:
        """Write a complete ``.mmgp`` project (atomically; :func:`saved.save_model`)."""
        from mmgpvae_core.project.saved import save_model

        save_model(self, path, outcome=outcome, fit_state=fit_state, inferred=inferred)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> MMGPVAE:
        """Reopen a project: config, data, weights, optimizer state and history."""
        from mmgpvae_core.project.saved import load_model

        return load_model(cls, path, device)

    def __repr__(self) -> str:
        c = self.model_config
        state = "fitted" if self.is_fitted else "not fitted"
        return (
            f"MMGPVAE(shared={c.shared}, private_neural={c.private_neural}, "
            f"private_behavior={c.private_behavior}; {state}, {len(self.history)} epochs)"
        )


MMGPVAE.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [
        inspect.Parameter(
            name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD if i < 3 else inspect.Parameter.KEYWORD_ONLY,
            default=_DEFAULTS[name],
        )
        for i, name in enumerate(PARAMS)
    ]
)
