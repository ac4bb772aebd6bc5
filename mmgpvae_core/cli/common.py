"""What the subcommands share: the error line, options for data, model and execution, and the
progress line of many small fits."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mmgpvae_core.config import ModelConfig, TrainConfig

EXIT_BAD_INPUT = 2

#: the model and training options of ``fit`` and ``null-test``, in the order ``--help`` lists them
MODEL_OPTIONS = (
    "neural_decoder",
    "behavior_decoder",
    "shared",
    "private_neural",
    "private_behavior",
)
TRAIN_OPTIONS = ("epochs", "lr", "batch_size", "cross_modal", "channel_masking", "seed", "device")
PRIOR_OPTIONS = ("length_scale_init", "prune_threshold", "kernel", "marginal_variance")


def data_warnings_as_lines():
    """A reader's DataWarning (a cell dropped, a rate overridden) as one ``mmgpvae: warning:``
    line on stderr; other warnings go on as before."""
    from mmgpvae_core.loaders.checks import data_warnings

    return data_warnings(lambda m: print(f"mmgpvae: warning: {m}", file=sys.stderr))


def fail(msg: str, code: int = EXIT_BAD_INPUT) -> int:
    """One line on stderr (a multi-line message from a library is joined), the exit code back."""
    one_line = " ".join(part.strip() for part in str(msg).splitlines() if part.strip())
    print(f"mmgpvae: error: {one_line}", file=sys.stderr)
    return code


# ---------------------------------------------------------------------------- data
def add_data_arguments(p, required: bool = False, files: bool = True) -> None:
    """The data files and how they are read, aligned and cut into trials (fit, null-test).
    ``files`` False: only how they are read (a command whose files come from a manifest,
    ``consistency --sessions``); ``p`` a parser or an argument group."""
    if files:
        p.add_argument("--neural", required=required, help="neural data file (spikes or calcium)")
        p.add_argument(
            "--behavior", required=required, help="behavior data file (pose, stimulus, images)"
        )
    p.add_argument("--trials", help="trials table (CSV: start_time, stop_time[, condition])")
    p.add_argument("--bin-size", type=float, help="common bin size in seconds")
    p.add_argument("--neural-rate", type=float, help="sampling rate (Hz) of the neural file")
    p.add_argument("--behavior-rate", type=float, help="sampling rate (Hz) of the behavior file")
    p.add_argument(
        "--neural-signal", choices=("neuropil", "dff", "spks"),
        help="suite2p signal: F-0.7*Fneu (default), dF/F, or deconvolved spks",
    )
    p.add_argument(
        "--iscell-threshold", type=float,
        help="keep suite2p ROIs with cell probability >= this (default: the iscell label)",
    )
    p.add_argument("--all-rois", action="store_true", help="keep every suite2p ROI")
    p.add_argument("--dff-percentile", type=float, help="dF/F baseline percentile (default 8)")
    p.add_argument("--neural-series", help="NWB series name for the neural data")
    p.add_argument(
        "--neural-field", metavar="NAME",
        help="array to read in a MAT/NPZ/HDF5 file that holds several (A,B: joined as channels)",
    )
    p.add_argument(
        "--behavior-field", metavar="NAME",
        help="array(s) to read in a MAT/NPZ/HDF5 behavior file, e.g. pos,vel (joined as "
        "channels pos_x, pos_y, vel_x, vel_y)",
    )
    p.add_argument(
        "--behavior-series", help="NWB series name (or the video of a SLEAP .slp) for the behavior data"
    )
    p.add_argument(
        "--likelihood-threshold", type=float,
        help="pose points under this likelihood are missing (default 0.6)",
    )
    p.add_argument("--egocentric", metavar="BODYPART", help="centre pose on this body part")
    p.add_argument(
        "--zscore", choices=("neural", "behavior", "both"),
        help="z-score each channel of these modalities",
    )
    p.add_argument(
        "--window", type=float, default=10.0,
        help="seconds per trial when there is no trials table (default 10)",
    )


def load_data(a: argparse.Namespace):
    """The (neural, behavior) datasets that ``add_data_arguments``' options describe."""
    from mmgpvae_core.loaders import load_pair

    neural: dict[str, Any] = {}
    behavior: dict[str, Any] = {}
    for opts, key, val in (
        (neural, "signal", a.neural_signal),
        (neural, "iscell_threshold", a.iscell_threshold),
        (neural, "dff_percentile", a.dff_percentile),
        (neural, "series", a.neural_series),
        (behavior, "series", a.behavior_series),
        (neural, "field", a.neural_field),
        (behavior, "field", a.behavior_field),
        (behavior, "likelihood_threshold", a.likelihood_threshold),
        (behavior, "egocentric", a.egocentric),
    ):
        if val is not None:
            opts[key] = val
    if a.all_rois:
        neural["use_iscell"] = False
    if a.zscore in ("neural", "both"):
        neural["zscore"] = True
    if a.zscore in ("behavior", "both"):
        behavior["zscore"] = True
    pair = load_pair(
        a.neural,
        a.behavior,
        trials=a.trials,
        bin_size_s=a.bin_size,
        neural_rate_hz=a.neural_rate,
        behavior_rate_hz=a.behavior_rate,
        neural_options=neural,
        behavior_options=behavior,
        window_s=a.window,
    )
    for ds in pair:
        if ds is not None and (dropped := ds.preprocessing.get("dropped_channels")):
            print(
                f"note: {ds.source} ({ds.field or ds.kind}): left out {len(dropped)} channel(s) "
                f"entirely missing or constant, nothing to model: {', '.join(dropped)}",
                file=sys.stderr,
            )
    return pair


# ---------------------------------------------------------------------------- model
def add_likelihood_arguments(p: argparse.ArgumentParser) -> None:
    ModelConfig.add_arguments(p, ["neural_likelihood", "behavior_likelihood"])


def add_model_arguments(
    p: argparse.ArgumentParser, epochs_help: str | None = None
) -> None:
    """The latent split, likelihoods, decoders and training options (fit, null-test), made
    from the config fields' metadata (``config.option``)."""
    add_likelihood_arguments(p)
    ModelConfig.add_arguments(p, list(MODEL_OPTIONS))
    TrainConfig.add_arguments(
        p, list(TRAIN_OPTIONS), **({"epochs": {"help": epochs_help}} if epochs_help else {})
    )
    ModelConfig.add_arguments(p, list(PRIOR_OPTIONS))


def model_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """``MMGPVAE`` keyword arguments from the options of ``add_model_arguments``; an option
    not given is left to the config's default."""
    return {**ModelConfig.from_arguments(a), **TrainConfig.from_arguments(a)}


# ---------------------------------------------------------------------------- many fits
def add_folds_argument(p, default: int, gap: bool = False) -> None:
    """``--folds`` of a cross-validated command (sweep, null-test); ``gap``: the sweep leaves
    one window unused beside each validation block of a continuous session."""
    beside = " (one window left unused beside each validation block)" if gap else ""
    p.add_argument(
        "--folds", type=int, default=default,
        help=f"cross-validation folds: contiguous blocks of windows for a continuous session"
        f"{beside}, else trials stratified by condition",
    )


def add_execution_arguments(p: argparse.ArgumentParser) -> None:
    """Where many fits run, and their progress lines (null-test, consistency)."""
    p.add_argument("--ray-address", help="run on this Ray cluster ('local' starts one here)")
    p.add_argument("--jobs", type=int, help="local processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no per-fit progress lines")


def fits_device(a: argparse.Namespace) -> str | None:
    """The device of each of many small fits (sweep, controls): ``--device``, else the CPU on
    local processes (processes on cores beat one GPU), else the Ray cluster's choice (None)."""
    return a.device or (None if a.ray_address else "cpu")


def where(a: argparse.Namespace) -> str:
    import os

    return f"Ray cluster {a.ray_address}" if a.ray_address else (
        f"{a.jobs or os.cpu_count()} local processes")


def fit_line(done: int, total: int, what: str, row: dict, quiet: bool) -> None:
    """``  [done/total] what: score S, T s (status)`` on stderr, unless ``quiet``."""
    if not quiet:
        score = f"score {row['score']:.2f}, " if "score" in row else ""
        print(
            f"  [{done}/{total}] {what}: {score}{row.get('fit_seconds', 0):.0f} s "
            f"({row['status']})", file=sys.stderr, flush=True,
        )
