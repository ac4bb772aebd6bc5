"""The configurations of a sweep: latent splits, and any model or training option (length-scale
inits, learning rates, kernels, decoders, pruning threshold, marginal variance, ...).

A configuration is a dict with the split (``SPLIT_KEYS``), the ``HYPER_KEYS`` (None: the
model's default) and any other option swept, by its config field name (``SWEEP_OPTIONS``)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

from mmgpvae_core.config import SUBSPACES, ConfigError, ModelConfig, TrainConfig, subspace_kernels

#: a configuration's latent split: one dimension count per subspace
SPLIT_KEYS = SUBSPACES
#: options every configuration names (a CSV column each, empty = the default), swept or not
HYPER_KEYS = ("length_scale_init", "lr", "kernel")
#: options a sweep does not try as a grid: each fit gets one value (the split is the grid itself;
#: one likelihood for every fold, so that held-out log-likelihoods compare; the sweep's own
#: ``--epochs``, ``--seed`` and ``--device``)
NOT_SWEPT = (
    *SPLIT_KEYS, "neural_likelihood", "behavior_likelihood", "epochs", "seed", "device",
)
#: every model and training option a sweep can try, by config field name (ModelConfig's then
#: TrainConfig's; ``make_grid(..., name=[values])``)
SWEEP_OPTIONS = tuple(
    f.name
    for cls in (ModelConfig, TrainConfig)
    for f in dataclasses.fields(cls)
    if f.name not in NOT_SWEPT
)
#: the options the command line sweeps: the fields that are command-line options (as for ``fit``)
CLI_SWEEP_OPTIONS = tuple(
    f.name
    for cls in (ModelConfig, TrainConfig)
    for f in dataclasses.fields(cls)
    if f.name not in NOT_SWEPT and "cli_default" in f.metadata
)
#: ``make_grid``'s older keywords for three options
_PLURAL = {"length_scale_inits": "length_scale_init", "lrs": "lr", "kernels": "kernel"}


def option_field(name: str) -> tuple[type, dataclasses.Field]:
    """(ModelConfig or TrainConfig, the field) of option ``name``; ValueError if neither has it."""
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if f.name == name:
                return cls, f
    raise ValueError(f"{name!r} is not a model or training option; expected one of {SWEEP_OPTIONS}")


def flag(name: str) -> str:
    """The command-line flag of an option, as ``fit`` names it (``--neural-decoder``)."""
    return option_field(name)[1].metadata.get("flag", "--" + name.replace("_", "-"))


def check_option(name: str, value: Any) -> Any:
    """``value`` as a setting of option ``name``, validated by its config (ConfigError naming
    the field when it is out of range: an unknown decoder, a negative learning rate)."""
    cls, _ = option_field(name)
    cls(**{name: value})  # __post_init__ checks it against the defaults of everything else
    return value


def parse_option(name: str, values: str | Sequence[str] | None) -> list[Any]:
    """The settings of option ``name`` a sweep tries, from its flag's values ("a,b"; the flag
    may be repeated): each converted to the field's type and checked by the config. None →
    [None] (the model's default). A bad value raises ValueError naming the flag."""
    if values is None or values == "" or values == []:
        return [None]
    if name == "kernel":  # a value with "=" is one per-subspace setting, not a list
        return parse_kernels([values] if isinstance(values, str) else list(values))
    _, f = option_field(name)
    texts = [values] if isinstance(values, str) else list(values)
    kind = str(f.type).replace(" | None", "")
    if kind not in ("int", "float", "str"):
        raise ValueError(f"{name}: a {kind} option is swept from Python (make_grid), not here")
    out: list[Any] = []
    for text in texts:
        for part in (p.strip() for p in str(text).split(",")):
            if not part:
                continue
            try:
                value: Any = {"int": int, "float": float}.get(kind, str)(part)
            except ValueError:
                raise ValueError(f"{flag(name)} {part}: expected {kind} values, a,b,...") from None
            try:
                check_option(name, value)
            except ConfigError as exc:
                raise ConfigError(f"{flag(name)} {part}: {exc}") from None
            out.append(value)
    if not out:
        raise ValueError(f"{flag(name)}: no values in {values!r}")
    return list(dict.fromkeys(out))


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


def parse_kernels(values: Sequence[str] | None) -> list[str | None]:
    """The kernel settings a sweep tries, from its ``--kernel`` values (the option may be
    repeated): "rbf,matern12" → two, one kernel for every latent each; a value with "=" is one
    per-subspace setting, written as for ``fit`` ("shared=matern12,private_behavior=rbf").
    None → [None] (the model's default). An unknown name raises ConfigError (a ValueError)."""
    if not values:
        return [None]
    out: list[str | None] = []
    for value in values:
        settings = [value] if "=" in value else [v.strip() for v in value.split(",") if v.strip()]
        for setting in settings:
            subspace_kernels(setting)
            out.append(setting.replace(" ", ""))
    return list(dict.fromkeys(out))


def make_grid(
    shared: Sequence[int],
    private_neural: Sequence[int],
    private_behavior: Sequence[int],
    length_scale_inits: Sequence[float | None] = (None,),
    lrs: Sequence[float | None] = (None,),
    kernels: Sequence[str | None] = (None,),
    **options: Sequence[Any],
) -> list[dict[str, Any]]:
    """Every combination, as dicts with ``SPLIT_KEYS``, ``HYPER_KEYS`` (None = default) and
    each option of ``options`` (``SWEEP_OPTIONS`` by name: ``neural_decoder=["linear", "mlp"]``;
    ``lr=[...]`` is ``lrs=[...]``); the empty split (0, 0, 0) is skipped. An option swept at
    [None] only is left out of the configurations."""
    axes: dict[str, Sequence[Any]] = {
        "length_scale_init": length_scale_inits, "lr": lrs, "kernel": kernels,
    }
    for name, values in options.items():
        name = _PLURAL.get(name, name)
        if name not in SWEEP_OPTIONS:
            raise ValueError(
                f"{name!r} is not an option a sweep tries; expected one of {SWEEP_OPTIONS}"
            )
        if not list(values):
            raise ValueError(f"{name}: no values to try")
        axes[name] = values
    extra = [n for n in axes if n not in HYPER_KEYS and list(axes[n]) != [None]]
    names = [*HYPER_KEYS, *extra]
    grid = []
    for s, a, b, *rest in itertools.product(
        shared, private_neural, private_behavior, *(axes[n] for n in names)
    ):
        if s + a + b == 0:
            continue
        config = {"shared": int(s), "private_neural": int(a), "private_behavior": int(b)}
        config.update(zip(names, rest))
        grid.append(config)
    return grid


#: the neural read-outs a sweep of spike counts tries where none is named: on the real S1 session
#: a linear read-out of the latents lost to a Poisson GLM on spikes from behavior and an MLP
#: read-out beat it (benchmarks/RESULTS.md, "Real recordings"); the sweep's held-out score tells
#: which a recording needs (linear where they tie: ``selection.mlp_decoders``)
COUNT_NEURAL_DECODERS = ("linear", "mlp")


def readout_options(
    neural_likelihood: str | None, neural_decoder: Any = None
) -> dict[str, list[str]]:
    """The read-outs a sweep adds to its grid, as ``make_grid`` options: both neural read-outs
    (``COUNT_NEURAL_DECODERS``) for spike counts (a counts likelihood, resolved: not "auto")
    when no neural decoder is named, else none ({}). The one rule the command line's sweep and
    the app's both follow."""
    from mmgpvae_core.model.likelihoods import likelihood_class

    if neural_decoder or neural_likelihood is None:
        return {}
    if not likelihood_class(neural_likelihood).counts:
        return {}
    return {"neural_decoder": list(COUNT_NEURAL_DECODERS)}


def with_readouts(
    configs: Sequence[dict[str, Any]], neural_likelihood: str | None
) -> list[dict[str, Any]]:
    """``configs`` with the read-outs of :func:`readout_options`: a configuration that names no
    neural decoder, once with each read-out a sweep of ``neural_likelihood`` data tries (in
    ``make_grid``'s order: the read-out varies fastest); the others as they are."""
    out: list[dict[str, Any]] = []
    for config in configs:
        options = readout_options(neural_likelihood, config.get("neural_decoder"))
        values = options.get("neural_decoder")
        out.extend([{**config, "neural_decoder": v} for v in values] if values else [config])
    return out


def swept(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """The options a configuration (or a sweep's row) sets, as (name, value): the kernel
    first, then the others in config field order; options left at the default (None) and
    the split are not among them."""
    order = ("kernel", *(n for n in SWEEP_OPTIONS if n != "kernel"))
    return [(n, config[n]) for n in order if config.get(n) is not None]


def format_value(value: Any) -> str:
    """An option's value as the command line writes it (0.001, 1e-05, mlp, 64,64)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def config_name(config: dict[str, Any]) -> str:
    """A name for the configuration that tells it from every other of its grid, usable as a
    file name (saved fits, ``--grow``'s book-keeping)."""
    name = f"s{config['shared']}_a{config['private_neural']}_b{config['private_behavior']}"
    if config.get("length_scale_init") is not None:
        name += f"_ell{config['length_scale_init']:g}"
    if config.get("lr") is not None:
        name += f"_lr{config['lr']:g}"
    if config.get("kernel") is not None:  # "shared=matern12,private_behavior=rbf": a file name
        name += "_" + config["kernel"].replace("=", "-").replace(",", "+")
    for key, value in swept(config):
        if key not in HYPER_KEYS:
            name += f"_{key}-" + format_value(value).replace(",", "+")
    return name
