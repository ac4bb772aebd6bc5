"""A continuous recording: what every format reader produces before trials are cut.

A :class:`Recording` is either sampled values ``(time, channels)`` on a regular grid (``rate_hz``
and ``start_s``) or at explicit ``timestamps``, or point events (``spike_times``, one sorted array
of seconds per unit). Times are absolute seconds in the file's own clock (frame 0 at 0 s unless the
file says otherwise), so two modalities of one session can be aligned before binning.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from mmgpvae_core.data import DataError, real_dtype_problem
from mmgpvae_core.loaders.checks import warn_data


@dataclass
class TrialTable:
    """Trial intervals in seconds: ``start`` and ``stop`` ``(trials,)``, optional ``conditions``."""

    start: np.ndarray
    stop: np.ndarray
    conditions: np.ndarray | None
    source: str
    field: str = "trials"


@dataclass
class Recording:
    """One modality as one long recording.

    values: ``(time, channels)`` float (NaN = missing), or None for point events.
    spike_times: per channel a sorted ``(spikes,)`` array of seconds, or None for sampled values.
    rate_hz / start_s: the regular sampling grid (sample ``i`` at ``start_s + i / rate_hz``);
    timestamps: ``(time,)`` seconds when the grid is irregular (then ``rate_hz`` is an estimate).
    rate_from: where the rate came from (e.g. ``"ops.fs"``), None if the file does not carry one.
    pose_layout: for pose data, ``(animal, bodypart, coord)`` per channel (animal ``""`` if one).
    trials: a trials table embedded in the file (NWB ``/intervals/trials``), if any.
    times_are_frame_indices: the file's times are frame numbers 0, 1, 2, … (DLC2NWB writes
    these), not seconds: read as 1 Hz unless a rate is given, which then wins (with a warning).
    """

    values: np.ndarray | None
    channel_names: list[str]
    source: str
    field: str
    kind: str
    rate_hz: float | None = None
    start_s: float = 0.0
    timestamps: np.ndarray | None = None
    rate_from: str | None = None
    spike_times: list[np.ndarray] | None = None
    pose_layout: list[tuple[str, str, str]] | None = None
    trials: TrialTable | None = None
    times_are_frame_indices: bool = False
    checksum: str = ""
    preprocessing: dict[str, Any] = dc_field(default_factory=dict)
    signal: str = ""  # what the reader knows it read (config.SIGNALS); "": unknown

    def __post_init__(self) -> None:
        if self.values is not None:
            dtype = getattr(self.values, "dtype", None)
            dtype = np.asarray(self.values).dtype if dtype is None else dtype
            problem = real_dtype_problem(dtype)
            if problem:
                raise DataError(self.source, self.field, problem)

    def provenance(self) -> dict[str, str]:
        """What a Dataset made of this recording carries from it: source, field, checksum, kind
        and signal (``Dataset(data=…, **rec.provenance())``)."""
        return {
            "source": self.source,
            "field": self.field,
            "checksum": self.checksum,
            "kind": self.kind,
            "signal": self.signal,
        }

    # ------------------------------------------------------------------ shape and time
    @property
    def is_events(self) -> bool:
        return self.spike_times is not None

    @property
    def n_samples(self) -> int:
        return 0 if self.values is None else int(self.values.shape[0])

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def period_s(self) -> float | None:
        """The sampling period, None for events or an unknown rate."""
        if self.is_events or self.rate_hz is None:
            return None
        return 1.0 / self.rate_hz

    @property
    def t_start(self) -> float:
        if self.is_events:
            firsts = [s[0] for s in self.spike_times if len(s)]  # spike times count from 0 s
            return min(0.0, float(min(firsts))) if firsts else 0.0
        if self.timestamps is not None:
            return float(self.timestamps[0])
        return float(self.start_s)

    @property
    def t_stop(self) -> float:
        """End of the recorded time: one period after the last sample (the last spike for events)."""
        if self.is_events:
            lasts = [s[-1] for s in self.spike_times if len(s)]
            return float(max(lasts)) if lasts else 0.0
        self.require_rate("time")
        if self.timestamps is not None:
            return float(self.timestamps[-1]) + 1.0 / self.rate_hz
        return float(self.start_s) + self.n_samples / self.rate_hz

    def require_rate(self, why: str, flag: str = "--rate") -> None:
        if not self.is_events and self.rate_hz is None:
            raise DataError(
                self.source,
                "sampling rate",
                f"the file does not carry its sampling rate, which is needed for {why}; "
                f"give it with {flag} HZ",
            )

    def apply_rate(self, rate_hz: float | None, flag: str = "--rate") -> None:
        """Use a rate given by the user; an error if it contradicts the rate the file carries."""
        if rate_hz is None or self.is_events:
            return
        if not rate_hz > 0:
            raise DataError(self.source, flag, f"{rate_hz} Hz; expected a positive rate")
        if self.rate_from is not None and self.rate_hz is not None:
            if self.times_are_frame_indices and not np.isclose(rate_hz, self.rate_hz, rtol=1e-3):
                warn_data(
                    self.source,
                    self.rate_from,
                    f"the times are frame numbers ({_frames(self.n_samples)}), not seconds: "
                    f"frames at {rate_hz:g} Hz from {flag}",
                )
                self.start_s = float(self.start_s) * self.rate_hz / rate_hz
                self.rate_hz = float(rate_hz)
                self.rate_from = None
                self.preprocessing["rate_hz_given"] = float(rate_hz)
                self.preprocessing["times_were_frame_indices"] = True
                return
            if not np.isclose(rate_hz, self.rate_hz, rtol=1e-3):
                raise DataError(
                    self.source,
                    self.rate_from,
                    f"the file says {self.rate_hz:g} Hz but {flag} says {rate_hz:g} Hz; "
                    f"leave out {flag} or make it agree with the file",
                )
            return
        self.rate_hz = float(rate_hz)
        self.rate_from = None
        self.preprocessing["rate_hz_given"] = float(rate_hz)

    def sample_index(self, t: np.ndarray) -> np.ndarray:
        """Index of the first sample at or after each time in ``t`` (clipped to [0, n])."""
        t = np.asarray(t, dtype=np.float64)
        if self.timestamps is not None:
            return np.searchsorted(self.timestamps, t - 1e-9, side="left")
        pos = (t - self.start_s) * self.rate_hz
        idx = np.ceil(pos - 1e-6).astype(np.int64)
        return np.clip(idx, 0, self.n_samples)

    # ------------------------------------------------------------------ summary
    def missing_fraction(self) -> float:
        if self.values is None or self.values.size == 0:
            return 0.0
        n = 0
        step = max(1, (1 << 22) // max(1, self.n_channels))
        for i in range(0, self.n_samples, step):
            n += int(np.isnan(self.values[i : i + step]).sum())
        return n / self.values.size

    def summary(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "source": self.source,
            "kind": self.kind,
            "signal": self.signal,
            "field": self.field,
            "layout": "spike times" if self.is_events else "continuous (time, channels)",
        }
        if self.is_events:
            info["units"] = self.n_channels
            info["spikes"] = int(sum(len(s) for s in self.spike_times))
        else:
            info["shape"] = [self.n_samples, self.n_channels]
            info["rate_hz"] = self.rate_hz
            info["rate_from"] = self.rate_from or ("given" if self.rate_hz else None)
            if self.times_are_frame_indices:
                info["times_are_frame_indices"] = True  # 1 Hz only if the frames are seconds
            info["bin_size_s"] = self.period_s
            info["missing_fraction"] = round(self.missing_fraction(), 4)
        if self.is_events or self.rate_hz is not None:
            info["time_range_s"] = [round(self.t_start, 6), round(self.t_stop, 6)]
        info["channels"] = self.n_channels
        info["channel_names"] = self.channel_names[:12] + (["..."] if self.n_channels > 12 else [])
        if self.trials is not None:
            cond = self.trials.conditions
            info["trials"] = len(self.trials.start)
            info["conditions"] = [] if cond is None else sorted({str(c) for c in cond})
        else:
            info["conditions"] = []
        if self.preprocessing:
            info["preprocessing"] = self.preprocessing
        return info

    # ------------------------------------------------------------------ channel edits
    def keep_channels(self, keep: np.ndarray) -> None:
        """Keep only the channels where ``keep`` (bool, ``(channels,)``) is True."""
        keep = np.asarray(keep, dtype=bool)
        if keep.all():
            return
        idx = np.flatnonzero(keep)
        if self.values is not None:
            self.values = self.values[:, idx]
        if self.spike_times is not None:
            self.spike_times = [self.spike_times[i] for i in idx]
        self.channel_names = [self.channel_names[i] for i in idx]
        if self.pose_layout is not None:
            self.pose_layout = [self.pose_layout[i] for i in idx]


def _frames(n: int) -> str:
    return ", ".join(str(i) for i in range(min(n, 3))) + (", …" if n > 3 else "")


def pose_names(layout: list[tuple[str, str, str]]) -> list[str]:
    """Channel names for pose coordinates: ``bodypart_x`` or ``animal_bodypart_x``."""
    return [f"{a}_{b}_{c}" if a else f"{b}_{c}" for a, b, c in layout]


def center_pose(rec: Recording, reference: str) -> None:
    """Egocentric pose: subtract the ``reference`` body part's x/y (per animal) from every point.

    The reference's own coordinates (zero by construction) are dropped. A frame where the reference
    is missing becomes missing for that animal: nothing is filled in.
    """
    if rec.pose_layout is None or rec.values is None:
        raise DataError(rec.source, "egocentric", "centering needs pose data (x/y per body part)")
    layout = rec.pose_layout
    parts = sorted({b for _, b, _ in layout})
    if reference not in parts:
        raise DataError(
            rec.source, "egocentric", f"no body part '{reference}'; the file has {parts}"
        )
    values = rec.values if rec.values.dtype.kind == "f" else rec.values.astype(np.float64)
    values = np.array(values, copy=True) if not values.flags.writeable else values
    for animal in sorted({a for a, _, _ in layout}):
        for coord in ("x", "y", "z"):
            try:
                ref = layout.index((animal, reference, coord))
            except ValueError:
                continue
            cols = [
                i
                for i, (a, b, c) in enumerate(layout)
                if a == animal and c == coord and b != reference
            ]
            values[:, cols] -= values[:, [ref]]
    rec.values = values
    keep = np.array([b != reference for _, b, _ in layout])
    rec.keep_channels(keep)
    rec.preprocessing["egocentric_reference"] = reference
