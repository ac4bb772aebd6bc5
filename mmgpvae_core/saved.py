"""A fitted :class:`~mmgpvae_core.api.MMGPVAE` to and from a ``.mmgp`` project.

``project.py`` knows the file (its groups, atomic writes); this module knows what of an
estimator goes in it: configuration, data, weights, optimizer state, history, the posterior and
reconstructions at save time (for readers without torch), how the fit ended and, for a
checkpoint, the fit in progress.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmgpvae_core.checkpoint import FitState
from mmgpvae_core.config import DataConfig, ModelConfig, TrainConfig
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.project import read_project, torch_bytes, torch_from_bytes, write_project
from mmgpvae_core.training import FitOutcome, TrainingHistory, make_optimizer


def save_model(
    model,
    path: str | Path,
    *,
    outcome: FitOutcome | None = None,
    fit_state: FitState | None = None,
    inferred: tuple[dict, dict] | None = None,
) -> None:
    """Write ``model`` (fitted) as a complete ``.mmgp`` project, atomically. A checkpoint of a
    fit in progress (``checkpoint.Checkpointer``) passes its ``outcome`` (status "running") and
    ``fit_state``. ``inferred``: ``model.infer(dtype=np.float32)`` of the model as it is now,
    where the caller has it already (a long session's inference costs seconds). Saving leaves
    torch's random streams as they were, so a fit that saves checkpoints trains exactly as one
    that does not."""
    from mmgpvae_core.api import rng_unchanged

    m = model.require_fitted()
    if inferred is None:
        with rng_unchanged(model.torch_device):
            # One pass of inference; the reconstruction (for readers of the file) in float32.
            inferred = model.infer(dtype=np.float32)
    post, reconstruction = inferred
    posterior: dict[str, Any] = {"raw_mean": post["mean"], "raw_var": post["var"]}
    posterior.update(model.display_latents(post))
    posterior["transform"] = model.orthonormal_transforms()
    outcome = outcome or model.outcome
    write_project(
        path,
        {
            "config": {
                "model": model.model_config.to_dict(),
                "train": model.train_config.to_dict(),
                "data": model.data_config.to_dict(),
                "shape": model.shape_.to_dict(),
            },
            "neural": model.neural,
            "behavior": model.behavior,
            "state": {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()},
            "optimizer": torch_bytes(model.optimizer_.state_dict()),
            "history": model.history_.to_arrays(),
            "posterior": posterior,
            "reconstruction": reconstruction,
            "outcome": dataclasses.asdict(outcome) if outcome else {},
            "fit_state": fit_state.to_dict() if fit_state else None,
        },
    )


def load_model(cls, path: str | Path, device: str | None = None):
    """Reopen a project as a fitted ``cls`` (an MMGPVAE): its parameters from the saved
    configuration (``device`` overrides the saved one), weights, optimizer state, history."""
    p = read_project(path, posterior=False, reconstruction=False)  # the weights give them
    cfg = p["config"]
    model_config = ModelConfig.from_dict(cfg["model"])
    train = TrainConfig.from_dict(cfg["train"])
    if device is not None:
        train = train.replace(device=device)
    self = cls(
        **{f.name: getattr(model_config, f.name) for f in dataclasses.fields(ModelConfig)},
        **{f.name: getattr(train, f.name) for f in dataclasses.fields(TrainConfig)},
    )
    self.model_config_ = model_config
    self.data_config_ = DataConfig.from_dict(cfg.get("data", {}))
    self.shape_ = ModelShape(**cfg["shape"])
    self.neural_, self.behavior_ = p["neural"], p["behavior"]
    self.module_ = MMGPVAEModule(model_config, self.shape_).to(self.torch_device)
    self.module_.load_state_dict({k: torch.as_tensor(v) for k, v in p["state"].items()})
    self.optimizer_ = make_optimizer(self.module_, self.train_config)
    if p["optimizer"] is not None:
        self.optimizer_.load_state_dict(torch_from_bytes(p["optimizer"]))
    self.history_ = TrainingHistory.from_arrays(p["history"])
    o = p["outcome"]
    self.outcome_ = (
        FitOutcome(str(o["status"]), int(o["epochs_run"]), str(o.get("message", ""))) if o else None
    )
    self.fit_state_ = FitState.from_dict(p["fit_state"]) if p["fit_state"] else None
    return self
