"""The MM-GPVAE itself: Fourier GP prior, encoders, posterior, decoders, likelihoods and ELBO.

Everything a forward pass needs, and nothing above it: this folder imports only torch, numpy
and `mmgpvae_core.config` (checked by `scripts/check_layers.py`). Training, data and I/O live
one level up and import from here.
"""

from __future__ import annotations

from mmgpvae_core.model.elbo import ElboTerms, elbo_terms
from mmgpvae_core.model.likelihoods import Likelihood, likelihood_class, make_likelihood, register
from mmgpvae_core.model.module import MMGPVAEModule, ModelShape

__all__ = [
    "ElboTerms",
    "Likelihood",
    "MMGPVAEModule",
    "ModelShape",
    "elbo_terms",
    "likelihood_class",
    "make_likelihood",
    "register",
]
