"""The configurations of a sweep: latent splits (and length-scale inits, learning rates,
kernels)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from mmgpvae_core.config import SUBSPACES, subspace_kernels

#: a configuration's latent split: one dimension count per subspace
SPLIT_KEYS = SUBSPACES
HYPER_KEYS = ("length_scale_init", "lr", "kernel")


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
) -> list[dict[str, Any]]:
    """Every combination, as dicts with ``SPLIT_KEYS`` and ``HYPER_KEYS`` (None = default);
    the empty split (0, 0, 0) is skipped."""
    grid = []
    for s, a, b, ell, lr, kernel in itertools.product(
        shared, private_neural, private_behavior, length_scale_inits, lrs, kernels
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
                "kernel": kernel,
            }
        )
    return grid


def config_name(config: dict[str, Any]) -> str:
    name = f"s{config['shared']}_a{config['private_neural']}_b{config['private_behavior']}"
    if config.get("length_scale_init") is not None:
        name += f"_ell{config['length_scale_init']:g}"
    if config.get("lr") is not None:
        name += f"_lr{config['lr']:g}"
    if config.get("kernel") is not None:  # "shared=matern12,private_behavior=rbf": a file name
        name += "_" + config["kernel"].replace("=", "-").replace(",", "+")
    return name
