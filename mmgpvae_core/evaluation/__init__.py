"""How well a fit does on what it was not trained on.

- ``heldout.py``: trial and session folds, co-smoothing, cross-modal prediction, held-out ELBO;
- ``recovery.py``: recovery of known latents (a simulation's truth) through a cross-validated map.

The baselines a reviewer asks for (Wiener filter, GLM) are in ``mmgpvae_core/compare/``.
"""
