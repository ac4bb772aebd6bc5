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
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape
from mmgpvae_core.model.posterior import fourier_posterior


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
    the fitted sessions. No weight is fitted to the new trials here but this
    (channels + 1) × latents map; the shared encoder past the read-in then reads the new
    neurons as it reads the fitted sessions', and training goes on from there. Then the
    scale of the session's neural precisions (:func:`calibrate_precision`).

    ``references``: (module, neural, behavior) of fitted sessions, tensors (N, T, C) with
    NaN; ``neural``, ``behavior``: the new session's training trials."""
    latents = view.idx_neural
    refs = []
    for ref, yn, yb in references:
        u_k, seen = _layer_inputs(ref.enc_neural, yn)
        z_k = ref.posterior(yn, yb).time_mean()[..., latents]
        z_k = z_k.reshape(-1, len(latents)).double()[seen]
        refs.append((ref.enc_neural, u_k[seen], z_k))

    u, seen = _layer_inputs(view.enc_neural, neural)
    z_s = view.posterior(None, behavior).time_mean()[..., view.idx_shared]
    z_s = z_s.reshape(-1, len(view.idx_shared)).double()[seen]
    _set_read_in(view, refs, u[seen], z_s, ridge)
    trial = torch.arange(neural.shape[0], device=seen.device).repeat_interleave(neural.shape[1])
    calibrate_precision(view, refs, neural, behavior, u[seen], z_s, trial[seen], ridge)


def _set_read_in(view, refs, u: torch.Tensor, z_s: torch.Tensor, ridge: float) -> None:
    """:func:`carry_read_in`'s first layer of ``view`` from bins ``u`` (bins, n) of the new
    session's first-layer input and ``z_s`` (bins, shared latents) inferred from its behavior;
    ``refs``: (encoder, bins of its first-layer input, latents) of each fitted session."""
    shared, n_private = view.idx_shared, len(view.idx_private_neural)
    to_latents = _affine(u, z_s, ridge)
    if n_private:
        spread = torch.stack([z[:, len(shared):].std(0) for _, _, z in refs]).mean(0)
        to_latents = torch.cat([to_latents, _private_map(u, z_s, to_latents, n_private, spread)], 1)

    n, d = u.shape[1], len(view.idx_neural)
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


#: the scales of a new session's neural precisions :func:`calibrate_precision` chooses from:
#: 1, 1/2, …, 1/1024
PRECISION_SCALES = tuple(2.0 ** -k for k in range(11))

#: at most this many folds of trials :func:`calibrate_precision` leaves out in turn (each trial
#: its own fold up to this many trials)
CALIBRATION_FOLDS = 10


@torch.no_grad()
def calibrate_precision(view, refs, neural: torch.Tensor, behavior: torch.Tensor,
                        u: torch.Tensor, z_s: torch.Tensor, trial: torch.Tensor,
                        ridge: float = CARRY_RIDGE) -> None:
    """Set ``view.neural_precision``, the scale of the precisions the neural encoder gives a
    session added to a fitted model, by cross-validation over its training trials: each fold
    of trials left out in turn, the read-in carried from a map fitted to the other trials
    (:func:`_set_read_in`), the left-out trials' behavior predicted from their neurons alone
    under each scale of :data:`PRECISION_SCALES` (the held-out score's cross-modal term:
    :func:`_behavior_log_prob`); the scale of the best total. Why: the encoder past the
    read-in learned its precisions on the fitted sessions' neurons, read by their own
    read-ins; the new neurons reach it through a map fitted to a few trials, which reads
    trials it was not fitted to worse, and unscaled the neurons-only posterior was 3–4× too
    narrow on held-out trials (benchmarks/RESULTS.md, "Many sessions"). The read-in is left as
    :func:`carry_read_in` set it; with fewer than two trials the scale stays 1.

    ``neural``, ``behavior`` (N, T, C): the training trials; ``u``, ``z_s``: as for
    :func:`_set_read_in`; ``trial`` (bins,): the trial of each of their bins."""
    view.neural_precision.fill_(1.0)
    n_trials = neural.shape[0]
    if n_trials < 2 or not view.has_behavior:
        return
    first = view.enc_neural.net[0]
    carried = first.weight.clone(), first.bias.clone()
    log_s, keep = view.prior.log_variances(view.omega)
    total = torch.zeros(len(PRECISION_SCALES), dtype=torch.float64)
    fold = torch.arange(n_trials, device=trial.device) % min(n_trials, CALIBRATION_FOLDS)
    try:
        for f in range(int(fold.max()) + 1):
            _set_read_in(view, refs, u[fold[trial] != f], z_s[fold[trial] != f], ridge)
            rows = torch.nonzero(fold == f).flatten()
            y = neural[rows.to(neural.device)]
            mu, prec = view.pseudo_observations(y, None)  # the scale is 1 here
            for j, s in enumerate(PRECISION_SCALES):
                post = fourier_posterior(mu, s * prec, view.basis[: y.shape[1]], log_s, keep)
                total[j] += _behavior_log_prob(view, post, behavior[rows.to(behavior.device)])
    finally:
        first.weight.copy_(carried[0])
        first.bias.copy_(carried[1])
    view.neural_precision.fill_(PRECISION_SCALES[int(total.argmax())])


def _behavior_log_prob(view, post, y: torch.Tensor) -> float:
    """The predictive log density of behavior ``y`` (N, T, C) with NaN under posterior
    ``post``, summed: the held-out score's cross-modal term (``evaluation.heldout.predict``;
    MLP decoders: 20 samples, from a seeded stream of their own)."""
    dev = post.mean.device
    with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
        torch.manual_seed(0)
        mean, f_var = view.predictive("behavior", post, 20)
    y = y.to(mean.device)
    ok = ~torch.isnan(y)
    log_prob = view.lik_behavior.predictive_log_prob(torch.nan_to_num(y), mean, f_var)
    return float(log_prob[ok].double().sum())


def session_modules(model: nn.Module) -> list[MMGPVAEModule]:
    """The per-session modules of ``model`` (a single :class:`MMGPVAEModule` is one session)."""
    if isinstance(model, MultiSessionModule):
        return list(model.sessions)
    return [model]  # type: ignore[list-item]


def as_list(x) -> list:
    """``x`` as a per-session list (a tensor or None is one session's)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]
