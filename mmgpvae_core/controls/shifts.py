"""The null of a continuous session: the behavior shifted in time, circularly, against the
neural data.

Re-pairing the windows of one session is no null for it: windows near each other share slow
signals (drift, arousal, a posture held for minutes), so a re-paired window is paired with one
from another part of the session and loses what the real pairing keeps even when nothing is
time-locked — a false positive. A circular shift keeps each modality's own structure, slow
signals included, and moves the behavior as a whole against the neural data: the session's
behavior, joined end to end, is rolled by ``shift`` bins (the end wraps round to the start) and
cut again into the same windows. Shifts are at least one window and at least ``MIN_FRACTION`` of
the session away from zero (in either direction), and spread evenly over the allowed range with a
seeded random offset, so that N shifts sample the range rather than cluster.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mmgpvae_core.continuous import join_windows
from mmgpvae_core.data import Dataset

#: the smallest shift, as a fraction of the session (and at least one window)
MIN_FRACTION = 0.1


def min_shift_bins(n_bins: int, window_bins: int) -> int:
    """The smallest allowed shift: one window and ``MIN_FRACTION`` of the session, in bins."""
    return max(int(window_bins), math.ceil(MIN_FRACTION * n_bins))


def circular_shifts(n_bins: int, window_bins: int, shifts: int, seed: int = 0) -> list[int]:
    """``shifts`` distinct shifts in bins, each in ``[m, n_bins − m]`` (m: :func:`min_shift_bins`;
    a shift of ``n_bins − s`` is ``−s``), evenly spaced over that range from a seeded random
    offset. Raises ValueError when the session is too short for the shifts asked."""
    if shifts < 1:
        raise ValueError("shifts: need at least 1")
    m = min_shift_bins(n_bins, window_bins)
    span = n_bins - 2 * m + 1  # allowed shifts m … n_bins − m
    if span < shifts:
        raise ValueError(
            f"a session of {n_bins} bins allows {max(span, 0)} circular shift(s) of at least "
            f"{m} bins (one window and {MIN_FRACTION:.0%} of the session) from zero; "
            f"{shifts} asked"
        )
    step = span / shifts
    offset = np.random.default_rng([seed, 13]).uniform(0, step)
    out = [m + int(offset + k * step) for k in range(shifts)]
    return sorted(set(out))


def shifted(behavior: Dataset, shift: int, lengths: np.ndarray | None = None) -> Dataset:
    """``behavior`` (a continuous session's windows) rolled ``shift`` bins later in time over
    the whole session and cut again into the same windows. ``lengths`` (windows,): the neural
    windows' lengths; the shifted behavior is missing (NaN) past each one's end, as in
    re-pairing."""
    joined = join_windows(behavior)
    data = np.roll(joined, int(shift), axis=0).reshape(behavior.data.shape).copy()
    if lengths is not None:
        data[np.arange(data.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = np.nan
    return dataclasses.replace(
        behavior, data=data, source=f"{behavior.source} (shifted {int(shift)} bins)"
    )
