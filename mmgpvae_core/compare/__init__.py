"""The model against the baselines a reviewer asks for, on held-out data (``mmgpvae compare``):
a Wiener filter (and its causal form) decoding behavior from the neural data, and a GLM
predicting the neural data from behavior, fitted on exactly the model's training data."""

from mmgpvae_core.compare.baselines import GLM, Wiener
from mmgpvae_core.compare.output import COLUMNS, format_table, plot_compare, summary_line, write_csv
from mmgpvae_core.compare.run import CompareSettings, Comparison, compare_folds, run_compare

__all__ = [
    "COLUMNS",
    "GLM",
    "CompareSettings",
    "Comparison",
    "Wiener",
    "compare_folds",
    "format_table",
    "plot_compare",
    "run_compare",
    "summary_line",
    "write_csv",
]
