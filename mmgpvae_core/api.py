"""A scikit-learn-style facade: ``MMGPVAE(shared=2, ...).fit(neural, behavior).transform(...)``.

Arrays in, arrays out: ``neural`` and ``behavior`` are ``(trials, time, channels)`` arrays (NaN =
missing) or :class:`Dataset` objects. The CLI and the app are thin layers over this class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmgpvae_core.checkpoint import FitState
from mmgpvae_core.config import DataConfig, ModelConfig, TrainConfig
from mmgpvae_core.data import Dataset, check_for_likelihood, check_pair
from mmgpvae_core.model.fourier import circular_length
from mmgpvae_core.model.likelihoods import LikelihoodChoice, likelihood_class, resolve_likelihood
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.prior import length_scale_from_data
from mmgpvae_core.project import read_project, torch_bytes, torch_from_bytes, write_project
from mmgpvae_core.training import (
    EpochReport,
    FitOutcome,
    TrainingHistory,
    fit,
    make_optimizer,
    resolve_device,
)

SUBSPACES = ("shared", "private_neural", "private_behavior")
_MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def _rng_unchanged(device: torch.device):
    """A context in which torch's random draws (MLP decoders' sampled reconstructions) leave the
    global generator of the CPU, and of ``device``, as they found it."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    return torch.random.fork_rng(devices=[device], device_type=device.type)


def _as_dataset(x: Any, name: str) -> Dataset | None:
    if x is None or isinstance(x, Dataset):
        return x
    return Dataset(data=np.asarray(x, dtype=float), source=f"<{name} array>")


class MMGPVAE:
    """Multi-modal GP-VAE with shared and private latents.

    Keyword arguments are the fields of :class:`ModelConfig` (latent split, likelihoods,
    decoders, kernel hyperparameters) and :class:`TrainConfig` (epochs, lr, seed, device, ...).
    """

    def __init__(
        self, shared: int = 2, private_neural: int = 1, private_behavior: int = 1, **kwargs: Any
    ) -> None:
        unknown = set(kwargs) - _MODEL_FIELDS - _TRAIN_FIELDS
        if unknown:
            raise TypeError(f"unknown argument(s): {sorted(unknown)}")
        self.model_config = ModelConfig(
            shared=shared,
            private_neural=private_neural,
            private_behavior=private_behavior,
            **{k: v for k, v in kwargs.items() if k in _MODEL_FIELDS},
        )
        self.train_config = TrainConfig(**{k: v for k, v in kwargs.items() if k in _TRAIN_FIELDS})
        self.data_config = DataConfig()
        self.module: MMGPVAEModule | None = None
        self.shape: ModelShape | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.history = TrainingHistory()
        self.outcome: FitOutcome | None = None
        self.fit_state: FitState | None = None  # loaded from a checkpoint: the fit in progress
        self.neural: Dataset | None = None
        self.behavior: Dataset | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        return resolve_device(self.train_config.device)

    def _tensor(self, ds: Dataset | None) -> torch.Tensor | None:
        if ds is None:
            return None
        return torch.as_tensor(ds.data, dtype=torch.float32, device=self.device)

    def _build(self, neural: Dataset, behavior: Dataset | None) -> None:
        cfg = self.model_config
        if behavior is None and cfg.private_behavior > 0:
            cfg = self.model_config = cfg.replace(private_behavior=0)
        arrays = [neural.data] + ([behavior.data] if behavior is not None else [])
        names = [cfg.neural_likelihood, cfg.behavior_likelihood][: len(arrays)]
        logs = [likelihood_class(name).counts for name in names]
        ell0 = cfg.length_scale_init or length_scale_from_data(arrays, logs)
        min_ell = cfg.min_length_scale or max(1.0, ell0 / 2.0)
        min_ell = min(min_ell, ell0)
        self.shape = ModelShape(
            n_neural=neural.n_channels,
            n_behavior=0 if behavior is None else behavior.n_channels,
            n_time=neural.n_time,
            t_circ=circular_length(neural.n_time, ell0, cfg.padding),
            length_scale_init=float(ell0),
            min_length_scale=float(min_ell),
        )
        torch.manual_seed(self.train_config.seed)
        self.module = MMGPVAEModule(cfg, self.shape).to(self.device)
        self.module.init_from_data(self._tensor(neural), self._tensor(behavior))
        self.optimizer = make_optimizer(self.module, self.train_config)
        self.history = TrainingHistory()

    def resolve_likelihoods(
        self, neural: Any, behavior: Any = None
    ) -> dict[str, LikelihoodChoice]:
        """Replace an ``"auto"`` likelihood in ``model_config`` by the one chosen for the data
        (``likelihoods.choose_likelihood``: calcium and other non-integer signals → gaussian,
        non-negative integer counts → poisson, only 0/1 → bernoulli); ``fit`` does this first.
        Returns each given modality's likelihood and why ("auto: …" or "set")."""
        cfg = self.model_config
        out = {}
        for modality, data in (("neural", neural), ("behavior", behavior)):
            if data is None:
                continue
            out[modality] = resolve_likelihood(
                getattr(cfg, f"{modality}_likelihood"), _as_dataset(data, modality), modality
            )
        changes = {
            f"{m}_likelihood": c.name
            for m, c in out.items()
            if getattr(cfg, f"{m}_likelihood") != c.name
        }
        if changes:
            self.model_config = cfg.replace(**changes)
        return out

    def _check(self, neural: Dataset, behavior: Dataset | None) -> None:
        check_for_likelihood(neural, self.model_config.neural_likelihood)
        if behavior is not None:
            check_for_likelihood(behavior, self.model_config.behavior_likelihood)
        check_pair(neural, behavior)

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        neural: Any,
        behavior: Any = None,
        *,
        epochs: int | None = None,
        on_epoch: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        warmup: tuple[int, int] | None = None,
    ) -> MMGPVAE:
        """Train on ``neural`` (and ``behavior``). Calling ``fit`` again continues training.
        ``warmup``: continue the KL warm-up of an interrupted fit (``FitState.warmup``)."""
        neural_ds = _as_dataset(neural, "neural")
        behavior_ds = _as_dataset(behavior, "behavior")
        assert neural_ds is not None
        if self.module is None:
            self.resolve_likelihoods(neural_ds, behavior_ds)
        self._check(neural_ds, behavior_ds)
        if self.module is None:
            self._build(neural_ds, behavior_ds)
        elif neural_ds.n_time != self.shape.n_time:  # type: ignore[union-attr]
            raise ValueError("continue training on data with the same number of time bins")
        self.neural, self.behavior = neural_ds, behavior_ds
        cfg = self.train_config if epochs is None else self.train_config.replace(epochs=epochs)
        self.outcome = fit(
            self.module,  # type: ignore[arg-type]
            self._tensor(neural_ds),  # type: ignore[arg-type]
            self._tensor(behavior_ds),
            cfg,
            optimizer=self.optimizer,
            history=self.history,
            on_epoch=on_epoch,
            should_stop=should_stop,
            warmup=warmup,
        )
        self.fit_state = None
        return self

    def _require_fitted(self) -> MMGPVAEModule:
        if self.module is None:
            raise RuntimeError("the model is not fitted yet: call fit() first")
        return self.module

    @torch.no_grad()
    def posterior(self, neural: Any = None, behavior: Any = None) -> dict[str, np.ndarray]:
        """Posterior in the model's own latent coordinates: ``mean``, ``var`` (N, T, D).
        Either modality may be None (cross-modal inference)."""
        m = self._require_fitted()
        m.eval()
        nd, bd = _as_dataset(neural, "neural"), _as_dataset(behavior, "behavior")
        post = m.posterior(self._tensor(nd), self._tensor(bd))
        return {
            "mean": post.time_mean().cpu().numpy().astype(np.float64),
            "var": post.time_var().cpu().numpy().astype(np.float64),
        }

    def subspace_indices(self) -> dict[str, list[int]]:
        m = self._require_fitted()
        return {
            "shared": m.idx_shared,
            "private_neural": m.idx_private_neural,
            "private_behavior": m.idx_private_behavior,
        }

    @torch.no_grad()
    def orthonormal_transforms(self) -> dict[str, np.ndarray]:
        """Per subspace, a (d, d) map raw → display coordinates: SVD of the subspace's loadings
        (mixing and linear decoder weights, as GPFA does), ordered by variance explained."""
        m = self._require_fitted()
        loadings = []
        for dec, idx in [(m.dec_neural, m.idx_neural)] + (
            [(m.dec_behavior, m.idx_behavior)] if m.has_behavior else []
        ):
            W = dec.affine()[0] if dec.is_linear else dec.mixing.weight
            loadings.append((W.cpu().numpy().astype(np.float64), idx))
        out = {}
        for name, sub in self.subspace_indices().items():
            blocks = [W[:, [idx.index(i) for i in sub]] for W, idx in loadings if set(sub) <= set(idx)]
            if not sub:
                out[name] = np.zeros((0, 0))
                continue
            L = np.vstack([b / (np.linalg.norm(b) + 1e-12) for b in blocks])
            _, s, vt = np.linalg.svd(L, full_matrices=False)
            signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
            out[name] = (s[:, None] * vt) * signs[:, None]
        return out

    def transform(
        self, neural: Any = None, behavior: Any = None, *, orthonormalize: bool = True
    ) -> dict[str, np.ndarray]:
        """Posterior-mean latents per subspace, (trials, time, dim) each, in display coordinates
        (orthonormalized) unless ``orthonormalize=False``. Defaults to the training data."""
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        mean = self.posterior(neural, behavior)["mean"]
        T = self.orthonormal_transforms() if orthonormalize else None
        out = {}
        for name, idx in self.subspace_indices().items():
            z = mean[..., idx]
            out[name] = z @ T[name].T if T is not None and idx else z
        return out

    def latent_posterior(self, neural: Any = None, behavior: Any = None) -> dict[str, dict]:
        """Per subspace: ``mean`` and ``var`` (trials, time, dim) in display coordinates
        (variances of the rotated coordinates' marginals, ignoring their small correlations)."""
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        return self._display(self.posterior(neural, behavior))

    def _display(self, post: dict[str, np.ndarray]) -> dict[str, dict]:
        T = self.orthonormal_transforms()
        out = {}
        for name, idx in self.subspace_indices().items():
            mean, var = post["mean"][..., idx], post["var"][..., idx]
            if idx:
                mean, var = mean @ T[name].T, var @ (T[name] ** 2).T
            out[name] = {"mean": mean, "var": var}
        return out

    @torch.no_grad()
    def reconstruct(self, neural: Any = None, behavior: Any = None) -> dict[str, np.ndarray]:
        """Posterior-predictive means (trials, time, channels) of each modality."""
        m = self._require_fitted()
        m.eval()
        if neural is None and behavior is None:
            neural, behavior = self.neural, self.behavior
        nd, bd = _as_dataset(neural, "neural"), _as_dataset(behavior, "behavior")
        post = m.posterior(self._tensor(nd), self._tensor(bd))
        return {k: v.cpu().numpy().astype(np.float64) for k, v in m.reconstruct(post).items()}

    @property
    def length_scales(self) -> np.ndarray:
        """(D,) learned length-scales in bins."""
        return self._require_fitted().prior.length_scale.detach().cpu().numpy()

    # ------------------------------------------------------------------ persistence
    def save(
        self,
        path: str | Path,
        *,
        outcome: FitOutcome | None = None,
        fit_state: FitState | None = None,
    ) -> None:
        """Write a complete ``.mmgp`` project (atomically). A checkpoint of a fit in progress
        (``checkpoint.Checkpointer``) passes its ``outcome`` (status "running") and
        ``fit_state``. Saving leaves torch's random streams as they were, so a fit that saves
        checkpoints trains exactly as one that does not."""
        m = self._require_fitted()
        with _rng_unchanged(self.device):
            post = self.posterior(self.neural, self.behavior)
            reconstruction = self.reconstruct(self.neural, self.behavior)
        posterior: dict[str, Any] = {"raw_mean": post["mean"], "raw_var": post["var"]}
        posterior.update(self._display(post))
        posterior["transform"] = self.orthonormal_transforms()
        outcome = outcome or self.outcome
        write_project(
            path,
            {
                "config": {
                    "model": self.model_config.to_dict(),
                    "train": self.train_config.to_dict(),
                    "data": self.data_config.to_dict(),
                    "shape": self.shape.to_dict(),  # type: ignore[union-attr]
                },
                "neural": self.neural,
                "behavior": self.behavior,
                "state": {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()},
                "optimizer": torch_bytes(self.optimizer.state_dict()) if self.optimizer else None,
                "history": self.history.to_arrays(),
                "posterior": posterior,
                "reconstruction": reconstruction,
                "outcome": dataclasses.asdict(outcome) if outcome else {},
                "fit_state": fit_state.to_dict() if fit_state else None,
            },
        )

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> MMGPVAE:
        """Reopen a project: config, data, weights, optimizer state and history."""
        p = read_project(path)
        cfg = p["config"]
        train = TrainConfig.from_dict(cfg["train"])
        if device is not None:
            train = train.replace(device=device)
        self = cls.__new__(cls)
        self.model_config = ModelConfig.from_dict(cfg["model"])
        self.train_config = train
        self.data_config = DataConfig.from_dict(cfg.get("data", {}))
        self.shape = ModelShape(**cfg["shape"])
        self.neural, self.behavior = p["neural"], p["behavior"]
        self.module = MMGPVAEModule(self.model_config, self.shape).to(self.device)
        state = {k: torch.as_tensor(v) for k, v in p["state"].items()}
        self.module.load_state_dict(state)
        self.optimizer = make_optimizer(self.module, self.train_config)
        if p["optimizer"] is not None:
            self.optimizer.load_state_dict(torch_from_bytes(p["optimizer"]))
        self.history = TrainingHistory.from_arrays(p["history"])
        o = p["outcome"]
        self.outcome = (
            FitOutcome(str(o["status"]), int(o["epochs_run"]), str(o.get("message", "")))
            if o
            else None
        )
        self.fit_state = FitState.from_dict(p["fit_state"]) if p["fit_state"] else None
        return self

    def __repr__(self) -> str:
        c = self.model_config
        state = "fitted" if self.module is not None else "not fitted"
        return (
            f"MMGPVAE(shared={c.shared}, private_neural={c.private_neural}, "
            f"private_behavior={c.private_behavior}; {state}, {len(self.history)} epochs)"
        )
