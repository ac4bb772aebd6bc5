"""The ``.mmgp`` project and what goes in and out of it.

- ``file.py``: the HDF5 layout (a contract), atomic writes, reading and summarizing a project;
- ``saved.py``: a fitted :class:`~mmgpvae_core.api.MMGPVAE` to and from a project;
- ``checkpoint.py``: checkpoints of a fit in progress, and resuming one;
- ``export.py``, ``export_nwb.py``: posterior latents out, as NPZ or NWB.
"""
