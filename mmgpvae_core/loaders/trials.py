"""Cut recordings into trials and bin them onto one time grid.

Rules (the same for every modality, so two modalities line up bin for bin):

- Bin ``b`` of a trial starting at ``s`` covers ``[s + b*Δ, s + (b+1)*Δ)`` seconds.
- A trial of duration ``d`` has ``floor(d / Δ)`` bins; a last partial bin is dropped. Shorter
  trials are padded with NaN at the end (the Dataset's missing mask).
- Continuous signals: the mean of the observed (non-NaN) samples in each bin; a bin with no
  observed sample is NaN. Spike times: the count of spikes in each bin.
- Without a trials table the overlapping time of the modalities is cut into consecutive windows of
  ``window_s`` seconds (default 10 s; a last partial window is dropped; a recording shorter than one
  window becomes one trial).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, Dataset, data_blocks
from mmgpvae_core.loaders.recording import Recording, TrialTable

DEFAULT_WINDOW_S = 10.0
DEFAULT_SPIKE_BIN_S = 0.02
_CHUNK_ELEMENTS = 1 << 22  # samples × channels binned at a time


# ---------------------------------------------------------------------------- trials table
def read_trials_table(path: str | Path) -> TrialTable:
    """A CSV with ``start_time``, ``stop_time`` (seconds) and optional ``condition``."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "-", "trials table not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, "-", f"not a readable CSV file ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(path, "header", "empty file; expected columns start_time, stop_time")
    header = [c.strip() for c in rows[0]]
    for col in ("start_time", "stop_time"):
        if col not in header:
            raise DataError(
                path,
                col,
                f"column missing; the header is {header}; expected start_time, stop_time "
                "(seconds) and optionally condition",
            )
    i0, i1 = header.index("start_time"), header.index("stop_time")
    ic = header.index("condition") if "condition" in header else None
    start, stop, cond = [], [], []
    for n, r in enumerate(rows[1:], start=1):
        for col, i, out in (("start_time", i0, start), ("stop_time", i1, stop)):
            try:
                out.append(float(r[i]))
            except (IndexError, ValueError):
                cell = r[i] if i < len(r) else ""
                raise DataError(
                    path, col, f"trial {n}: '{cell}'; expected a number of seconds"
                ) from None
        if ic is not None:
            cond.append(r[ic].strip() if ic < len(r) else "")
    if not start:
        raise DataError(path, "start_time", "no trials; expected at least one row")
    conditions = None
    if ic is not None:
        conditions = np.array(cond)
        try:  # integer labels stay integers
            as_int = np.array([int(c) for c in cond])
            conditions = as_int
        except ValueError:
            pass
    table = TrialTable(np.array(start), np.array(stop), conditions, str(path), "trials")
    validate_trials(table)
    return table


def validate_trials(table: TrialTable) -> None:
    """Finite times, stop after start, and no two trials overlapping."""
    src = table.source
    for col, arr in (("start_time", table.start), ("stop_time", table.stop)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError(src, col, f"trial {bad[0] + 1}: {arr[bad[0]]}; expected a finite time")
    bad = np.flatnonzero(table.stop <= table.start)
    if bad.size:
        k = bad[0]
        raise DataError(
            src,
            "stop_time",
            f"trial {k + 1} stops at {table.stop[k]:g} s, not after its start "
            f"{table.start[k]:g} s; expected stop_time > start_time",
        )
    order = np.argsort(table.start, kind="stable")
    s, e = table.start[order], table.stop[order]
    clash = np.flatnonzero(s[1:] < e[:-1] - 1e-9)
    if clash.size:
        a, b = order[clash[0]], order[clash[0] + 1]
        raise DataError(
            src,
            "start_time",
            f"trial {b + 1} ({table.start[b]:g}-{table.stop[b]:g} s) overlaps trial {a + 1} "
            f"({table.start[a]:g}-{table.stop[a]:g} s); expected trials that do not overlap",
        )


def check_within(table: TrialTable, rec: Recording) -> None:
    """Every trial must lie inside the recorded time of ``rec``."""
    t0, t1 = rec.t_start, rec.t_stop
    tol = 1e-6 + (rec.period_s or 0.0) * 1e-3
    for col, bad in (
        ("start_time", np.flatnonzero(table.start < t0 - tol)),
        ("stop_time", np.flatnonzero(table.stop > t1 + tol)),
    ):
        if bad.size:
            k = bad[0]
            raise DataError(
                table.source,
                col,
                f"trial {k + 1} ({table.start[k]:g}-{table.stop[k]:g} s) falls outside the "
                f"recording {rec.source} ({t0:g}-{t1:g} s); {bad.size} trial(s) do; expected "
                "trial times inside the recording",
            )


def overlap(recs: list[Recording]) -> tuple[float, float]:
    """The time every recording covers; an error naming the files if there is none."""
    t0 = max(r.t_start for r in recs)
    t1 = min(r.t_stop for r in recs)
    if t1 <= t0:
        spans = "; ".join(f"{r.source} covers {r.t_start:g}-{r.t_stop:g} s" for r in recs)
        raise DataError(
            recs[-1].source,
            "time",
            f"no overlapping time with the other modality ({spans}); expected recordings of "
            "the same session on one clock",
        )
    return t0, t1


def windows(t0: float, t1: float, window_s: float) -> TrialTable:
    """Consecutive windows of ``window_s`` seconds covering ``[t0, t1)``."""
    n = int(np.floor((t1 - t0) / window_s + 1e-9))
    if n < 1:
        return TrialTable(np.array([t0]), np.array([t1]), None, "<windows>", "windows")
    start = t0 + window_s * np.arange(n)
    return TrialTable(start, start + window_s, None, "<windows>", "windows")


# ---------------------------------------------------------------------------- binning
def n_bins(table: TrialTable, bin_size_s: float) -> np.ndarray:
    n = np.floor((table.stop - table.start) / bin_size_s + 1e-6).astype(np.int64)
    bad = np.flatnonzero(n < 1)
    if bad.size:
        k = bad[0]
        raise DataError(
            table.source,
            "stop_time",
            f"trial {k + 1} lasts {table.stop[k] - table.start[k]:g} s, shorter than one bin "
            f"({bin_size_s:g} s); expected trials of at least one bin",
        )
    return n


def check_bin_size(rec: Recording, bin_size_s: float) -> None:
    """Bins shorter than the sampling period would leave holes; refuse them."""
    period = rec.period_s
    if period is not None and bin_size_s < period * (1 - 1e-3):
        raise DataError(
            rec.source,
            "bin_size_s",
            f"bin size {bin_size_s:g} s is shorter than the sampling period {period:g} s "
            f"({rec.rate_hz:g} Hz); expected a bin size of at least {period:g} s",
        )


def binned_dtype(rec: Recording) -> np.dtype:
    """float32 for spike counts (exact below 2**24 per bin) and float32 recordings (suite2p,
    most NWB imaging): the model's dtype, so an hour of 5,000 ROIs is held once, not as a
    float64 copy and again as the float32 tensor the fit needs; float64 otherwise."""
    if rec.is_events or np.dtype(rec.values.dtype) == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def bin_recording(
    rec: Recording, table: TrialTable, bin_size_s: float, dtype: Any = None
) -> np.ndarray:
    """``(trials, max_bins, channels)`` of ``dtype`` (default :func:`binned_dtype`), NaN-padded,
    from a recording and trials. Sums are taken in float64 whatever the dtype."""
    lengths = n_bins(table, bin_size_s)
    dtype = binned_dtype(rec) if dtype is None else dtype
    out = np.full((len(lengths), int(lengths.max()), rec.n_channels), np.nan, dtype=dtype)
    edges = [table.start[k] + bin_size_s * np.arange(nb + 1) for k, nb in enumerate(lengths)]
    if rec.is_events:
        _count_spikes(rec.spike_times, edges, out)
        return out
    for k, edges_t in enumerate(edges):
        _bin_values(rec, rec.sample_index(edges_t), out[k, : lengths[k]])
    return out


def _count_spikes(spike_times: list[np.ndarray], edges: list[np.ndarray], out: np.ndarray) -> None:
    """Spike counts between consecutive ``edges`` (seconds; one array per trial) into ``out``
    (trials, bins, units): one search of every trial's edges per unit (a search per trial and
    unit took ~4 s for an hour of 500 units in 4 s windows; this, ~2 s)."""
    flat = np.concatenate(edges)
    ends = np.cumsum([len(e) for e in edges])  # one past each trial's last edge in `flat`
    inside = np.ones(len(flat) - 1, dtype=bool)  # a difference of two edges of one trial
    inside[ends[:-1] - 1] = False
    trial = np.repeat(np.arange(len(edges)), [len(e) - 1 for e in edges])
    bin_ = np.concatenate([np.arange(len(e) - 1) for e in edges])
    for c, st in enumerate(spike_times):
        out[trial, bin_, c] = np.diff(np.searchsorted(st, flat, side="left"))[inside]


def _bin_values(rec: Recording, edges: np.ndarray, out: np.ndarray) -> None:
    """Mean of observed samples between consecutive sample ``edges`` into ``out`` (bins, ch)."""
    n_ch = rec.n_channels
    step = max(1, _CHUNK_ELEMENTS // max(1, n_ch))
    b = 0
    nb = len(edges) - 1
    while b < nb:  # chunks of whole bins, about `step` samples each
        b1 = int(np.searchsorted(edges, edges[b] + step, side="right")) - 1
        b1 = min(max(b1, b + 1), nb)
        i0, i1 = int(edges[b]), int(edges[b1])
        e = edges[b : b1 + 1] - i0
        nonempty = e[1:] > e[:-1]
        if i1 > i0 and nonempty.any():
            seg = rec.values[i0:i1]
            valid = ~np.isnan(seg)
            filled = np.where(valid, seg, 0.0)
            starts = e[:-1][nonempty]
            sums = np.add.reduceat(filled, starts, axis=0, dtype=np.float64)
            counts = np.add.reduceat(valid, starts, axis=0, dtype=np.int64)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = sums / counts
            mean[counts == 0] = np.nan
            out[b:b1][nonempty] = mean
        b = b1


# ---------------------------------------------------------------------------- to Dataset
def to_dataset(
    rec: Recording,
    table: TrialTable,
    bin_size_s: float,
    *,
    trials_info: dict[str, Any],
    drop_missing_channels: bool = True,
    drop_constant_channels: bool = False,
    zscore: bool = False,
) -> Dataset:
    """Bin ``rec`` on the trials of ``table`` into a Dataset; record every choice made. With
    ``drop_missing_channels``, channels entirely missing are left out, and constant ones too
    with ``drop_constant_channels`` (a behavior axis that never moves), if any channel stays."""
    if not rec.is_events:
        check_bin_size(rec, bin_size_s)
    data = bin_recording(rec, table, bin_size_s)
    names = list(rec.channel_names)
    prep = dict(rec.preprocessing)
    prep["trials"] = trials_info
    prep["bin_size_s"] = bin_size_s
    prep["binning"] = "spike counts per bin" if rec.is_events else "mean of observed samples"
    all_nan = missing_channels(data)
    if drop_missing_channels:
        if all_nan.all():
            raise DataError(
                rec.source,
                rec.field,
                "every channel is entirely missing (NaN) in the trials; expected observed samples",
            )
        drop = channels_to_drop(data, all_nan, drop_constant_channels)
        data, names = without_channels(data, names, prep, drop)
    if zscore:
        data, mean, std = zscore_channels(data)
        prep["zscore"] = {"mean": mean.tolist(), "std": std.tolist()}
    return Dataset(
        data=data,
        conditions=table.conditions,
        channel_names=names,
        bin_size_s=bin_size_s,
        preprocessing=prep,
        **rec.provenance(),
    )


def without_channels(
    data: np.ndarray, names: list[str], prep: dict[str, Any], drop: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """``data`` (trials, time, channels) and its channel ``names`` without the channels where
    ``drop`` ((channels,) bool) is True, which ``prep["dropped_channels"]`` then names (entirely
    missing, or constant: see :func:`missing_channels`, :func:`constant_channels`)."""
    if not drop.any():
        return data, names
    prep["dropped_channels"] = [names[i] for i in np.flatnonzero(drop)]
    return data[:, :, ~drop], [n for n, bad in zip(names, drop) if not bad]


def channels_to_drop(data: np.ndarray, all_nan: np.ndarray, constant: bool) -> np.ndarray:
    """(channels,) the channels a reader leaves out: those entirely missing (``all_nan``, from
    :func:`missing_channels`) and, with ``constant``, those of one value
    (:func:`constant_channels`) — unless that would leave no channel, then the missing ones."""
    if not constant:
        return all_nan
    empty = all_nan | constant_channels(data)
    return all_nan if empty.all() else empty


def constant_channels(data: np.ndarray) -> np.ndarray:
    """(channels,) True where a channel of ``(trials, time, channels)`` holds one value over all
    its observed samples (a silent unit, an axis a tracker never moved along): nothing to model
    or decode, and no variance to score a prediction against (chunked)."""
    lo = np.full(data.shape[2], np.inf)
    hi = np.full(data.shape[2], -np.inf)
    for sl in data_blocks(data.shape):
        block = data[sl]
        with np.errstate(invalid="ignore"):
            lo = np.fmin(lo, np.nanmin(block, axis=(0, 1), initial=np.inf))
            hi = np.fmax(hi, np.nanmax(block, axis=(0, 1), initial=-np.inf))
    return np.isfinite(lo) & (lo == hi)


def missing_channels(data: np.ndarray) -> np.ndarray:
    """(channels,) True where a channel of ``(trials, time, channels)`` is all NaN (chunked)."""
    seen = np.zeros(data.shape[2], dtype=bool)
    for sl in data_blocks(data.shape):
        seen |= ~np.isnan(data[sl]).all(axis=(0, 1))
    return ~seen


def zscore_channels(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score each channel over trials and time, in place; NaN stays NaN.

    A constant channel is only centred (its std is taken as 1). Mean and std (float64, two
    passes) are computed trial chunk by trial chunk, with no temporary of the data's size.
    """
    C = data.shape[2]
    total, count = np.zeros(C), np.zeros(C)
    for sl in data_blocks(data.shape):
        x = data[sl].reshape(-1, C)
        ok = ~np.isnan(x)
        total += np.where(ok, x, 0).sum(0, dtype=np.float64)
        count += ok.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    ss = np.zeros(C)
    for sl in data_blocks(data.shape):
        x = data[sl].reshape(-1, C).astype(np.float64)
        ss += np.nansum((x - mean) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(ss / count)
    std = np.where(std > 0, std, 1.0)
    for sl in data_blocks(data.shape):
        data[sl] -= mean.astype(data.dtype)
        data[sl] /= std.astype(data.dtype)
    return data, mean, std
