"""The look-up that the model's registries of classes by name share (kernels, likelihoods)."""

from __future__ import annotations

from typing import Any


def lookup(table: dict[str, Any], name: str, what: str, hint: str = "") -> Any:
    """``table[name]``; an unknown name is a ValueError that lists the names registered."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"unknown {what} {name!r}{hint}; expected one of {sorted(table)}"
        ) from None
