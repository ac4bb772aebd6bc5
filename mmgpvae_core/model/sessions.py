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

import torch
from torch import nn

from mmgpvae_core.config import ModelConfig
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape, is_session_own


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

    def adapted_parameters(self) -> list[nn.Parameter]:
        """What sessions added to a fitted model learn: their own parameters but the read-in
        weights carried over (:data:`CARRIED`)."""
        return [
            p for view in self.sessions for name, p in view.named_parameters()
            if is_session_own(name) and not name.startswith(CARRIED)
        ]


#: what a session added to a fitted model keeps of its own as :func:`carry_read_in` set it:
#: its read-in weights (2·channels × hidden). Learned from a few trials they fit those trials
#: and read held-out ones badly (behavior from the neurons of 10 held-out trials: R² 0.35
#: where it was 0.70 on the training trials), and a read-in that starts at random can switch
#: its shared latents off (precision 0) under the fitted behavior encoder and not come back
#: (benchmarks/RESULTS.md, "Many sessions"). Its bias, read-out and likelihood are learned.
CARRIED = ("enc_neural.net.0.weight",)

#: data values of each session that :func:`carry_read_in` reads (its first trials): 32 MiB
CARRY_VALUES = 1 << 23


def carry_rows(n_time: int, n_channels: int) -> slice:
    """The trials of a session :func:`carry_read_in` reads: about ``CARRY_VALUES`` values."""
    return slice(0, max(1, CARRY_VALUES // max(1, n_time * n_channels)))


#: ridge of the map from a new session's activity to its latents (a fraction of the squared
#: standardized activity per channel: 1 %)
CARRY_RIDGE = 1e-2


def _layer_inputs(enc, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(bins, n) the data part of ``enc``'s first-layer input for ``y`` (N, T, C) — the
    standardized activity, or its read-in projections — and (bins,) which bins see a
    channel."""
    if enc.n_read_in:
        f = enc.read_in_features(y)
        k = enc.n_read_in
        u, seen = f[..., :k], f[..., 2 * k] > 0
    else:
        u, obs = enc.standardized(y)
        seen = obs.any(-1)
    return u.reshape(-1, u.shape[-1]).double(), seen.reshape(-1)


def _affine(x: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """Least squares ``y ≈ [x, 1] @ coef``, coef (d + 1, k), with ``ridge × bins`` added to
    the diagonal of x's part (not the intercept)."""
    x1 = torch.cat([x, x.new_ones(len(x), 1)], 1)
    reg = torch.full((x1.shape[1],), ridge * len(x), dtype=x.dtype, device=x.device)
    reg[-1] = 0.0
    return torch.linalg.solve(x1.T @ x1 + torch.diag(reg), x1.T @ y)


def _private_map(u: torch.Tensor, z_s: torch.Tensor, to_shared: torch.Tensor, n: int,
                 spread: torch.Tensor) -> torch.Tensor:
    """(channels + 1, n) affine map of the activity to ``n`` private neural latents: the top
    principal axes of what the shared latents read from it do not explain, each scaled to the
    fitted sessions' ``spread`` of their private latents."""
    ones = u.new_ones(len(u), 1)
    explained = torch.cat([torch.cat([u, ones], 1) @ to_shared, ones], 1) @ _affine(z_s, u, 0.0)
    resid = u - explained
    resid = resid - resid.mean(0)
    axes = torch.linalg.svd(resid, full_matrices=False)[2][:n].T
    z = resid @ axes
    z = z / z.std(0).clamp_min(1e-12) * spread[: z.shape[1]]
    if z.shape[1] < n:  # fewer channels than private latents
        z = torch.cat([z, z.new_zeros(len(z), n - z.shape[1])], 1)
    return _affine(u, z, 0.0)


@torch.no_grad()
def carry_read_in(view, references, neural: torch.Tensor, behavior: torch.Tensor,
                  ridge: float = CARRY_RIDGE) -> None:
    """Set the read-in (the first layer of the neural encoder) of ``view``, a session added to
    a fitted model, from the fitted sessions' own: the new activity is mapped linearly to the
    neural-side latents — the shared ones by ridge regression on those inferred from the
    behavior alone, the private ones along the principal axes of what the shared ones leave
    — and from the latents to the activity each fitted session would show (its own linear
    fit of activity on its posterior latents), read by that session's read-in; averaged over
    the fitted sessions. No weight is learned from the few new trials but this
    (channels + 1) × latents map; the shared encoder past the read-in then reads the new
    neurons as it reads the fitted sessions'.

    ``references``: (module, neural, behavior) of fitted sessions, tensors (N, T, C) with
    NaN; ``neural``, ``behavior``: the new session's training trials."""
    shared, n_private = view.idx_shared, len(view.idx_private_neural)
    latents = view.idx_neural
    refs = []
    for ref, yn, yb in references:
        u_k, seen = _layer_inputs(ref.enc_neural, yn)
        z_k = ref.posterior(yn, yb).time_mean()[..., latents]
        z_k = z_k.reshape(-1, len(latents)).double()[seen]
        refs.append((ref.enc_neural, u_k[seen], z_k))
    spread = torch.stack([z[:, len(shared):].std(0) for _, _, z in refs]).mean(0)

    u, seen = _layer_inputs(view.enc_neural, neural)
    z_s = view.posterior(None, behavior).time_mean()[..., shared]
    z_s = z_s.reshape(-1, len(shared)).double()[seen]
    u = u[seen]
    to_latents = _affine(u, z_s, ridge)
    if n_private:
        to_latents = torch.cat([to_latents, _private_map(u, z_s, to_latents, n_private, spread)], 1)

    n, d = u.shape[1], len(latents)
    weight, bias, constant = 0.0, 0.0, 0.0
    for enc, u_k, z_k in refs:
        to_activity = _affine(z_k, u_k, 1e-6)  # (d + 1, n_k)
        first, n_k = enc.net[0], u_k.shape[1]
        w_x = first.weight[:, :n_k].double()
        weight = weight + w_x @ (to_latents[:n] @ to_activity[:d]).T
        bias = bias + first.bias.double() + w_x @ (to_latents[n] @ to_activity[:d] + to_activity[d])
        if not enc.n_read_in:  # its mask inputs: 1 for each channel seen
            constant = constant + first.weight[:, n_k:].double().sum(1)
    k = len(refs)
    first = view.enc_neural.net[0]
    first.weight[:, :n] = (weight / k).to(first.weight.dtype)
    mask = constant / k
    if view.enc_neural.n_read_in:  # its mask inputs are 0 while every channel is seen
        first.weight[:, n:] = 0.0
        first.bias.copy_(bias / k + mask)
    else:
        first.weight[:, n:] = (torch.as_tensor(mask) / n).reshape(-1, 1).to(first.weight.dtype)
        first.bias.copy_(bias / k)


def session_modules(model: nn.Module) -> list[MMGPVAEModule]:
    """The per-session modules of ``model`` (a single :class:`MMGPVAEModule` is one session)."""
    if isinstance(model, MultiSessionModule):
        return list(model.sessions)
    return [model]  # type: ignore[list-item]


def as_list(x) -> list:
    """``x`` as a per-session list (a tensor or None is one session's)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]
