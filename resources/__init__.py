"""Data files shipped with MM-GPVAE Studio.

In the repository this is the top-level ``resources/`` folder; the wheel installs it as the
package ``mmgpvae_resources`` (``[tool.setuptools] package-dir`` in pyproject.toml), so an
installed app finds ``demo/`` (neural.h5, behavior.h5, truth.npz) through
``importlib.resources.files("mmgpvae_resources")``.
"""
