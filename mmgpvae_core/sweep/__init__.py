"""Model selection: sweep latent splits (and any model or training option: length-scale init,
learning rate, kernel, decoders, pruning threshold, …) with k-fold cross-validation, locally on
every core or on a Ray cluster (Ray Tune).

The selection criterion
-----------------------
Each configuration is fitted on k − 1 folds and scored on the held-out fold by the *predictive*
log-likelihood of held-out data (:mod:`mmgpvae_core.evaluation.heldout`), summed over four terms:

1. held-out neurons given the other neurons and the behavior (co-smoothing),
2. held-out behavior channels given the other behavior channels and the neural data,
3. behavior given the neural data alone (cross-modal),
4. neural data given the behavior alone (cross-modal).

Why these, and not the held-out ELBO: the ELBO of held-out trials pays a KL for every latent
dimension, so it is biased towards fewer latents, and it cannot tell a shared dimension from a
private one (both explain their modality's data equally well). The predictive terms pin down the
three numbers separately. Terms 1 and 2 measure how many dimensions each modality has
(P_S + P_A for neural, P_S + P_B for behavior): a private dimension of A helps predict A's held-out
channels from A's own other channels, and nothing else. Terms 3 and 4 measure how many dimensions
the modalities share: only shared dimensions carry information across, so too few shared
dimensions loses cross-modal accuracy — and too many cannot help it, since a "shared" latent that
one modality does not really load on is inferred at its prior from that modality alone. Terms 1–4
together, held out, also punish too many dimensions of any kind through overfitting, but only
weakly: extra dimensions mostly *tie*. So the best score alone is not the answer; the rule is

    among the configurations whose mean per-trial score is within one standard error (of the
    per-trial paired difference) of the best, take the one with the fewest latent dimensions,
    then the fewest shared dimensions (sharing is the stronger claim), then linear decoders
    over MLPs where the sweep tries both, then the highest score

(the "one-standard-error rule" of cross-validation). Per-trial scores are paired across
configurations (every trial is held out once, under the same folds), which makes the standard
error of a difference small.

The package, one module per step: ``grid`` (the configurations), ``run`` (one configuration's
folds, and many jobs on local processes; Ray Tune in :mod:`mmgpvae_core.integrations.ray`),
``selection`` (the rule above), ``grow`` (a choice on the edge of the grid, and growing the grid
past it) and ``output`` (CSV, table, plot).

Folds: for a continuous session (consecutive windows, no trials table) contiguous blocks of
windows, with one window left unused between a validation block and the training windows, so
that no held-out window sits between training neighbours that share its slow signals; trials of
a trials table are dealt at random, stratified by condition
(:func:`mmgpvae_core.evaluation.heldout.session_folds`).
"""

from mmgpvae_core.sweep.grid import (
    CLI_SWEEP_OPTIONS,
    COUNT_NEURAL_DECODERS,
    HYPER_KEYS,
    SPLIT_KEYS,
    SWEEP_OPTIONS,
    check_option,
    config_name,
    flag,
    format_value,
    make_grid,
    option_field,
    parse_floats,
    parse_kernels,
    parse_option,
    parse_range,
    readout_options,
    swept,
    with_readouts,
)
from mmgpvae_core.sweep.grow import edge_dimensions, edge_line, extended, grow_sweep
from mmgpvae_core.sweep.output import (
    CSV_COLUMNS,
    csv_columns,
    format_table,
    read_csv,
    swept_columns,
    write_csv,
    write_rows,
)
from mmgpvae_core.sweep.run import (
    METRICS,
    SweepSettings,
    fold_roles,
    run_config,
    run_jobs,
    run_sweep,
    with_resolved_likelihoods,
)
from mmgpvae_core.sweep.selection import SweepResult, choose, select_best

__all__ = [
    "CLI_SWEEP_OPTIONS",
    "COUNT_NEURAL_DECODERS",
    "CSV_COLUMNS",
    "HYPER_KEYS",
    "METRICS",
    "SPLIT_KEYS",
    "SWEEP_OPTIONS",
    "SweepResult",
    "SweepSettings",
    "check_option",
    "choose",
    "config_name",
    "csv_columns",
    "flag",
    "format_value",
    "option_field",
    "parse_option",
    "readout_options",
    "swept",
    "swept_columns",
    "with_readouts",
    "edge_dimensions",
    "edge_line",
    "extended",
    "format_table",
    "grow_sweep",
    "make_grid",
    "parse_floats",
    "parse_kernels",
    "parse_range",
    "plot_sweep",
    "read_csv",
    "fold_roles",
    "run_config",
    "run_jobs",
    "run_sweep",
    "select_best",
    "with_resolved_likelihoods",
    "write_csv",
    "write_rows",
]


def plot_sweep(result: SweepResult, path):
    """:func:`mmgpvae_core.figures.sweep.plot_sweep` (the figure lives with the figures; kept
    here for scripts that import it from the sweep)."""
    from mmgpvae_core.figures.sweep import plot_sweep as plot

    return plot(result, path)
