"""Several sessions in one latent space: one module per session, sharing all but their own
neural read-in and read-out.

Labs record the same task over days and animals: each session has its own neurons (a different
number, different cells) and the same behavior variables. :class:`MultiSessionModule` holds one
:class:`~mmgpvae_core.model.module.MMGPVAEModule` per session; the first owns the shared parts
(GP prior, behavior encoder, decoder and likelihood, the neural encoder past its first layer)
and the others use the same tensors (``shared_with``), each with its own
:data:`~mmgpvae_core.model.module.SESSION_OWN`. So the shared latents of every session are read
by one behavior decoder and have one prior: one coordinate system (lfads-torch's read-in and
read-out matrices around one generator; CEBRA's per-session encoders).
"""

from __future__ import annotations

from torch import nn

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape


class MultiSessionModule(nn.Module):
    """``sessions[k]``: session k's module (a full :class:`MMGPVAEModule`, its shared parts
    those of ``sessions[0]``). ``parameters()`` lists each shared tensor once."""

    def __init__(self, views: list[MMGPVAEModule]) -> None:
        super().__init__()
        if not views:
            raise ValueError("a multi-session model needs at least one session")
        self.sessions = nn.ModuleList(views)

    @classmethod
    def build(cls, cfg: ModelConfig, shapes: list[ModelShape]) -> MultiSessionModule:
        """New sessions of the given shapes, the first owning the shared parts."""
        first = MMGPVAEModule(cfg, shapes[0])
        return cls([first] + [MMGPVAEModule(cfg, s, shared_with=first) for s in shapes[1:]])

    @property
    def prior(self):
        return self.sessions[0].prior

    def add_session(self, cfg: ModelConfig, shape: ModelShape) -> MMGPVAEModule:
        """A new session sharing this model's shared parts (built on their device)."""
        device = next(self.sessions[0].parameters()).device
        view = MMGPVAEModule(cfg, shape, shared_with=self.sessions[0]).to(device)
        self.sessions.append(view)
        return view

    def own_parameters(self, first: int = 0) -> list[nn.Parameter]:
        """Each session's own parameters, from session ``first`` on."""
        return [p for view in list(self.sessions)[first:] for p in view.own_parameters()]


def session_modules(model: nn.Module) -> list[MMGPVAEModule]:
    """The per-session modules of ``model`` (a single :class:`MMGPVAEModule` is one session)."""
    if isinstance(model, MultiSessionModule):
        return list(model.sessions)
    return [model]  # type: ignore[list-item]


def as_list(x) -> list:
    """``x`` as a per-session list (a tensor or None is one session's)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]
