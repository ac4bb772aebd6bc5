"""The baselines a reviewer asks for, fitted with scikit-learn on lagged features.

Every method is given *segments*: stretches of consecutive bins, ``(bins, channels)`` arrays
(a trial; or a run of consecutive windows of a continuous session, joined end to end), so lags
reach across window edges exactly where the recording is continuous and never across a gap
between trials or between a training and a held-out block.

- :class:`Wiener` — ridge regression of each behavior channel on every neural channel over
  lags ``-L … L`` (``causal=True``: ``-L … 0``, the past and present only), alpha chosen by
  inner cross-validation (blocked over time).
- :class:`GLM` — each neuron from the behavior channels over the same lags plus the squares of
  the present bin's channels: a Poisson GLM (log link) per neuron for counts, ridge for
  calcium; the Poisson L2 penalty chosen per neuron on a blocked inner validation set, the
  ridge penalty by inner cross-validation.

- :class:`Bayes` — behavior from spike counts by Bayes' rule: the place-field decoder of
  hippocampal work, generalised to any behavior channels (counts only).

Inputs are z-scored with the training segments' statistics; a missing sample (NaN) in the
inputs becomes the training mean (0 after z-scoring), and output bins that are missing are
left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: ridge penalties tried by the inner cross-validation (on z-scored inputs)
RIDGE_ALPHAS = tuple(np.logspace(-1, 5, 13))
#: L2 penalties tried per neuron for the Poisson GLM (scikit-learn's ``alpha``)
POISSON_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1)
INNER_FOLDS = 3


def lagged(segments: list[np.ndarray], lags: range) -> np.ndarray:
    """(Σ bins, channels × len(lags)) features: row t of a segment holds ``x[t + lag]`` for
    each lag (0 beyond the segment's ends), concatenated over segments."""
    rows = []
    for x in segments:
        n, c = x.shape
        out = np.zeros((n, c * len(lags)))
        for j, lag in enumerate(lags):
            lo, hi = max(0, -lag), min(n, n - lag)
            if hi > lo:
                out[lo:hi, j * c : (j + 1) * c] = x[lo + lag : hi + lag]
        rows.append(out)
    return np.concatenate(rows)


@dataclass
class Scaler:
    """Per-channel z-scoring fitted on training segments; NaN becomes 0 (the training mean)."""

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    std: np.ndarray = field(default_factory=lambda: np.ones(0))

    def fit(self, segments: list[np.ndarray]) -> Scaler:
        x = np.concatenate(segments)
        self.mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def __call__(self, segments: list[np.ndarray]) -> list[np.ndarray]:
        return [np.nan_to_num((x - self.mean) / self.std) for x in segments]


def segment_ids(segments: list[np.ndarray]) -> np.ndarray:
    """(Σ bins,) index of the segment each row comes from."""
    return np.concatenate([np.full(len(x), i) for i, x in enumerate(segments)])


def inner_folds(groups: np.ndarray, k: int = INNER_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Blocked inner folds over rows in time order: ``k`` contiguous blocks of rows, cut at
    segment boundaries where there are enough segments (so a trial is never split), else
    anywhere (one long run of windows)."""
    n = len(groups)
    ids = np.unique(groups)
    if len(ids) >= k:
        edges = np.linspace(0, len(ids), k + 1)[1:-1]
        block_of = np.searchsorted(edges, np.searchsorted(ids, groups), side="right")
    else:
        block_of = np.minimum((np.arange(n) * k) // max(n, 1), k - 1)
    return [(np.flatnonzero(block_of != b), np.flatnonzero(block_of == b)) for b in range(k)]


def ridge_alpha(X: np.ndarray, Y: np.ndarray, folds, alphas=RIDGE_ALPHAS) -> float:
    """The ridge penalty of ``alphas`` with the least held-out squared error summed over
    ``folds`` and outputs. One eigendecomposition of each fold's Gram matrix serves every
    alpha (scikit-learn's RidgeCV refits per alpha and fold: 13× the work here)."""
    sse = np.zeros(len(alphas))
    for tr, va in folds:
        xm, ym = X[tr].mean(0), Y[tr].mean(0)
        Xc, Yc = X[tr] - xm, Y[tr] - ym
        evals, evecs = np.linalg.eigh(Xc.T @ Xc)
        proj = evecs.T @ (Xc.T @ Yc)  # (p, outputs)
        Xv = (X[va] - xm) @ evecs
        for i, a in enumerate(alphas):
            pred = Xv @ (proj / (evals + a)[:, None]) + ym
            sse[i] += float(((Y[va] - pred) ** 2).sum())
    return float(alphas[int(np.argmin(sse))])


class Wiener:
    """Behavior from neural activity: ridge over lags, alpha by inner blocked CV."""

    def __init__(self, lags: int, causal: bool = False) -> None:
        self.lags = range(-lags, 1) if causal else range(-lags, lags + 1)
        self.scaler = Scaler()

    def fit(self, neural: list[np.ndarray], behavior: list[np.ndarray]) -> Wiener:
        from sklearn.linear_model import Ridge

        X = lagged(self.scaler.fit(neural)(neural), self.lags)
        Y = np.concatenate(behavior)
        ok = ~np.isnan(Y).any(1)
        X, Y = X[ok], Y[ok]
        self.alpha = ridge_alpha(X, Y, inner_folds(segment_ids(neural)[ok]))
        self.n_out = Y.shape[1]
        self.model = Ridge(alpha=self.alpha).fit(X, Y)
        return self

    def predict(self, neural: list[np.ndarray]) -> list[np.ndarray]:
        """Per segment, (bins, behavior channels)."""
        pred = self.model.predict(lagged(self.scaler(neural), self.lags)).reshape(-1, self.n_out)
        return np.split(pred, np.cumsum([len(x) for x in neural])[:-1])


class GLM:
    """Neural activity from behavior: per neuron a Poisson GLM (``counts``) or ridge."""

    def __init__(self, lags: int, counts: bool) -> None:
        self.lags = range(-lags, lags + 1)
        self.counts = counts
        self.scaler = Scaler()

    def features(self, behavior: list[np.ndarray]) -> np.ndarray:
        z = self.scaler(behavior)
        return np.hstack([lagged(z, self.lags), np.concatenate(z) ** 2])

    def fit(self, behavior: list[np.ndarray], neural: list[np.ndarray]) -> GLM:
        from sklearn.linear_model import Ridge

        self.scaler.fit(behavior)
        X = self.features(behavior)
        Y = np.concatenate(neural)
        if not self.counts:  # Gaussian: ridge, one penalty by inner CV (bins missing in any neuron left out)
            ok = ~np.isnan(Y).any(1)
            alpha = ridge_alpha(X[ok], Y[ok], inner_folds(segment_ids(behavior)[ok]))
            ridge = Ridge(alpha=alpha).fit(X[ok], Y[ok])
            self.predict_rows = lambda Z: ridge.predict(Z).reshape(len(Z), -1)
            return self
        theta = poisson_fit_cv(X, Y, segment_ids(behavior))
        self.predict_rows = lambda Z: np.exp(np.clip(Z @ theta[:-1] + theta[-1], -30, 30))
        return self

    def predict(self, behavior: list[np.ndarray]) -> list[np.ndarray]:
        """Per segment, (bins, neurons): rates (counts) or the predicted signal."""
        pred = self.predict_rows(self.features(behavior))
        return np.split(pred, np.cumsum([len(x) for x in behavior])[:-1])


def poisson_glm(
    X: np.ndarray,
    Y: np.ndarray,
    alpha: np.ndarray | float,
    init: np.ndarray | None = None,
    iters: int = 50,
) -> np.ndarray:
    """Poisson GLMs with a log link, one per column of ``Y`` (NaN = missing), fitted together by
    Newton's method: each minimises scikit-learn's ``PoissonRegressor`` objective, mean(μ − y
    log μ) + α/2 ‖w‖² (intercept unpenalised). Returns (features + 1, outputs): the weights,
    then the intercepts. ``init``: a start (a fit at another penalty or on more data).
    Batched, because 50 neurons × a grid of penalties took minutes one ``PoissonRegressor``
    at a time; a warm start converges in two or three steps."""
    n, p = X.shape
    k = Y.shape[1]
    ok = ~np.isnan(Y)
    y = np.where(ok, Y, 0.0)
    m = ok.sum(0).clip(min=1)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (k,))
    Xb = np.hstack([X, np.ones((n, 1))])
    if init is None:
        theta = np.zeros((p + 1, k))
        theta[-1] = np.log(np.clip(y.sum(0) / m, 1e-8, None))
    else:
        theta = init.copy()
    pen = np.ones(p + 1)
    pen[-1] = 0.0

    def loss(cols, th):  # (len(cols),) objective of those outputs at weights th
        eta = np.clip(Xb @ th, -30, 30)
        o, yy = ok[:, cols], y[:, cols]
        return (np.where(o, np.exp(eta) - yy * eta, 0.0).sum(0) / m[cols]
                + 0.5 * alpha[cols] * (pen[:, None] * th**2).sum(0))

    active = np.ones(k, bool)  # outputs still moving (a silent neuron may never settle)
    for _ in range(iters):
        cols = np.flatnonzero(active)
        th = theta[:, cols]
        mu = np.where(ok[:, cols], np.exp(np.clip(Xb @ th, -30, 30)), 0.0)
        grad = Xb.T @ (mu - y[:, cols]) / m[cols] + alpha[cols] * pen[:, None] * th
        step = np.empty_like(th)
        for i, j in enumerate(cols):
            H = (Xb * mu[:, i : i + 1]).T @ Xb / m[j] + np.diag(alpha[j] * pen + 1e-10)
            step[:, i] = np.linalg.solve(H, grad[:, i])
        # Newton decrement: the predicted fall of the loss; converged outputs stop here
        decrement = (grad * step).sum(0)
        active[cols[decrement < 1e-10]] = False
        now = loss(cols, th)
        t = np.ones(len(cols))
        for _half in range(30):  # backtracking line search, per output
            worse = loss(cols, th - t * step) > now + 1e-12
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        theta[:, cols] = th - t * step
        if not active.any():
            break
    return theta


def poisson_fit_cv(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, alphas=POISSON_ALPHAS) -> np.ndarray:
    """Poisson GLMs (as :func:`poisson_glm`) with each output's penalty chosen from ``alphas``
    by its log-likelihood on a blocked inner validation set (the last third of the training
    rows, cut at a segment boundary where there are several). Fits run from the strongest
    penalty to the weakest, each starting from the last."""
    tr, va = inner_folds(groups)[-1]
    Xb_va = np.hstack([X[va], np.ones((len(va), 1))])
    yv = Y[va]
    okv = ~np.isnan(yv)
    best = np.full(Y.shape[1], -np.inf)
    chosen = np.full(Y.shape[1], alphas[-1], dtype=float)
    theta = None
    for a in sorted(alphas, reverse=True):
        theta = poisson_glm(X[tr], Y[tr], a, init=theta)
        eta = np.clip(Xb_va @ theta, -30, 30)
        ll = np.where(okv, np.nan_to_num(yv) * eta - np.exp(eta), 0.0).sum(0)
        better = ll > best
        best, chosen = np.where(better, ll, best), np.where(better, a, chosen)
    return poisson_glm(X, Y, chosen, init=theta)


def window_sums(segments: list[np.ndarray], half: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the sum of ``x`` over bins ``t - half … t + half`` of its own segment (NaN as
    0), and how many bins that window holds: ((Σ bins, channels), (Σ bins,))."""
    sums, lengths = [], []
    for x in segments:
        n = len(x)
        c = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(np.nan_to_num(x), axis=0)])
        lo, hi = np.clip(np.arange(n) - half, 0, n), np.clip(np.arange(n) + half + 1, 0, n)
        sums.append(c[hi] - c[lo])
        lengths.append((hi - lo).astype(float))
    return np.concatenate(sums), np.concatenate(lengths)


class Bayes:
    """Behavior from spike counts by Bayes' rule, as the place-field decoder (Zhang et al. 1998)
    for any behavior channels.

    The z-scored training behavior is summarised by ``states`` k-means centres; a neuron's rate
    at a centre (counts per bin) is its counts averaged over the training bins with a Gaussian
    weight of their distance to the centre (bandwidth chosen from ``BANDWIDTHS`` by decoding a
    blocked inner validation block); the prior is the centres' weighted occupancy. A held-out
    bin's counts summed over ±h bins (h ≤ L, chosen with the bandwidth) give each centre a
    Poisson likelihood; the prediction is the posterior mean of the centres. No dynamics: each
    bin is decoded on its own."""

    BANDWIDTHS = (0.25, 0.5, 1.0)  # in standard deviations of the z-scored behavior

    def __init__(self, lags: int, states: int = 200, seed: int = 0) -> None:
        self.lags = lags
        self.states = states
        self.seed = seed
        self.scaler = Scaler()

    def fit(self, neural: list[np.ndarray], behavior: list[np.ndarray]) -> Bayes:
        from sklearn.cluster import KMeans

        z = np.concatenate(self.scaler.fit(behavior)(behavior))
        ok = ~np.isnan(np.concatenate(behavior)).any(1)
        y = np.nan_to_num(np.concatenate(neural))
        k = int(min(self.states, max(2, ok.sum() // 20)))
        km = KMeans(n_clusters=k, n_init=1, random_state=self.seed).fit(z[ok])
        self.centres = km.cluster_centers_
        tr, va = inner_folds(segment_ids(neural))[-1]
        tr, va = tr[ok[tr]], va[ok[va]]
        windows = {  # the validation bins' window counts, for each half-width tried
            half: tuple(a[va] for a in window_sums(neural, half))
            for half in sorted({min(1, self.lags), min(2, self.lags), self.lags})
        }
        errors = {}
        for h in self.BANDWIDTHS:
            self._tune(z[tr], y[tr], h)
            for half, (counts, lengths) in windows.items():
                errors[(h, half)] = ((self._decode(counts, lengths) - z[va]) ** 2).sum()
        self.bandwidth, self.half = min(errors, key=errors.get)
        self._tune(z[ok], y[ok], self.bandwidth)
        return self

    def _tune(self, z: np.ndarray, y: np.ndarray, h: float) -> None:
        """Rates (states, neurons) and log prior (states,) from behavior ``z`` and counts ``y``."""
        d2 = ((self.centres[:, None, :] - z[None, :, :]) ** 2).sum(-1)
        w = np.exp(-0.5 * (d2 - d2.min(1, keepdims=True)) / h**2)  # (states, bins), row max 1
        mass = w.sum(1)
        floor = y.mean(0) + 1e-3  # a state with little weight leans to the neuron's mean rate
        self.rates = (w @ y + floor) / (mass + 1.0)[:, None]
        occupancy = np.exp(-0.5 * d2.min(1) / h**2) * mass
        self.log_prior = np.log(occupancy / occupancy.sum() + 1e-12)

    def _decode(self, counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Posterior-mean behavior (rows, channels), z-scored, of window counts."""
        ll = counts @ np.log(self.rates).T - lengths[:, None] * self.rates.sum(1)[None, :]
        ll += self.log_prior[None, :]
        post = np.exp(ll - ll.max(1, keepdims=True))
        return (post / post.sum(1, keepdims=True)) @ self.centres

    def predict(self, neural: list[np.ndarray]) -> list[np.ndarray]:
        """Per segment, (bins, behavior channels) in the behavior's own units."""
        pred = self._decode(*window_sums(neural, self.half)) * self.scaler.std + self.scaler.mean
        return np.split(pred, np.cumsum([len(x) for x in neural])[:-1])
