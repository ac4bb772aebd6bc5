"""Ground-truth data with known shared and private latents, for demos, tests and benchmarks.

Neural: Poisson spike counts whose log rates are linear in ``[z_S, z_A]``. Behavior: a pose-like
modality (x, y of keypoints), a fixed random tanh network of ``[z_S, z_B]`` plus Gaussian noise.
Shared latents carry a condition-specific mean trajectory, so conditions are visible in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmgpvae_core.data import Dataset
from mmgpvae_core.model.kernels import make_kernel


@dataclass
class Simulation:
    neural: Dataset
    behavior: Dataset
    truth: dict[str, np.ndarray]


def gp_samples(
    rng: np.random.Generator, n: int, T: int, ell: float, kernel: str = "rbf"
) -> np.ndarray:
    """(n, T) draws of a unit-variance GP with length-scale ``ell`` bins and a registered
    ``kernel`` ("matern12": Ornstein–Uhlenbeck paths)."""
    K = make_kernel(kernel).covariance(T, ell) + 1e-6 * np.eye(T)
    L = np.linalg.cholesky(K)
    return rng.standard_normal((n, T)) @ L.T


def _latents(
    rng: np.random.Generator,
    ells: np.ndarray,
    T: int,
    conditions: np.ndarray,
    n_conditions: int,
    cond_mean: bool = False,
    kernel: str = "rbf",
) -> np.ndarray:
    """(trials, T, len(ells)) GP latents: a trial per entry of ``conditions``, a dimension per
    length-scale (bins), drawn in order. With ``cond_mean`` each also carries a condition mean
    (a sinusoid of random phase for each of the ``n_conditions``; 0.6 × GP + 0.8 × mean), drawn
    after its GP samples. ``kernel``: the GP's (``gp_samples``)."""
    n_trials = len(conditions)
    t = np.arange(T) / T
    z = np.zeros((n_trials, T, len(ells)))
    for j, ell in enumerate(ells):
        z[:, :, j] = gp_samples(rng, n_trials, T, ell, kernel)
        if cond_mean:
            phases = rng.uniform(0, 2 * np.pi, n_conditions)
            freq = rng.uniform(0.7, 1.3)
            means = np.stack([np.sin(2 * np.pi * freq * t + p) for p in phases])
            z[:, :, j] = 0.6 * z[:, :, j] + 0.8 * means[conditions]
    return z


def neural_dataset(
    counts: np.ndarray, conditions: np.ndarray, bin_size_s: float, source: str
) -> Dataset:
    """A simulated spike-count Dataset, channels ``neuron0``, ``neuron1``, …"""
    return Dataset(
        data=counts,
        conditions=conditions,
        channel_names=[f"neuron{i}" for i in range(counts.shape[2])],
        bin_size_s=bin_size_s,
        source=source,
    )


def pose_dataset(pose: np.ndarray, conditions: np.ndarray, bin_size_s: float, source: str) -> Dataset:
    """A simulated pose Dataset: x, y of each keypoint (``kp0_x``, ``kp0_y``, …)."""
    kp = [f"kp{i}_{ax}" for i in range(pose.shape[2] // 2) for ax in ("x", "y")]
    return Dataset(
        data=pose, conditions=conditions, channel_names=kp, bin_size_s=bin_size_s, source=source
    )


def balanced_conditions(rng: np.random.Generator, n_trials: int, n_conditions: int) -> np.ndarray:
    """(n_trials,) condition indices 0 … ``n_conditions`` − 1, balanced, in a random order."""
    conditions = np.arange(n_trials) % n_conditions
    rng.shuffle(conditions)
    return conditions


def _standard_latents(
    rng: np.random.Generator,
    conditions: np.ndarray,
    T: int,
    n_conditions: int,
    sizes: tuple[int, int, int],
    kernel: str = "rbf",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_S, z_A, z_B of the standard simulation, ``sizes`` (shared, private neural, private
    behavior) dimensions of length-scales uniform in 10–16, 8–12 and 10–14 bins; the shared
    ones carry condition means (``_latents``)."""
    shared, private_neural, private_behavior = sizes
    z_s = _latents(rng, rng.uniform(10, 16, shared), T, conditions, n_conditions, True, kernel)
    z_a = _latents(rng, rng.uniform(8, 12, private_neural), T, conditions, n_conditions, False, kernel)
    z_b = _latents(rng, rng.uniform(10, 14, private_behavior), T, conditions, n_conditions, False, kernel)
    return z_s, z_a, z_b


def _simulation(
    label: str,
    conditions: np.ndarray,
    bin_size_s: float,
    latents: tuple[np.ndarray, np.ndarray, np.ndarray],
    observed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    **extra: np.ndarray,
) -> Simulation:
    """The Simulation of ``observed`` (counts, rates, pose, pose_clean) drawn from ``latents``
    (z_S, z_A, z_B), its trials named "cond0", "cond1", … by their ``conditions`` (indices), its
    datasets' sources "<``label`` neural>" and "<``label`` behavior>"; ``extra``: more of ``truth``."""
    z_s, z_a, z_b = latents
    counts, rates, pose, pose_clean = observed
    cond_names = np.array([f"cond{c}" for c in conditions])
    truth = {
        "shared": z_s,
        "private_neural": z_a,
        "private_behavior": z_b,
        "conditions": cond_names,
        "rates": rates,
        "pose_clean": pose_clean,
        **extra,
    }
    neural = neural_dataset(counts, cond_names, bin_size_s, f"<{label} neural>")
    behavior = pose_dataset(pose, cond_names, bin_size_s, f"<{label} behavior>")
    return Simulation(neural, behavior, truth)


def simulate(
    n_trials: int = 100,
    n_time: int = 80,
    shared: int = 2,
    private_neural: int = 1,
    private_behavior: int = 1,
    n_neurons: int = 60,
    n_keypoints: int = 8,
    n_conditions: int = 3,
    bin_size_s: float = 0.02,
    behavior_noise: float = 0.05,
    private_behavior_weight: float = 1.0,
    seed: int = 1,
    kernel: str = "rbf",
) -> Simulation:
    """Simulate one session. Latents are in bins; length-scales 8–16 bins (0.16–0.32 s).
    ``kernel``: every latent's GP kernel (a registered name; "matern12" draws
    Ornstein–Uhlenbeck latents, rough with abrupt changes; the same random stream otherwise).

    ``private_behavior_weight`` scales the private behavior latents where they enter the pose
    network (the shared ones enter with weight 1). With the default 1.0 the private latent carries
    about half the behavior variance, and behavior predicted from the TRUE shared latents reaches
    only R² ≈ 0.45–0.6 on held-out trials (it depends on the seed). With 0.5 the shared,
    task-driven latents dominate behavior, as in many real recordings (that ceiling ≈ 0.83–0.88);
    the cross-modal benchmark uses it. (It is not the default: it makes PCA of both modalities
    recover the shared latents almost as well as the model, R² 0.90, which defeats the recovery
    test's comparison with PCA.)
    """
    rng = np.random.default_rng(seed)
    conditions = balanced_conditions(rng, n_trials, n_conditions)
    sizes = (shared, private_neural, private_behavior)
    z = _standard_latents(rng, conditions, n_time, n_conditions, sizes, kernel)
    observed = _observe(rng, *z, n_neurons, n_keypoints, behavior_noise, private_behavior_weight)
    return _simulation("simulated", conditions, bin_size_s, z, observed)


def _observe(
    rng: np.random.Generator,
    z_s: np.ndarray,
    z_a: np.ndarray,
    z_b: np.ndarray,
    n_neurons: int,
    n_keypoints: int,
    behavior_noise: float,
    private_behavior_weight: float,
    mean_rate: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observations of latents (trials, time, dims): Poisson counts with log rate
    C [z_S; z_A] + d, and keypoints from a fixed random tanh network of [z_S; z_B] plus noise.
    ``mean_rate``: scale the rates so that their mean is this many spikes per bin (the same
    random draws, only d shifted). Returns counts, rates, pose, pose_clean."""
    counts, rates = _spikes(rng, np.concatenate([z_s, z_a], axis=2), n_neurons, mean_rate)
    pose_of = _pose_network(rng, z_s.shape[2] + z_b.shape[2], n_keypoints)
    zb_full = np.concatenate([z_s, private_behavior_weight * z_b], axis=2)
    pose, pose_clean = pose_of(zb_full, behavior_noise)
    return counts, rates, pose, pose_clean


def _spikes(
    rng: np.random.Generator, z: np.ndarray, n_neurons: int, mean_rate: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts and their rates (trials, time, ``n_neurons``), log rate C z + d for latents
    ``z`` (trials, time, dims), random loadings C and offsets d (15–60 Hz at 20 ms bins), rates
    scaled to a mean of ``mean_rate`` spikes per bin if given."""
    C = rng.normal(0, 1, (n_neurons, z.shape[2]))
    C *= 0.7 / np.sqrt(z.shape[2])
    d = np.log(rng.uniform(0.3, 1.2, n_neurons))  # 15–60 Hz at 20 ms bins
    rates = np.exp(z @ C.T + d)
    if mean_rate is not None:
        rates *= mean_rate / rates.mean()
    return rng.poisson(rates).astype(float), rates


def _pose_network(rng: np.random.Generator, n_latents: int, n_keypoints: int):
    """A fixed random tanh network (12 hidden units) from ``n_latents`` latents to x, y of
    ``n_keypoints`` keypoints. Returns ``pose_of(z, noise)``: (pose, pose_clean) for latents ``z``
    (trials, time, n_latents), pose being pose_clean plus Gaussian noise of sd ``noise``."""
    n_hidden = 12
    W1 = rng.normal(0, 0.8, (n_hidden, n_latents))
    b1 = rng.normal(0, 0.3, n_hidden)
    W2 = rng.normal(0, 1.0 / np.sqrt(n_hidden), (2 * n_keypoints, n_hidden))

    def pose_of(z: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
        pose_clean = np.tanh(z @ W1.T + b1) @ W2.T
        return pose_clean + rng.normal(0, noise, pose_clean.shape), pose_clean

    return pose_of


def simulate_hard(
    n_trials: int = 90,
    n_time: int = 80,
    shared: int = 2,
    private_neural: int = 1,
    private_behavior: int = 1,
    n_neurons: int = 50,
    n_keypoints: int = 6,
    mean_rate: float = 0.3,
    min_length: float = 0.6,
    occlusion: float = 0.15,
    length_scales: tuple[float, float] = (3.0, 20.0),
    n_conditions: int = 3,
    bin_size_s: float = 0.02,
    behavior_noise: float = 0.05,
    seed: int = 1,
) -> Simulation:
    """Harder data with known latents, as real sessions are: the standard benchmark's model
    (``simulate``) with

    - sparse firing: ``mean_rate`` spikes per bin on average (0.3: 15 Hz at 20 ms bins);
    - trials of unequal length: trial i has ``L_i`` bins, uniform in [``min_length`` × T, T],
      NaN-padded to ``n_time`` in both modalities (and in ``truth``);
    - occluded pose: blocks of 5–20 bins in which one keypoint (x and y) is missing, about
      ``occlusion`` of each keypoint's observed bins;
    - length-scales from ``length_scales[0]`` to ``length_scales[1]`` bins: geometrically spaced
      over the latent dimensions, which are dealt them in a random order (``truth["length_scales"]``,
      in the latent order shared, private neural, private behavior).

    Shared latents carry condition means as in ``simulate``."""
    rng = np.random.default_rng(seed)
    T = n_time
    D = shared + private_neural + private_behavior
    conditions = balanced_conditions(rng, n_trials, n_conditions)
    ells = rng.permutation(np.geomspace(length_scales[0], length_scales[1], D))

    z_s = _latents(rng, ells[:shared], T, conditions, n_conditions, True)
    z_a = _latents(rng, ells[shared : shared + private_neural], T, conditions, n_conditions)
    z_b = _latents(rng, ells[shared + private_neural :], T, conditions, n_conditions)
    counts, rates, pose, pose_clean = _observe(
        rng, z_s, z_a, z_b, n_neurons, n_keypoints, behavior_noise, 1.0, mean_rate=mean_rate
    )
    lengths = rng.integers(int(round(min_length * T)), T + 1, n_trials)
    pad = np.arange(T)[None, :] >= lengths[:, None]  # (trials, time)
    occluded = np.zeros((n_trials, T, n_keypoints), dtype=bool)
    blocks_per = occlusion * T / 12.5  # mean block length 12.5 bins
    for i in range(n_trials):
        for k in range(n_keypoints):
            for _ in range(rng.poisson(blocks_per)):
                start, length = rng.integers(0, lengths[i]), rng.integers(5, 21)
                occluded[i, start : start + length, k] = True
    pose[np.repeat(occluded, 2, axis=2)] = np.nan
    for x in (counts, rates, pose, pose_clean, z_s, z_a, z_b):
        x[pad] = np.nan
    observed = (counts, rates, pose, pose_clean)
    return _simulation(
        "simulated hard", conditions, bin_size_s, (z_s, z_a, z_b), observed,
        lengths=lengths, length_scales=ells,
    )


def long_gp_samples(rng: np.random.Generator, n: int, T: int, ell: float) -> np.ndarray:
    """(n, T) draws of a stationary RBF GP of length-scale ``ell`` bins over any length, by
    spectral synthesis on a grid twice as long (no wrap-around), scaled to unit variance."""
    L = 1 << int(np.ceil(np.log2(2 * T + 4 * ell)))
    f = np.fft.rfftfreq(L)
    amp = np.exp(-((np.pi * ell * f) ** 2))  # sqrt of the RBF spectral density, up to a constant
    coef = (rng.standard_normal((n, f.size)) + 1j * rng.standard_normal((n, f.size))) * amp
    z = np.fft.irfft(coef, n=L, axis=1)[:, :T]
    return z / np.sqrt((4 * (amp**2).sum() - 3 * amp[0] ** 2) / L**2)


def simulate_session(
    n_bins: int = 2000,
    window_bins: int = 50,
    shared: int = 2,
    private_neural: int = 1,
    private_behavior: int = 1,
    n_neurons: int = 40,
    n_keypoints: int = 6,
    bin_size_s: float = 0.02,
    behavior_noise: float = 0.05,
    length_scales: tuple[float, float] = (8.0, 14.0),
    seed: int = 1,
) -> Simulation:
    """One continuous session (no trials) with known latents, cut into consecutive windows of
    ``window_bins`` as the loaders cut a session with ``--window``: datasets are
    (windows, window_bins, channels); ``truth`` holds the latents as (bins, dims) and ``time``
    (bin centres, s). A last partial window is dropped."""
    rng = np.random.default_rng(seed)
    n_win = n_bins // window_bins
    n = n_win * window_bins

    def latents(k: int) -> np.ndarray:
        ells = rng.uniform(*length_scales, k)
        z = np.stack([long_gp_samples(rng, 1, n, e)[0] for e in ells], axis=1) if k else None
        return np.zeros((1, n, 0)) if z is None else z[None]

    z_s, z_a, z_b = latents(shared), latents(private_neural), latents(private_behavior)
    counts, rates, pose, _ = _observe(
        rng, z_s, z_a, z_b, n_neurons, n_keypoints, behavior_noise, 1.0
    )
    info = {"source": "windows", "window_s": window_bins * bin_size_s, "span_s": [0.0, n * bin_size_s]}

    def windowed(x: np.ndarray, names: list[str], source: str) -> Dataset:
        return Dataset(
            data=x[0].reshape(n_win, window_bins, -1),
            channel_names=names,
            bin_size_s=bin_size_s,
            source=source,
            preprocessing={"trials": dict(info)},
        )

    kp = [f"kp{i}_{ax}" for i in range(n_keypoints) for ax in ("x", "y")]
    truth = {
        "shared": z_s[0],
        "private_neural": z_a[0],
        "private_behavior": z_b[0],
        "time": (np.arange(n) + 0.5) * bin_size_s,
        "rates": rates[0],
    }
    return Simulation(
        windowed(counts, [f"neuron{i}" for i in range(n_neurons)], "<simulated session neural>"),
        windowed(pose, kp, "<simulated session behavior>"),
        truth,
    )


def write_simulation(out_dir: str | Path, sim: Simulation) -> dict[str, Path]:
    """Write ``neural.h5``, ``behavior.h5`` (generic layout) and ``truth.npz`` into ``out_dir``."""
    from mmgpvae_core.loaders.generic import save_generic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "neural": out / "neural.h5",
        "behavior": out / "behavior.h5",
        "truth": out / "truth.npz",
    }
    save_generic(paths["neural"], sim.neural)
    save_generic(paths["behavior"], sim.behavior)
    keep = ("shared", "private_neural", "private_behavior", "conditions")
    np.savez_compressed(paths["truth"], **{k: sim.truth[k] for k in keep})
    return paths


def simulate_sessions(
    n_neurons: tuple[int, ...] = (30, 45, 60, 72),
    n_trials: int = 60,
    n_time: int = 60,
    shared: int = 2,
    private_neural: int = 1,
    private_behavior: int = 1,
    n_keypoints: int = 8,
    n_conditions: int = 3,
    bin_size_s: float = 0.02,
    behavior_noise: float = 0.05,
    seed: int = 1,
) -> list[Simulation]:
    """Sessions of one task recorded from different neurons: one latent process (the same
    length-scales and condition means; each session its own trials of it), one body (the same
    pose network of ``[z_S; z_B]``), and per session its own ``n_neurons[k]`` neurons (their own
    loadings and rates). A model of all sessions should find one shared latent space; separate
    fits find one each, related to the others by an unknown map."""
    rng = np.random.default_rng(seed)
    conditions = balanced_conditions(rng, len(n_neurons) * n_trials, n_conditions)
    sizes = (shared, private_neural, private_behavior)
    z_s, z_a, z_b = _standard_latents(rng, conditions, n_time, n_conditions, sizes)
    pose_of = _pose_network(rng, shared + private_behavior, n_keypoints)
    out = []
    for k, n in enumerate(n_neurons):
        rows = slice(k * n_trials, (k + 1) * n_trials)
        zs, za, zb = z_s[rows], z_a[rows], z_b[rows]
        counts, rates = _spikes(rng, np.concatenate([zs, za], axis=2), n)
        pose, pose_clean = pose_of(np.concatenate([zs, zb], axis=2), behavior_noise)
        observed = (counts, rates, pose, pose_clean)
        label = f"simulated session {k}"
        out.append(_simulation(label, conditions[rows], bin_size_s, (zs, za, zb), observed))
    return out
