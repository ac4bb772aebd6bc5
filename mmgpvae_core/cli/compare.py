"""``mmgpvae compare``: the model against a Wiener filter and a GLM on held-out data."""

from __future__ import annotations

import argparse
import sys

from mmgpvae_core.cli.common import (
    add_data_arguments,
    add_model_arguments,
    fail,
    load_data,
    model_kwargs,
)


def cmd_compare(a: argparse.Namespace) -> int:
    """Fit every method on the same training data, score on the held-out data; the last line
    is :func:`~mmgpvae_core.compare.summary_line`."""
    from mmgpvae_core.compare import (
        CompareSettings,
        compare_folds,
        format_table,
        plot_compare,
        run_compare,
        summary_line,
        write_csv,
    )

    if a.test_fraction is not None and not 0 < a.test_fraction < 1:
        return fail(f"compare: --test-fraction must be in (0, 1), got {a.test_fraction}")
    if a.seeds < 1 or a.lags < 0:
        return fail("compare: --seeds must be >= 1 and --lags >= 0")
    neural, behavior = load_data(a)
    kwargs = model_kwargs(a)
    settings = CompareSettings(
        folds=a.folds,
        test_fraction=a.test_fraction if a.test_fraction is not None else 0.2,
        lags=a.lags,
        seeds=a.seeds,
        seed=kwargs.pop("seed", 0),
        model_kwargs=kwargs,
    )
    try:
        folds = compare_folds(neural, settings)
    except ValueError as exc:
        return fail(f"compare: {exc}")
    print(
        f"compare: {neural.n_trials} trials × {neural.n_time} bins, {neural.n_channels} neural and "
        f"{behavior.n_channels} behavior channels; held out: {folds.describe()}; baselines over "
        f"±{a.lags} bins; the model with {a.seeds} seed(s)", file=sys.stderr,
    )
    bar = EpochBar(a.quiet)
    result = run_compare(neural, behavior, settings, report=bar.line, on_epoch=bar)
    bar.close()
    print(f"wrote {write_csv(result, a.out)}", file=sys.stderr)
    if a.plot:
        print(f"wrote {plot_compare(result, a.plot)}", file=sys.stderr)
    print(format_table(result))
    print(summary_line(result))
    return 0


class EpochBar:
    """A progress bar per model fit (epochs, ELBO) and the runner's lines between fits."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, None

    def __call__(self, r) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=r.n_epochs, unit="epoch", desc="  mmgpvae fit",
                            file=sys.stderr, dynamic_ncols=True, leave=False)
        self.bar.update(1)
        self.bar.set_postfix(elbo=f"{r.elbo:.1f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def line(self, text: str) -> None:
        self.close()
        if not self.quiet:
            print(f"  {text}", file=sys.stderr, flush=True)


def add_parser(sub) -> None:
    c = sub.add_parser(
        "compare",
        help="the model against a Wiener filter and a GLM on held-out data (CSV table, plot)",
        description="Fit the model and the baselines a reviewer asks for on exactly the same "
        "training data, and score each on held-out data: behavior from neural activity (the "
        "model's cross-modal prediction, a Wiener filter, a causal Wiener filter) and neural "
        "activity from behavior (the model, a Poisson GLM for counts or ridge for calcium). A "
        "continuous session is held out in contiguous blocks of windows; trials are stratified "
        "by condition.",
    )
    add_data_arguments(c, required=True)
    add_model_arguments(c)
    held = c.add_mutually_exclusive_group()
    held.add_argument(
        "--folds", type=int,
        help="K folds (blocked over a session's windows; stratified over trials)",
    )
    held.add_argument(
        "--test-fraction", type=float,
        help="hold out the last F of a session (F of the trials, stratified) (default 0.2)",
    )
    c.add_argument(
        "--lags", type=int, default=5,
        help="the baselines use ±L bins of every input channel (causal Wiener: the last L) "
        "(default 5)",
    )
    c.add_argument(
        "--seeds", type=int, default=1,
        help="model fits per fold, with seeds --seed … --seed+N−1; the table reports their mean "
        "and sd (default 1)",
    )
    c.add_argument("--out", required=True, help="results table to write (.csv)")
    c.add_argument("--plot", help="figure: R² per channel and a held-out stretch (.png/.pdf/.svg)")
    c.add_argument("--quiet", action="store_true", help="no per-fit progress lines")
    c.set_defaults(func=cmd_compare)
