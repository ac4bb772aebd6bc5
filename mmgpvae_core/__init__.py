"""MM-GPVAE core: model, data, training and I/O. Pure Python/torch/numpy; never imports Qt."""

from __future__ import annotations

from mmgpvae_core.config import DataConfig, ModelConfig, TrainConfig
from mmgpvae_core.data import DataError, Dataset
from mmgpvae_core.version import __version__

__all__ = [
    "DataConfig", "DataError", "Dataset", "ModelConfig", "TrainConfig", "MMGPVAE", "__version__",
]


def __getattr__(name: str):
    # The facade imports torch; keep `import mmgpvae_core` light for loaders and the CLI's --help.
    if name == "MMGPVAE":
        from mmgpvae_core.api import MMGPVAE

        return MMGPVAE
    raise AttributeError(name)
