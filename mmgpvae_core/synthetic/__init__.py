"""Data with a known truth, for the demo, tests and benchmarks.

- ``simulate.py``: paired neural and behavioral recordings with known shared and private latents;
- ``digits.py``: the paper's rotating-digit experiment.
"""
