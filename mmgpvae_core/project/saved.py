"""A fitted :class:`~mmgpvae_core.api.MMGPVAE` to and from a ``.mmgp`` project.

``file.py`` knows the file (its groups, atomic writes); this module knows what of an
estimator goes in it: configuration, data, weights, optimizer state, history, the posterior and
reconstructions at save time (for readers without torch), how the fit ended and, for a
checkpoint, the fit in progress.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmgpvae_core.config import DataConfig, ModelConfig, TrainConfig
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.sessions import MultiSessionModule
from mmgpvae_core.optim import Adam
from mmgpvae_core.project.checkpoint import FitState
from mmgpvae_core.project.file import read_project, torch_bytes, torch_from_bytes, write_project
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
    that does not. Without ``inferred``, the inference runs while the file is written, batch
    by batch (:class:`_Inference`)."""
    model.require_fitted()
    first = model.for_session(0)
    outcome = outcome or model.outcome
    contents = _fit_contents(first, inferred if inferred is not None else _Inference(first))
    # One session of a multi-session model (``for_session``) shares the optimizer of every
    # session's parameters, which its own project could not continue: it saves none.
    alone = getattr(model, "session_name_", None) is not None
    contents.update(
        optimizer=None if alone else torch_bytes(model.optimizer_.state_dict()),
        history=model.history_.to_arrays(),
        outcome=dataclasses.asdict(outcome) if outcome else {},
        fit_state=fit_state.to_dict() if fit_state else None,
    )
    contents["config"]["train"] = model.train_config.to_dict()
    fixed = _transforms_json(getattr(model, "fixed_transforms_", None))
    if not model.is_multi_session and fixed:  # one session of a multi-session model, alone
        contents["config"]["display"] = {"fixed_transforms": fixed}
    if model.is_multi_session:
        contents["config"]["sessions"] = {
            "names": model.session_names,
            "adapted_from": getattr(model, "adapted_from_", None),
            "fixed_transforms": fixed,
        }
        sessions = {}
        for k, name in enumerate(model.session_names[1:], start=1):
            view = model.for_session(k)
            part = _fit_contents(view, _Inference(view))
            part["config"] = {"data": part["config"]["data"], "shape": part["config"]["shape"]}
            part["state"] = {
                key: v.detach().cpu().numpy() for key, v in view.module_.own_state().items()
            }
            sessions[name] = part
        contents["sessions"] = sessions
    write_project(path, contents)


def _transforms_json(fixed: dict | None) -> dict | None:
    """``fixed_transforms_`` (subspace → (d, d) array) as JSON lists, None when there are none."""
    return {k: np.asarray(v).tolist() for k, v in fixed.items()} if fixed else None


def _transforms_array(fixed: dict | None) -> dict | None:
    """:func:`_transforms_json`'s inverse."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in fixed.items()} if fixed else None


class _Inference:
    """One pass of inference of a session's training data (``MMGPVAE.iter_infer``, torch's
    random streams left as they were), written as it goes: ``write_project`` writes each
    batch's reconstruction (float32, for readers of the file) into its dataset, and then the
    posterior, gathered on the way (``posterior``). Only the posterior, (trials, time,
    latents), is held whole: saving an hour of 5,000 channels no longer holds a second copy
    of the data's size."""

    def __init__(self, model) -> None:
        self.model = model
        self.parts: dict[str, list[np.ndarray]] = {"mean": [], "var": []}

    def batches(self):
        from mmgpvae_core.training import rng_unchanged

        with rng_unchanged(self.model.torch_device):
            for rows, post, rec, n in self.model.iter_infer():
                for k, v in post.items():
                    self.parts[k].append(v)
                yield rows, n, rec
                del post, rec  # not held while the next batch is computed

    def posterior(self) -> dict[str, Any]:
        post = {k: np.concatenate(v) for k, v in self.parts.items()}
        self.parts = {"mean": [], "var": []}
        return _posterior_contents(self.model, post)


def _posterior_contents(model, post: dict[str, np.ndarray]) -> dict[str, Any]:
    """The posterior raw and in display coordinates, and the transforms between them."""
    posterior: dict[str, Any] = {"raw_mean": post["mean"], "raw_var": post["var"]}
    posterior.update(model.display_latents(post))
    posterior["transform"] = model.orthonormal_transforms()
    return posterior


def _fit_contents(model, inferred: tuple[dict, dict] | _Inference) -> dict[str, Any]:
    """What of one session goes in a project: config, data, weights, posterior (raw and in
    display coordinates) and reconstruction; from ``inferred`` (posterior, reconstruction),
    or an :class:`_Inference` to run while writing."""
    if isinstance(inferred, _Inference):
        posterior, reconstruction = inferred.posterior, inferred
    else:
        posterior, reconstruction = _posterior_contents(model, inferred[0]), inferred[1]
    return {
        "config": {
            "model": model.model_config.to_dict(),
            "train": model.train_config.to_dict(),
            "data": model.data_config.to_dict(),
            "shape": model.shape_.to_dict(),
        },
        "neural": model.neural,
        "behavior": model.behavior,
        "state": {k: v.detach().cpu().numpy() for k, v in model.module_.state_dict().items()},
        "posterior": posterior,
        "reconstruction": reconstruction,
    }


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
    params = None
    # a session saved alone keeps the display maps of the model it came from
    self.fixed_transforms_ = _transforms_array(cfg.get("display", {}).get("fixed_transforms"))
    if "sessions" in cfg:
        params = _load_sessions(self, model_config, cfg["sessions"], p["sessions"], path)
    self.optimizer_ = make_optimizer(self.multi_ if params is not None else self.module_,
                                     self.train_config, params=params or None)
    if p["optimizer"] is not None:
        _load_optimizer_state(self.optimizer_, torch_from_bytes(p["optimizer"]), path)
    self.history_ = TrainingHistory.from_arrays(p["history"])
    o = p["outcome"]
    self.outcome_ = (
        FitOutcome(str(o["status"]), int(o["epochs_run"]), str(o.get("message", ""))) if o else None
    )
    self.fit_state_ = FitState.from_dict(p["fit_state"]) if p["fit_state"] else None
    return self


def _load_optimizer_state(optimizer: Adam, state: dict, path) -> None:
    """The saved optimizer state onto ``optimizer``; a state for other parameters (a session
    added to a fitted model while its carried read-in weights were kept fixed, 6367cd4 up to
    14829e1: one parameter fewer per session than it trains now) leaves the optimizer fresh,
    with a warning: the weights and history are what matter, and Adam rebuilds its moments
    within a few steps of going on."""
    try:
        optimizer.load_state_dict(state)
    except ValueError as exc:
        warnings.warn(
            f"{path}: the saved optimizer state is for other trainable parameters ({exc}); "
            "going on with a fresh optimizer (the weights and history are as saved)",
            stacklevel=3,
        )


def _load_sessions(self, model_config: ModelConfig, info: dict, groups: dict, path) -> list:
    """The sessions of a multi-session project onto ``self`` (its first session's module
    loaded already). Returns the parameters its optimizer trains ([] for all of them)."""
    from mmgpvae_core.data import DataError

    names = list(info["names"])
    shapes, configs, data = [self.shape_], [self.data_config_], [(self.neural_, self.behavior_)]
    views = [self.module_]
    for name in names[1:]:
        if name not in groups:
            raise DataError(path, f"sessions/{name}", "missing; the config lists this session")
        g = groups[name]
        shape = ModelShape(**g["config"]["shape"])
        view = MMGPVAEModule(model_config, shape, shared_with=self.module_).to(self.torch_device)
        missing, unexpected = view.load_state_dict(
            {k: torch.as_tensor(v) for k, v in g["state"].items()}, strict=False
        )
        if unexpected or any(k in missing for k in view.own_state()):
            raise DataError(path, f"sessions/{name}/model", "does not match the session's shape")
        views.append(view)
        shapes.append(shape)
        configs.append(DataConfig.from_dict(g["config"].get("data", {})))
        data.append((g["neural"], g["behavior"]))
    self._set_sessions(MultiSessionModule(views), names, shapes, configs)
    self.session_data_ = data
    self.adapted_from_ = info.get("adapted_from")
    self.fixed_transforms_ = _transforms_array(info.get("fixed_transforms"))
    return self._trainable() or []
