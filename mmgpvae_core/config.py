"""Typed, validated configuration: what the model is, how it is trained, where its data came from.

Every project file stores all three as JSON (`to_dict` / `from_dict`), so a fit can be reopened,
continued or reproduced. Validation happens once, in ``__post_init__``.

Fields that the command line sets carry ``metadata={"help": ..., "flag": ...}`` (:func:`option`);
``_Config.add_arguments`` turns them into argparse options, so each default is written once, here.
Those the app's model panel shows also carry ``"shown"`` (:class:`Shown`: label, tooltip, range),
from which the panel builds its boxes.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: names of the registered likelihoods (``likelihoods.py``; kept here so that the command line
#: and config checks need no torch), as project files store them
LIKELIHOODS = ("poisson", "gaussian", "bernoulli", "negbinomial")
#: a likelihood chosen from the data when the model is fitted (``likelihoods.choose_likelihood``)
AUTO = "auto"
#: what kind of signal a reader knows it read, whatever the values (``Dataset.signal``, set by
#: each loader; "" when it cannot tell): the automatic likelihood follows it. Name → words.
SIGNALS = {
    "spikes": "spike counts", "calcium": "calcium", "pose": "pose", "position": "position",
}
DECODERS = ("linear", "mlp")
FUSIONS = ("poe", "mean")
#: the latent subspaces, in the order of the latent split (shared, private A, private B)
SUBSPACES = ("shared", "private_neural", "private_behavior")
#: names of the registered GP kernels (``model/kernels.py``; kept here, torch-free, for the
#: command line and config checks; a test checks that the two agree)
KERNELS = ("rbf", "matern12", "matern32", "matern52")
#: the kernel of a subspace that a per-subspace ``kernel`` setting does not name
DEFAULT_KERNEL = "rbf"
#: an option's default on the command line is the field's default (``option(cli_default=...)``)
FIELD_DEFAULT = object()
_TYPES = {"int": int, "float": float, "int | None": int, "float | None": float}

_C = TypeVar("_C", bound="_Config")


class ConfigError(ValueError):
    """A configuration value is out of range; the message names the field."""


@dataclass(frozen=True)
class Shown:
    """How the app shows an option (``option(shown=...)``; ``mmgpvae_gui.widgets.options``
    builds the box): its ``label``; ``tip``, what it does and its unit; the range ``low`` …
    ``high`` a box offers (a narrower one than the config accepts); ``decimals``, ``step`` and
    ``suffix`` of a number box; ``none``: the text of the lowest value, which means None (a field
    that may be None, "auto"); ``log10``: the box holds the power of ten; ``choices``: a choice
    box's items, where they differ from the option's."""

    label: str
    tip: str
    low: float | None = None
    high: float | None = None
    decimals: int | None = None
    step: float | None = None
    suffix: str = ""
    none: str = ""
    log10: bool = False
    choices: tuple[str, ...] | None = None


def option(
    default: Any,
    help: str | None = None,
    *,
    cli_default: Any = None,
    shown: Shown | None = None,
    **argparse_kw: Any,
):
    """A config field that the command line sets: ``default`` is the field's default; ``help``
    may name it as ``{default}``; ``cli_default`` is the option's argparse default (None: "not
    given", the config's default applies; ``FIELD_DEFAULT``: the field's default, shown in the
    namespace); ``shown``: how the app shows it (:class:`Shown`); other keywords (``flag``,
    ``choices``, ``metavar``) go to ``add_argument``."""
    meta = {"help": help, "cli_default": cli_default, "shown": shown, **argparse_kw}
    return field(default=default, metadata=meta)


class _Config:
    @classmethod
    def add_arguments(
        cls, parser: argparse.ArgumentParser, names: list[str] | None = None, **overrides: dict
    ) -> None:
        """Add an option for each field in ``names`` (default: every field made with
        :func:`option`), in that order, from the field's metadata; ``overrides[name]`` replaces
        metadata for one command (a help of its own, say)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name in names or [n for n, f in fields.items() if "cli_default" in f.metadata]:
            f = fields[name]
            meta = {**f.metadata, **overrides.get(name, {})}
            meta.pop("shown", None)  # the app's, not argparse's
            flag = meta.pop("flag", "--" + name.replace("_", "-"))
            default = meta.pop("cli_default", None)
            help = meta.pop("help", None)
            kw: dict[str, Any] = {k: v for k, v in meta.items() if v is not None}
            if "choices" not in kw and f.type in _TYPES:
                kw["type"] = _TYPES[f.type]
            parser.add_argument(
                flag,
                default=f.default if default is FIELD_DEFAULT else default,
                help=None if help is None else help.format(default=f.default),
                **kw,
            )

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> dict[str, Any]:
        """The fields of ``cls`` that ``args`` (parsed from :meth:`add_arguments`' options)
        gives, as keyword arguments; options left out (None) are left out."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)  # type: ignore[arg-type]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls: type[_C], d: dict[str, Any]) -> _C:
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {}
        for k, v in d.items():
            if k not in names:
                continue  # forward compatibility: ignore keys written by newer versions
            kwargs[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)

    def replace(self: _C, **changes: Any) -> _C:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


_LIKELIHOOD_HELP = (
    "observation model (default auto: from the data — calcium and other non-integer signals "
    "gaussian, non-negative integer counts poisson (neural), only 0/1 bernoulli; negbinomial "
    "for over-dispersed counts)"
)


LENGTH_SCALE_PARAMS = ("softplus", "log")

#: How the model behaved before a ``ModelConfig`` option existed. A project saved before then
#: has no key for it and was fitted this way, whatever today's default is; ``read_project``
#: fills these in so that a reopened old fit reports, refits and re-saves what it was.
MODEL_BEFORE_OPTION: dict[str, Any] = {
    "min_length_scale_fraction": 0.5,
    "length_scale_spread": 1.0,
    "length_scale_param": "softplus",
    "kernel": "rbf",
    "read_in_above": 0,
}


def subspace_kernels(spec: str) -> dict[str, str]:
    """{subspace: kernel name} for every subspace from a ``kernel`` setting: one name for all
    ("matern12") or ``SUBSPACE=NAME`` pairs ("shared=matern12,private_behavior=rbf"; subspaces
    left out get ``DEFAULT_KERNEL``). Raises ConfigError naming what is wrong."""
    parts = [p.strip() for p in str(spec).split(",") if p.strip()]
    if len(parts) == 1 and "=" not in parts[0]:
        _check(parts[0] in KERNELS, "kernel", f"{parts[0]!r} is not one of {KERNELS}")
        return dict.fromkeys(SUBSPACES, parts[0])
    out = dict.fromkeys(SUBSPACES, DEFAULT_KERNEL)
    seen: set[str] = set()
    for part in parts:
        sub, eq, name = (x.strip() for x in part.partition("="))
        _check(bool(eq), "kernel", f"{part!r}: write NAME, or SUBSPACE=NAME pairs")
        _check(sub in SUBSPACES, "kernel", f"{sub!r} is not a subspace {SUBSPACES}")
        _check(sub not in seen, "kernel", f"{sub!r} is named twice")
        _check(name in KERNELS, "kernel", f"{name!r} is not one of {KERNELS}")
        seen.add(sub)
        out[sub] = name
    _check(bool(parts), "kernel", f"empty; write NAME or SUBSPACE=NAME pairs, NAME in {KERNELS}")
    return out


def kernel_spec(kernels: dict[str, str]) -> str:
    """The shortest ``kernel`` setting for {subspace: name}: one name when all agree, else the
    ``SUBSPACE=NAME`` pairs that differ from ``DEFAULT_KERNEL`` (inverse of subspace_kernels)."""
    names = [kernels.get(s, DEFAULT_KERNEL) for s in SUBSPACES]
    if len(set(names)) == 1:
        return names[0]
    return ",".join(f"{s}={n}" for s, n in zip(SUBSPACES, names) if n != DEFAULT_KERNEL)


#: How training went before a ``TrainConfig`` option existed (as ``MODEL_BEFORE_OPTION``): a
#: project saved before then goes on training as it was fitted.
TRAIN_BEFORE_OPTION: dict[str, Any] = {"channel_masking": 0.0}


def _check(cond: bool, name: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{name}: {msg}")


@dataclass(frozen=True)
class ModelConfig(_Config):
    """The latent split, likelihoods, decoders and GP prior hyperparameters.

    Length-scales are in time bins. ``None`` means "choose from the data" (see ``prior.py``).
    A likelihood may be ``"auto"``: ``MMGPVAE.fit`` replaces it by the one chosen for the data
    (``likelihoods.choose_likelihood``), so saved projects always name a concrete likelihood.
    """

    shared: int = option(
        2, "shared latent dimensions", cli_default=FIELD_DEFAULT,
        shown=Shown("Shared", "Shared latent dimensions: driven by, and explaining, both "
                    "modalities (count).", 0, 10),
    )
    private_neural: int = option(
        1, cli_default=FIELD_DEFAULT,
        shown=Shown("Private neural", "Private neural latent dimensions: explain neural "
                    "activity only (count).", 0, 10),
    )
    private_behavior: int = option(
        1, cli_default=FIELD_DEFAULT,
        shown=Shown("Private behavior", "Private behavior latent dimensions: explain behavior "
                    "only (count).", 0, 10),
    )
    neural_likelihood: str = option(
        "poisson", _LIKELIHOOD_HELP, cli_default=AUTO, choices=LIKELIHOODS + (AUTO,),
        shown=Shown("Neural", "Observation model of the neural data: poisson for spike counts "
                    "per bin, negbinomial for over-dispersed counts, gaussian for "
                    "calcium/continuous traces, bernoulli for 0/1 events. Chosen from the data "
                    "when a file loads; pick another to override.", choices=LIKELIHOODS),
    )
    behavior_likelihood: str = option(
        "gaussian", _LIKELIHOOD_HELP, cli_default=AUTO, choices=LIKELIHOODS + (AUTO,),
        shown=Shown("Behavior", "Observation model of the behavior data: gaussian for "
                    "keypoints/continuous variables or image intensities, bernoulli for binary "
                    "pixels. Chosen from the data when a file loads; pick another to override.",
                    choices=LIKELIHOODS),
    )
    neural_decoder: str = option(
        "linear", choices=DECODERS,
        shown=Shown("Neural decoder", "Neural read-out of the latents: an affine map (linear, "
                    "the default) or a small neural network (mlp). A sweep of spike counts "
                    "tries both and says which predicts held-out data better.",
                    choices=("linear", "mlp")),
    )
    behavior_decoder: str = option(
        "mlp", choices=DECODERS,
        shown=Shown("Behavior decoder", "Behavior decoder: a small neural network (mlp, for "
                    "nonlinear behavior such as images) or an affine map (linear).",
                    choices=("mlp", "linear")),
    )
    length_scale_init: float | None = option(
        None, "bins (default: from the data)",
        shown=Shown("Length-scale", "Initial length-scale of every latent, in time bins (how "
                    "slowly latents vary). 'auto' picks it from the data.", 0.0, 1000.0,
                    decimals=1, suffix=" bins", none="auto"),
    )
    min_length_scale: float | None = None
    #: the floor, when ``min_length_scale`` is None: this fraction of the initial length-scale
    #: (1/3: with "log" and prune 1e-6 below, 3-bin latents are learned where the data's
    #: autocorrelation says 8; benchmarks/RESULTS.md, "Harder data")
    min_length_scale_fraction: float = 1 / 3
    #: latents of one subspace start at length-scales spread geometrically over
    #: [init / spread, init × spread] (1: all at the initial length-scale; 2 measured worse —
    #: two of three harder-data fits lost the shared and private behavior latents)
    length_scale_spread: float = 1.0
    #: how the learned length-scale is parametrised above its floor: "log" (ℓ = floor +
    #: exp(raw): relative steps, so ℓ moves as fast from 8 to 3 bins as from 8 to 20) or
    #: "softplus" (ℓ = floor + softplus(raw): Adam's steps are ~lr bins; before issue 14)
    length_scale_param: str = "log"
    marginal_variance: float = option(
        1.0,
        "prior variance of every latent's GP: the scale of the latents the decoders read "
        "(default {default})",
        shown=Shown("Marginal variance", "Marginal variance of each latent under the GP prior "
                    "(latent units squared).", 0.01, 100.0),
    )
    prune_threshold: float = option(
        1e-6,
        "drop frequencies whose prior variance is below this fraction of the largest "
        "(default {default})",
        cli_default=FIELD_DEFAULT,
        shown=Shown("Pruning threshold", "Pruning threshold: Fourier frequencies whose prior "
                    "variance is below this fraction are dropped (unitless; larger = faster, "
                    "smoother).", -16, -1, log10=True),
    )
    #: length-scales of circular extension for the RBF; other kernels pad until their
    #: correlation is as small as the RBF's there (``Kernel.padding``: Matérn ½ needs 1.5×)
    padding: float = 3.0
    kernel: str = option(
        DEFAULT_KERNEL,
        "GP kernel of every latent: " + ", ".join(KERNELS) + " (default {default}); or per "
        "subspace, e.g. shared=matern12,private_behavior=rbf (subspaces not named: "
        + DEFAULT_KERNEL + "). Rough kernels (matern12) follow abrupt changes but keep more "
        "frequencies (slower)",
        metavar="NAME|SUBSPACE=NAME,...",
        shown=Shown("{subspace} kernel", "GP kernel of the {subspace} latents: RBF for smooth "
                    "dynamics (the default); Matérn ½ (Ornstein–Uhlenbeck) for rough ones with "
                    "abrupt changes, Matérn 3/2 and 5/2 in between. Rougher kernels keep many "
                    "more Fourier frequencies, so fitting is slower."),
    )
    shared_fusion: str = "poe"
    encoder_hidden: tuple[int, ...] = (128, 64)
    decoder_hidden: tuple[int, ...] = (64, 64)
    #: neural channels above which the neural encoder reads the data through a fixed PCA
    #: read-in of ``read_in_components`` axes instead of every channel (0: never), computed
    #: once per fit: an epoch of 5,000 ROIs no longer costs a 10,000-input first layer per bin
    #: (``encoders.PseudoObservationEncoder``; benchmarks/RESULTS.md, "Scale")
    read_in_above: int = 1024
    read_in_components: int = 64

    @staticmethod
    def saved_dict(d: dict[str, Any]) -> dict[str, Any]:
        """A saved project's model config ``d``, with the keys that files older than an option
        lack filled with what the model did then (``MODEL_BEFORE_OPTION``)."""
        return {**MODEL_BEFORE_OPTION, **d}

    def __post_init__(self) -> None:
        _check(self.shared >= 0, "shared", "must be >= 0")
        _check(self.private_neural >= 0, "private_neural", "must be >= 0")
        _check(self.private_behavior >= 0, "private_behavior", "must be >= 0")
        _check(self.n_latents > 0, "shared", "the model needs at least one latent dimension")
        for name in ("neural_likelihood", "behavior_likelihood"):
            _check(
                getattr(self, name) in LIKELIHOODS + (AUTO,),
                name,
                f"must be one of {LIKELIHOODS + (AUTO,)}",
            )
        for name in ("neural_decoder", "behavior_decoder"):
            _check(getattr(self, name) in DECODERS, name, f"must be one of {DECODERS}")
        _check(self.shared_fusion in FUSIONS, "shared_fusion", f"must be one of {FUSIONS}")
        if self.length_scale_init is not None:
            _check(self.length_scale_init > 0, "length_scale_init", "must be > 0 bins")
        if self.min_length_scale is not None:
            _check(self.min_length_scale > 0, "min_length_scale", "must be > 0 bins")
        _check(
            0 < self.min_length_scale_fraction <= 1, "min_length_scale_fraction", "must be in (0, 1]"
        )
        _check(self.length_scale_spread >= 1, "length_scale_spread", "must be >= 1")
        _check(
            self.length_scale_param in LENGTH_SCALE_PARAMS,
            "length_scale_param",
            f"must be one of {LENGTH_SCALE_PARAMS}",
        )
        _check(self.marginal_variance > 0, "marginal_variance", "must be > 0")
        _check(0 < self.prune_threshold < 1, "prune_threshold", "must be in (0, 1)")
        _check(self.padding >= 0, "padding", "must be >= 0 length-scales")
        _check(self.read_in_above >= 0, "read_in_above", "must be >= 0 channels (0: never)")
        _check(self.read_in_components >= 1, "read_in_components", "must be >= 1")
        subspace_kernels(self.kernel)

    @property
    def kernels(self) -> dict[str, str]:
        """{subspace: kernel name} (``subspace_kernels`` of ``kernel``)."""
        return subspace_kernels(self.kernel)

    @property
    def n_latents(self) -> int:
        return self.shared + self.private_neural + self.private_behavior


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Optimisation settings. ``epochs`` is a maximum: training stops early on a plateau.

    ``cross_modal``: the fraction of training trials (drawn afresh in every mini-batch) whose
    posterior is built from one modality's encoder alone — half of them neural-only, half
    behavior-only — while the likelihood still scores both modalities (``elbo.py``). Each such
    term is still a valid ELBO; it teaches each encoder to infer the shared latents on its own,
    which cross-modal prediction needs. Ignored for single-modality fits. Default 0.25, by
    measurement (benchmarks/SWEEP_RESULTS.md): on ``simulate(seed=1, private_behavior_weight=0.5)``,
    held-out R² of behavior from neural alone 0.52 → 0.69 (0.73 at 0.5); on ``simulate(seed=11)``
    latent recovery passes tests/core/test_recovery.py (0.5 recovers private behavior less well).
    """

    epochs: int = option(
        500, "maximum epochs (early stop on a plateau)",
        shown=Shown("Epochs", "Maximum number of epochs (passes over all trials) that Train "
                    "runs; it stops earlier on a plateau.", 1, 100000),
    )
    lr: float = option(
        1e-2, "Adam learning rate",
        shown=Shown("Learning rate", "Adam learning rate (step size per mini-batch, unitless).",
                    1e-4, 1.0, decimals=4, step=1e-3),
    )
    batch_size: int | None = option(
        25, "trials per optimisation step (default {default})",
        shown=Shown("Batch size", "Trials per mini-batch (count).", 1, 10000),
    )
    seed: int = option(0, cli_default=FIELD_DEFAULT)
    device: str = option(
        "auto", "auto (default), cpu, cuda, cuda:N or mps",
        shown=Shown("Device", "Where to train: auto picks a GPU (CUDA or Apple MPS) when there "
                    "is one, else the CPU."),
    )
    kl_warmup: float = 0.1
    grad_clip: float = 10.0
    patience: int = 20
    min_delta: float = 1e-3
    n_samples: int = 1
    cross_modal: float = option(
        0.25,
        "fraction of training trials encoded from one modality alone (neural-only or "
        "behavior-only, both still scored): trains cross-modal prediction (default: TrainConfig)",
        metavar="FRACTION",
    )
    #: the fraction of training trials whose encoders see one modality (neural or behavior,
    #: equally often) with a random quarter of its channels hidden, all still scored. An
    #: encoder that never saw a channel missing answers a held-out channel (co-smoothing, the
    #: sweep's score) with inputs it was not trained on: on the real S1 session behavior
    #: co-smoothing scored worse than behavior from the neural data alone and chose too few
    #: latents (benchmarks/RESULTS.md, "Real recordings"). Each such term is a valid ELBO.
    channel_masking: float = option(
        0.25,
        "fraction of training trials whose encoders see one modality with a random quarter of "
        "its channels hidden (all still scored): trains inference from the channels given, as "
        "co-smoothing asks (default {default})",
        metavar="FRACTION",
    )

    @staticmethod
    def saved_dict(d: dict[str, Any]) -> dict[str, Any]:
        """A saved project's training config, older files' missing keys filled from
        ``TRAIN_BEFORE_OPTION``."""
        return {**TRAIN_BEFORE_OPTION, **d}

    def __post_init__(self) -> None:
        _check(self.epochs >= 0, "epochs", "must be >= 0")
        _check(0 <= self.channel_masking < 1, "channel_masking", "is a fraction of trials, in [0, 1)")
        _check(self.lr > 0, "lr", "must be > 0")
        if self.batch_size is not None:
            _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(0 <= self.kl_warmup <= 1, "kl_warmup", "is a fraction of epochs, in [0, 1]")
        _check(self.grad_clip > 0, "grad_clip", "must be > 0")
        _check(self.patience >= 1, "patience", "must be >= 1")
        _check(self.n_samples >= 1, "n_samples", "must be >= 1")
        _check(
            0 <= self.cross_modal < 1,
            "cross_modal",
            "is the fraction of training trials encoded from one modality alone, in [0, 1)",
        )
        _check(
            self.device in ("auto", "cpu", "mps") or self.device.startswith("cuda"),
            "device",
            "must be auto, cpu, cuda, cuda:N or mps",
        )


@dataclass(frozen=True)
class DataConfig(_Config):
    """Where the data came from and how it was read (kept so a project can be re-derived)."""

    neural_path: str = ""
    behavior_path: str = ""
    neural_options: dict[str, Any] = field(default_factory=dict)
    behavior_options: dict[str, Any] = field(default_factory=dict)
