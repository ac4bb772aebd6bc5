"""Training-history figures: the ELBO and its terms, and the learned GP length-scales."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mmgpvae_core.figures.base import caption, new_figure, panel_title
from mmgpvae_core.figures.style import DOUBLE_COLUMN_IN, NEUTRAL_COLOR, style_context

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_TERMS = (
    ("elbo", "ELBO", "#000000"),
    ("ell_neural", "E[log p(neural | z)]", "#333333"),
    ("ell_behavior", "E[log p(behavior | z)]", "#333333"),
    ("kl", "KL(q(z) ‖ p(z))", "#333333"),
)
#: between a latent's name and its kernel in legends: "shared 1 · Matérn ½"
KERNEL_SEP = " · "
_SUBSPACE_STYLE = {
    "shared": ("#000000", "-"),
    "private_neural": ("#555555", "--"),
    "private_behavior": ("#555555", ":"),
}


def _history_arrays(history: Any) -> dict[str, np.ndarray]:
    if hasattr(history, "to_arrays"):  # a TrainingHistory
        history = history.to_arrays()
    if not isinstance(history, Mapping):
        raise TypeError("history: expected a mapping of per-epoch arrays or a TrainingHistory")
    return {k: np.asarray(v, dtype=float) for k, v in history.items()}


def elbo_figure(history: Any, warmup_epochs: int | None = None) -> Figure:
    """The ELBO and its terms per epoch, each in its own panel (they differ in scale).

    history: a :class:`~mmgpvae_core.training.TrainingHistory` or a mapping with per-epoch arrays
    ``elbo`` (required), ``ell_neural``, ``ell_behavior``, ``kl``, ``epoch`` — all in nats per
    trial, as the trainer reports them. ``warmup_epochs``: shade the KL warm-up.
    """
    h = _history_arrays(history)
    if "elbo" not in h or h["elbo"].size == 0:
        raise ValueError("history: no 'elbo' values to plot")
    n = h["elbo"].size
    epoch = h.get("epoch", np.arange(1, n + 1))
    terms = [
        t
        for t in _TERMS
        if t[0] in h and h[t[0]].size == n and np.any(h[t[0]] != 0) or t[0] == "elbo"
    ]
    with style_context():
        fig = new_figure(DOUBLE_COLUMN_IN, 2.0)
        axes = fig.subplots(1, len(terms), sharex=True, squeeze=False)[0]
        for ax, (key, label, color) in zip(axes, terms):
            y = h[key]
            ax.plot(epoch, y, color=color, lw=1.3 if key == "elbo" else 1.0, label=label)
            ax.set_xlabel("epoch")
            panel_title(ax, label)
            if key == "elbo":
                ax.set_ylabel("nats per trial")
            _robust_ylim(ax, y)
            if warmup_epochs:
                ax.axvspan(
                    epoch[0], min(warmup_epochs, epoch[-1]), color=NEUTRAL_COLOR, alpha=0.15, lw=0
                )
            ax.annotate(
                f"{y[-1]:.4g}".replace("-", "\N{MINUS SIGN}"),
                (epoch[-1], y[-1]),
                xytext=(2, 0),
                textcoords="offset points",
                fontsize="small",
                va="center",
                color=color,
                annotation_clip=False,
            )
        note = "All terms in nats per trial; ELBO = E[log p(neural)] + E[log p(behavior)] − KL."
        if warmup_epochs:
            note += " Shaded: KL warm-up."
        caption(fig, note)
    return fig


def _robust_ylim(ax: Any, y: np.ndarray) -> None:
    """Zoom past a steep first transient so the end of training is readable."""
    y = y[np.isfinite(y)]
    if y.size < 10:
        return
    tail = y[y.size // 10 :]
    lo, hi = float(tail.min()), float(tail.max())
    full_lo, full_hi = float(y.min()), float(y.max())
    if (full_hi - full_lo) > 4 * max(hi - lo, 1e-12):  # the transient dwarfs the rest
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        ax.text(
            0.98,
            0.03,
            "first epochs off scale",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="x-small",
            color="#777777",
        )


def latent_names(model_config: Mapping[str, Any] | None, n: int) -> list[str]:
    """Names of the model's latents in their raw order (shared, private neural, private behavior)."""
    if not model_config:
        return [f"latent {i + 1}" for i in range(n)]
    names = []
    for key, label in (
        ("shared", "shared"),
        ("private_neural", "private neural"),
        ("private_behavior", "private behavior"),
    ):
        k = int(model_config.get(key, 0))
        names += [f"{label} {i + 1}" if k > 1 else label for i in range(k)]
    return names if len(names) == n else [f"latent {i + 1}" for i in range(n)]


def latent_kernels(model_config: Mapping[str, Any] | None, n: int) -> list[str] | None:
    """The label of each latent's GP kernel ("RBF", "Matérn ½", …) in their raw order, or None
    when the config does not give the ``n`` latents (a config without ``kernel``: RBF, as every
    model before kernels existed was)."""
    if not model_config:
        return None
    from mmgpvae_core.config import MODEL_BEFORE_OPTION
    from mmgpvae_core.model.kernels import latent_kernel_labels

    counts = [int(model_config.get(k, 0)) for k in ("shared", "private_neural", "private_behavior")]
    setting = model_config.get("kernel") or MODEL_BEFORE_OPTION["kernel"]
    labels = latent_kernel_labels(str(setting), counts)
    return labels if len(labels) == n else None


def length_scale_figure(
    length_scales: Any,
    bin_size_s: float | None = None,
    names: Sequence[str] | None = None,
    epochs: Any = None,
    kernels: Sequence[str] | None = None,
) -> Figure:
    """Learned GP length-scale of each latent per epoch, in bins (left axis) and seconds (right).

    length_scales: ``(epochs, latents)`` in bins (``history["length_scales"]``), or ``(latents,)``
    for a single epoch. names: one per latent (default "latent 1", ...); names starting with
    "shared", "private neural" or "private behavior" get that subspace's line style (a name may
    carry its kernel after " · ", as the app's are). kernels: each latent's kernel label
    (``latent_kernels``), shown in the legend.
    """
    ls = np.asarray(length_scales, dtype=float)
    if ls.ndim == 1:
        ls = ls[None, :]
    if ls.ndim != 2 or ls.size == 0:
        raise ValueError(f"length_scales: expected (epochs, latents), found shape {ls.shape}")
    n_ep, d = ls.shape
    x = np.arange(1, n_ep + 1) if epochs is None else np.asarray(epochs)
    names = list(names) if names is not None else [f"latent {i + 1}" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"names: {len(names)} names for {d} latents")
    if kernels is not None:
        if len(kernels) != d:
            raise ValueError(f"kernels: {len(kernels)} kernels for {d} latents")
        names = [f"{name}{KERNEL_SEP}{k}" for name, k in zip(names, kernels)]
    with style_context():
        fig = new_figure(4.6, 2.4)
        ax = fig.subplots()
        shades = {}
        for i, name in enumerate(names):
            base = name.split(KERNEL_SEP)[0]
            key = base.replace(" ", "_").rstrip("_0123456789") if base else ""
            color, ls_style = _SUBSPACE_STYLE.get(key, ("#333333", "-"))
            k = shades.setdefault(key, 0)
            shades[key] += 1
            final = ls[-1, i]
            label = f"{name}: {final:.2f} bins"
            if bin_size_s:
                label += f" ({final * bin_size_s * 1e3:.0f} ms)"
            marker = ("o", "s", "^", "D", "v", "P")[k % 6]
            ax.plot(
                x,
                ls[:, i],
                color=color,
                ls=ls_style,
                lw=1.2,
                label=label,
                marker=marker,
                markevery=[n_ep - 1],
                ms=3.5,
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("length-scale (bins)")
        ax.set_ylim(bottom=0)
        if bin_size_s:
            sec = ax.secondary_yaxis(
                "right", functions=(lambda b: b * bin_size_s, lambda s: s / bin_size_s)
            )
            sec.set_ylabel("length-scale (s)")
            ax.spines["right"].set_visible(False)
        panel_title(ax, "GP length-scales")
        caption(fig, "One per latent of the model's own coordinates (before orthonormalizing).")
        fig.legend(loc="outside right upper", title="final value")
    return fig
