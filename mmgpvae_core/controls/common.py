"""Small helpers both controls use."""

from __future__ import annotations

from typing import Any

from mmgpvae_core.config import SUBSPACES


def split_dict(split: Any) -> dict[str, int]:
    """A latent split, (shared, private neural, private behavior) or a dict, as a dict."""
    if isinstance(split, dict):
        return {k: int(split[k]) for k in SUBSPACES}
    return {k: int(v) for k, v in zip(SUBSPACES, split)}


def stopped(execution: dict[str, Any]) -> bool:
    """Whether the ``should_stop`` of ``run_jobs`` keywords says the run was cancelled."""
    should_stop = execution.get("should_stop")
    return bool(should_stop is not None and should_stop())


def number(text: str) -> float:
    """A CSV cell as a float; NaN for an empty or unreadable one."""
    try:
        return float(text)
    except ValueError:
        return float("nan")
