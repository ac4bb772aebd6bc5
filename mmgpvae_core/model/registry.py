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


def add(table: dict[str, Any], cls: Any, what: str) -> Any:
    """Put ``cls`` in ``table`` under ``cls.name``; a name taken already (a plugin's typo, or
    the same class imported twice under two names) is a ValueError, never a silent
    overwrite. Returns ``cls`` (for class decorators)."""
    if cls.name in table:
        raise ValueError(
            f"{cls.__name__}: {what} name {cls.name!r} is taken by {table[cls.name].__name__}"
        )
    table[cls.name] = cls
    return cls
