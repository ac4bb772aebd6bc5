"""Per-bin MLP encoders that emit Gaussian pseudo-observations of the latents.

Departure from the reference code: there, each encoder's time-domain output goes through a
learned ``Linear(T, M)`` to Fourier means and log-stds, which fixes T for the whole data set.
Here an encoder emits, per bin and latent, a pseudo-observation mean and precision; the posterior
is then the exact GP posterior under those pseudo-observations, computed in the Fourier domain
(``posterior.py``). Any trial length works (the basis is fixed, not learned), missing bins simply
carry zero precision, and either modality alone yields a posterior for the shared latents.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: values one block of ``fit_input_stats`` reads (4 MiB of float32)
BLOCK_VALUES = 1 << 20
#: values of the sample of bins the read-in's principal axes are computed from (64 MiB)
READ_IN_VALUES = 1 << 24


class Linear(nn.Linear):
    """``nn.Linear`` that does not initialise an empty weight. A latent group of size 0 (no
    shared, or no private, latents) gives layers with no inputs or no outputs, and torch warns
    "Initializing zero-element tensors is a no-op" for each one, on every fit of a sweep."""

    def reset_parameters(self) -> None:
        if self.weight.numel():
            super().reset_parameters()
        elif self.bias is not None and self.bias.numel():
            nn.init.uniform_(self.bias, -0.0, 0.0)  # as nn.Linear does with no inputs (same draws)


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [Linear(n_in, h), nn.ELU()]
        n_in = h
    layers.append(Linear(n_in, n_out))
    return nn.Sequential(*layers)


class PseudoObservationEncoder(nn.Module):
    """y (trials, time, channels) with NaN → mean, precision (trials, time, n_latents).

    Inputs are transformed (``log1p`` for counts), standardized with the training data's
    per-channel statistics and zero-filled where missing; the missing mask is a second input so the
    network knows a zero is a gap. A bin with every channel missing gets precision exactly 0.

    ``read_in`` = k > 0 (many channels, ``ModelConfig.read_in_above``): the first layer reads a
    fixed linear read-in instead of every channel, ``[x V, m V]`` (2k inputs) with ``x`` the
    standardized zero-filled data, ``m`` the missing mask (1 = missing) and ``V`` (channels, k)
    the top-k principal axes of the standardized training data (``fit_read_in``, a buffer,
    saved). lfads-torch reads many channels through a fixed PCA read-in the same way. The
    read-in of a session is computed once per fit (``read_in_features``) and each step's
    first layer is (batch, time, 2k) → hidden instead of (batch, time, 2·channels) → hidden:
    the per-bin cost no longer grows with the channels. ``m V`` is exactly 0 where nothing is
    missing, so with complete data the layer sees the same thing as before, restricted to the
    data's principal subspace.
    """

    def __init__(
        self,
        n_channels: int,
        n_latents: int,
        hidden: tuple[int, ...],
        log_transform: bool,
        read_in: int = 0,
    ) -> None:
        super().__init__()
        self.n_latents = n_latents
        self.log_transform = log_transform
        self.n_read_in = min(read_in, n_channels) if read_in > 0 else 0
        n_in = 2 * (self.n_read_in or n_channels)
        self.net = mlp(n_in, hidden, 2 * n_latents)
        self.register_buffer("in_loc", torch.zeros(n_channels))
        self.register_buffer("in_scale", torch.ones(n_channels))
        if self.n_read_in:
            self.register_buffer("read_in", torch.eye(n_channels, self.n_read_in))
        with torch.no_grad():
            last = self.net[-1]
            last.weight[n_latents:] *= 0.1
            last.bias[n_latents:] = 0.0

    def transform(self, y: torch.Tensor) -> torch.Tensor:
        return torch.log1p(y.clamp_min(0)) if self.log_transform else y

    @torch.no_grad()
    def fit_input_stats(self, y: torch.Tensor) -> None:
        """Set the standardization from training data (trials, time, channels) with NaN.

        Two passes over row blocks of about ``BLOCK_VALUES`` values (views of ``y``), so the
        transform and the masks are never the size of an hour-long session; the block sums
        are added in ``y``'s dtype (data that fit in one block: the whole-array numbers)."""
        flat = y.reshape(-1, y.shape[-1])
        blocks = flat.split(max(1, int(BLOCK_VALUES) // max(1, flat.shape[-1])))
        total = count = None
        for b in blocks:
            x = self.transform(b)
            obs = ~torch.isnan(x)
            part = torch.where(obs, x, torch.zeros_like(x)).sum(0)
            total = part if total is None else total + part
            count = obs.sum(0) if count is None else count + obs.sum(0)
        n = count.clamp_min(1)
        loc = total / n
        sq = None
        for b in blocks:
            x = self.transform(b)
            part = torch.where(~torch.isnan(x), (x - loc) ** 2, torch.zeros_like(x)).sum(0)
            sq = part if sq is None else sq + part
        var = sq / n
        self.in_loc.copy_(loc)
        self.in_scale.copy_(torch.sqrt(var).clamp_min(1e-3))
        if self.n_read_in:
            self.fit_read_in(y)

    def standardized(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, obs): ``y`` transformed, standardized and zero-filled where missing; the mask."""
        y = y.to(self.in_loc.device)  # a block of data kept in CPU memory (a CUDA fit)
        obs = ~torch.isnan(y)
        x = (self.transform(torch.nan_to_num(y)) - self.in_loc) / self.in_scale
        return torch.where(obs, x, torch.zeros_like(x)), obs

    @torch.no_grad()
    def fit_read_in(self, y: torch.Tensor, seed: int = 0) -> None:
        """``read_in``: the top-k principal axes (channels, k) of the standardized data, from
        a seeded random sample of at most ``READ_IN_VALUES`` values' worth of bins (a
        randomized range finder with two power iterations, its own generator: torch's global
        random stream is left alone). The axes' signs are fixed (largest entry positive)."""
        flat = y.reshape(-1, y.shape[-1])
        C, k = flat.shape[1], self.n_read_in
        gen = torch.Generator().manual_seed(seed)
        n_rows = min(flat.shape[0], max(4 * k, READ_IN_VALUES // C))
        rows = torch.randperm(flat.shape[0], generator=gen)[:n_rows].sort().values
        x = self._standardized_sample(flat[rows.to(flat.device)])
        q = torch.randn(C, min(C, k + 16), generator=gen, dtype=x.dtype).to(x.device)
        basis = torch.linalg.qr(x @ q).Q
        for _ in range(2):
            basis = torch.linalg.qr(x @ torch.linalg.qr(x.T @ basis).Q).Q
        _, _, vt = torch.linalg.svd(basis.T @ x, full_matrices=False)
        v = vt[:k].T  # (C, k)
        if v.shape[1] < k:  # fewer sampled bins than components: pad with zero axes
            v = torch.cat([v, v.new_zeros(C, k - v.shape[1])], dim=1)
        signs = torch.sign(v.gather(0, v.abs().argmax(0, keepdim=True)))
        self.read_in.copy_((v * torch.where(signs == 0, 1.0, signs)).to(self.read_in.dtype))

    def _standardized_sample(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`standardized` of a gathered copy, in place (one array of the sample's size)."""
        x = x.to(self.in_loc.device)
        return self._standardize_(x, torch.isnan(x))

    def _standardize_(self, x: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        """:meth:`standardized`'s numbers written over ``x`` (a copy of the data, not needing a
        gradient): transformed, standardized, zero where ``missing``."""
        if self.log_transform:
            x.clamp_min_(0).log1p_()
        return x.sub_(self.in_loc).div_(self.in_scale).masked_fill_(missing, 0.0)

    @torch.no_grad()
    def read_in_features(self, y: torch.Tensor) -> torch.Tensor:
        """(trials, time, 2k + 1): ``[x V, m V, observed channels]`` of ``y`` (trials, time,
        channels), computed over blocks of trials (the whole session: once per fit). The last
        column counts each bin's observed channels (a bin with none gets precision 0)."""
        step = max(1, int(BLOCK_VALUES) // max(1, y.shape[1] * y.shape[2]))
        k = self.n_read_in
        # Allocated first, filled block by block: small results kept between the blocks'
        # temporaries would fragment the heap (+2.7 GB resident over an hour of 5,000 ROIs).
        out = torch.empty((*y.shape[:2], 2 * k + 1), dtype=self.read_in.dtype,
                          device=self.read_in.device)
        for s in range(0, y.shape[0], step):
            out[s : s + step] = self._features(y[s : s + step])
        return out

    def _features(self, y: torch.Tensor) -> torch.Tensor:
        x, obs = self.standardized(y)
        v = self.read_in
        proj = x @ v
        count = obs.sum(-1, keepdim=True).to(proj.dtype)
        if bool(count.min() == y.shape[-1]):  # nothing missing: m V = 0
            return torch.cat([proj, torch.zeros_like(proj), count], dim=-1)
        return torch.cat([proj, (~obs).to(v.dtype) @ v, count], dim=-1)

    def _hide_in_features(self, y, features, hidden) -> torch.Tensor:
        """``features`` of trials ``y`` with the channels marked in ``hidden`` (N, C) seen as
        missing: their part of ``x V`` taken out, added to ``m V``, taken off the count. Only
        the trials with some, but not all, channels hidden are read; a trial with every
        channel hidden just gets a count of 0."""
        all_hidden = hidden.all(dim=1)
        some = torch.nonzero(hidden.any(dim=1) & ~all_hidden).flatten()
        k = self.n_read_in
        out = features.clone()
        if len(some):
            x, obs = self.standardized(y[some.to(y.device)])
            h = (obs & hidden[some].unsqueeze(1)).to(x.dtype)  # observed, now hidden
            v = self.read_in
            out[some, :, :k] -= (x * h) @ v
            out[some, :, k : 2 * k] += h @ v
            out[some, :, 2 * k] -= h.sum(-1)
        if bool(all_hidden.any()):
            out[:, :, 2 * k] = torch.where(all_hidden.unsqueeze(1), 0.0, out[:, :, 2 * k])
        return out

    def _inputs(self, y: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """``[x, obs]`` (…, 2C): ``y`` transformed, standardized, zero where not ``obs``
        (missing or hidden), and the mask. Written in place into the one array the first
        layer reads (a training step's batch of 500 channels held five such temporaries); out
        of place when ``y`` needs a gradient. The same numbers either way."""
        C = y.shape[-1]
        if y.requires_grad:
            x, _ = self.standardized(y)
            return torch.cat([torch.where(obs, x, 0.0), obs.to(x.dtype)], dim=-1)
        inputs = y.new_empty((*y.shape[:-1], 2 * C))
        self._standardize_(torch.nan_to_num(y, out=inputs[..., :C]), ~obs)
        inputs[..., C:] = obs
        return inputs

    def _net_complete(
        self, y: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:attr:`net` of data with no value missing, and (N, 1, 1) which trials any channel
        is seen in. The mask input of every bin is then its trial's channels not ``hidden``,
        the same in each bin, so the first layer reads the standardized data (…, C) and adds
        the mask half's product once per trial: half the first layer's input and work of
        ``net(_inputs(y, obs))``, the same numbers up to rounding."""
        C = y.shape[-1]
        seen = ~hidden if hidden is not None else y.new_ones(y.shape[0], C, dtype=torch.bool)
        x = self._standardize_(y.clone(), ~seen.unsqueeze(1))
        first = self.net[0]
        per_trial = seen.to(x.dtype) @ first.weight[:, C:].T + first.bias  # (N, hidden)
        h = F.linear(x, first.weight[:, :C]) + per_trial.unsqueeze(1)
        for layer in list(self.net)[1:]:
            h = layer(h)
        return h, seen.any(-1).view(-1, 1, 1)

    def forward(
        self,
        y: torch.Tensor,
        hidden: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden`` (N, C) bool, optional: channels seen as missing in each trial (channel
        masking; every channel: the trial's modality is hidden). ``features``, with a read-in:
        ``read_in_features(y)`` computed beforehand (a fit computes a session's once)."""
        if not self.n_read_in:
            obs = ~torch.isnan(y)
            if not y.requires_grad and bool(obs.all()):
                out, any_obs = self._net_complete(y, hidden)
            else:
                if hidden is not None:  # seen as missing: no copy of y with NaN written in
                    obs &= ~hidden.unsqueeze(1)
                out = self.net(self._inputs(y, obs))
                any_obs = obs.any(dim=-1, keepdim=True)
        else:
            if features is None:
                features = self.read_in_features(y)
            if hidden is not None and bool(hidden.any()):
                features = self._hide_in_features(y, features, hidden)
            k = self.n_read_in
            out = self.net(features[..., : 2 * k])
            any_obs = features[..., 2 * k :] > 0
        mean, raw_prec = out[..., : self.n_latents], out[..., self.n_latents :]
        prec = F.softplus(raw_prec + 0.5413)  # softplus(0.5413) = 1
        return mean, torch.where(any_obs, prec, torch.zeros_like(prec))
