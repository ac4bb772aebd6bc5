"""The paper's rotating-digit experiment: a handwritten digit whose rotation follows a shared latent.

Behavior: image frames ``(trials, time, side*side)`` of one scikit-learn handwritten digit (8×8,
upsampled to ``side``×``side``), rotated by the shared latent and shifted horizontally by a private
behavior latent, plus Gaussian pixel noise (``likelihood="gaussian"``) or binarized
(``likelihood="bernoulli"``). Neural: Poisson spike counts whose log rates are linear in
``[z_shared, z_private_neural]``. Conditions: the direction of the mean rotation.
No download: scikit-learn ships the 1,797 digits. No Qt.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates, zoom

from mmgpvae_core.data import Dataset
from mmgpvae_core.synthetic.simulate import (
    Simulation,
    balanced_conditions,
    gp_samples,
    neural_dataset,
)

CONDITIONS = ("clockwise", "counter-clockwise")


def digit_image(digit: int = 2, side: int = 16, index: int = 0) -> np.ndarray:
    """One handwritten ``digit`` from scikit-learn's set, (side, side) in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    img = d.images[np.flatnonzero(d.target == digit)[index]] / 16.0
    padded = np.pad(img, 2)  # room to rotate without clipping the strokes
    out = zoom(padded, side / padded.shape[0], order=1)
    return np.clip(out, 0.0, 1.0)


def transform_frames(img: np.ndarray, angle: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Rotate ``img`` (side, side) by ``angle`` (radians) and shift right by ``shift`` pixels.
    angle, shift: (n,) → frames (n, side, side)."""
    side = img.shape[0]
    c = (side - 1) / 2.0
    yy, xx = np.mgrid[0:side, 0:side].astype(float)
    y0, x0 = yy - c, xx - c
    out = np.empty((len(angle), side, side))
    for i, (a, s) in enumerate(zip(angle, shift)):
        ca, sa = np.cos(a), np.sin(a)
        xs = ca * (x0 - s) + sa * y0 + c  # inverse map: output pixel -> source pixel
        ys = -sa * (x0 - s) + ca * y0 + c
        out[i] = map_coordinates(img, [ys, xs], order=1, mode="constant", cval=0.0)
    return out


def simulate_digits(
    n_trials: int = 60,
    n_time: int = 40,
    n_neurons: int = 40,
    side: int = 16,
    digit: int = 2,
    max_angle_deg: float = 100.0,
    likelihood: str = "gaussian",
    pixel_noise: float = 0.05,
    bin_size_s: float = 0.05,
    seed: int = 3,
) -> Simulation:
    """Simulate the rotating-digit session. Truth: ``shared`` (angle in radians / max angle),
    ``private_neural``, ``private_behavior`` (shift), each (trials, time, 1)."""
    rng = np.random.default_rng(seed)
    T = n_time
    cond = balanced_conditions(rng, n_trials, 2)
    t = np.linspace(0.0, 1.0, T)
    # Shared: a mean rotation ramp whose sign is the condition, plus a smooth GP deviation.
    mean = np.where(cond[:, None] == 0, -1.0, 1.0) * np.sin(np.pi * t)[None, :]
    z_s = 0.8 * mean + 0.35 * gp_samples(rng, n_trials, T, 8.0)
    z_a = gp_samples(rng, n_trials, T, 5.0)
    z_b = 0.8 * gp_samples(rng, n_trials, T, 10.0)

    img = digit_image(digit, side)
    angle = np.deg2rad(max_angle_deg) * z_s
    shift = 1.5 * z_b
    frames = transform_frames(img, angle.ravel(), shift.ravel()).reshape(n_trials, T, side * side)
    if likelihood == "bernoulli":
        pixels = (rng.uniform(size=frames.shape) < frames).astype(float)
    else:
        pixels = frames + rng.normal(0.0, pixel_noise, frames.shape)

    z_neural = np.stack([z_s, z_a], axis=2)
    C = rng.normal(0.0, 0.6, (n_neurons, 2))
    d = np.log(rng.uniform(0.3, 1.0, n_neurons))
    rates = np.exp(z_neural @ C.T + d)
    counts = rng.poisson(rates).astype(float)

    names = np.array([CONDITIONS[c] for c in cond])
    neural = neural_dataset(counts, names, bin_size_s, "<rotating-digit neural>")
    behavior = Dataset(
        data=pixels,
        conditions=names,
        channel_names=[f"px{r}_{c}" for r in range(side) for c in range(side)],
        bin_size_s=bin_size_s,
        source="<rotating-digit images>",
        kind="image",
        preprocessing={"image_shape": [side, side], "digit": digit},
    )
    truth = {
        "shared": z_s[..., None],
        "private_neural": z_a[..., None],
        "private_behavior": z_b[..., None],
        "conditions": names,
        "rates": rates,
        "frames": frames,
    }
    return Simulation(neural, behavior, truth)


def suggested_model(likelihood: str = "gaussian") -> dict:
    """MMGPVAE keyword arguments that fit this simulation: one latent of each kind, image decoder
    an MLP."""
    return {
        "shared": 1,
        "private_neural": 1,
        "private_behavior": 1,
        "neural_likelihood": "poisson",
        "behavior_likelihood": likelihood,
        "behavior_decoder": "mlp",
    }
