"""Readers that turn lab files into :class:`mmgpvae_core.data.Dataset` trial tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmgpvae_core.data import Dataset, check_pair
from mmgpvae_core.loaders.generic import load_generic

__all__ = ["inspect_file", "load_dataset", "load_generic", "load_pair"]


def load_dataset(path: str | Path, **options: Any) -> Dataset:
    """Open any supported file as a Dataset (format chosen from the file)."""
    return load_generic(path, **options)


def load_pair(
    neural_path: str | Path,
    behavior_path: str | Path | None,
    *,
    trials: str | Path | None = None,
    bin_size_s: float | None = None,
    neural_rate_hz: float | None = None,
    behavior_rate_hz: float | None = None,
) -> tuple[Dataset, Dataset | None]:
    """Both modalities of one session as trial tensors on one time grid."""
    neural = load_dataset(neural_path)
    behavior = load_dataset(behavior_path) if behavior_path else None
    check_pair(neural, behavior)
    return neural, behavior


def inspect_file(path: str | Path, rate_hz: float | None = None) -> dict[str, Any]:
    """What a data file holds, as a JSON-able summary."""
    return load_dataset(path).summary()
