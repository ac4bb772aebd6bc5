"""The app's words for the latent subspaces, keyed by ``config.SUBSPACES`` (shared, private
neural, private behavior), said once: each view and the session take them from here. No Qt."""

from __future__ import annotations

from mmgpvae_core.config import SUBSPACES

__all__ = ["LABELS", "LETTERS", "SUBSPACES", "TITLES", "latent_name", "split_of"]

#: in running text and axis names: "private neural"
LABELS = {sub: sub.replace("_", " ") for sub in SUBSPACES}
#: at the start of a line or a form row: "Private neural"
TITLES = {sub: label.capitalize() for sub, label in LABELS.items()}
#: in the split's short form (S, A, B), as the paper writes it and the split rows show it
LETTERS = dict(zip(SUBSPACES, "SAB"))


def latent_name(sub: str, k: int) -> str:
    """The name of latent ``k`` (from 0) of subspace ``sub``: "private neural 2"."""
    return f"{LABELS[sub]} {k + 1}"


def split_of(kw: dict) -> tuple[int, int, int]:
    """(shared, private neural, private behavior) of a split's keyword arguments."""
    return tuple(int(kw[sub]) for sub in SUBSPACES)  # type: ignore[return-value]
