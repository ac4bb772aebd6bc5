"""CSV of time + columns: a first column ``time`` (also ``t``, ``timestamp``, ``timestamps``,
``time_s``) in seconds, then one numeric column per channel; empty cells are missing.

Without a time column the rows are taken as regular samples and the rate must be given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgpvae_core.data import DataError, file_checksum
from mmgpvae_core.loaders.recording import Recording

TIME_COLUMNS = ("time", "t", "timestamp", "timestamps", "time_s", "seconds")


def timestamps_recording(rec: Recording, t: np.ndarray, field: str) -> None:
    """Attach timestamps ``t`` to ``rec`` (regular ones become rate + start)."""
    t = np.asarray(t, dtype=np.float64)
    if t.size and not np.isfinite(t).all():
        raise DataError(rec.source, field, "non-finite times; expected seconds")
    d = np.diff(t)
    if (d <= 0).any():
        k = int(np.flatnonzero(d <= 0)[0])
        raise DataError(
            rec.source, field, f"times not increasing at row {k + 2} ({t[k]:g} then {t[k + 1]:g})"
        )
    if t.size < 2:
        raise DataError(rec.source, field, f"{t.size} sample(s); expected at least 2")
    period = float(np.median(d))
    rec.rate_hz = 1.0 / period
    rec.rate_from = field
    if np.allclose(d, period, rtol=1e-3, atol=0):
        rec.start_s = float(t[0])
        rec.rate_hz = (t.size - 1) / (t[-1] - t[0])
        # frame numbers 0, 1, 2, … written as times (DLC2NWB does): a given rate may win
        rec.times_are_frame_indices = bool(t[0] >= 0 and (d == 1.0).all() and t[0] == int(t[0]))
    else:
        rec.timestamps = t


def load_table(path: str | Path, *, time_column: str | None = None, **_) -> Recording:
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(path, "-", f"not a readable CSV file ({exc})") from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(path, "-", "no rows; expected a header and one row per sample")
    cols = [str(c) for c in df.columns]
    tcol = time_column
    if tcol is None:
        tcol = next((c for c in cols if c.strip().lower() in TIME_COLUMNS), None)
    elif tcol not in cols:
        raise DataError(path, tcol, f"no such column; the header is {cols}")
    chans = [c for c in cols if c != tcol]
    if not chans:
        raise DataError(path, "-", f"only a time column; expected data columns after '{tcol}'")
    try:
        values = df[chans].to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        bad = next(c for c in chans if not pd.api.types.is_numeric_dtype(df[c]))
        raise DataError(
            path, bad, "non-numeric values; expected numbers (empty = missing)"
        ) from None
    rec = Recording(
        values=values,
        channel_names=chans,
        source=str(path),
        field=chans[0] if len(chans) == 1 else "columns",
        kind="csv",
        checksum=file_checksum(path),
    )
    if tcol is not None:
        try:
            t = df[tcol].to_numpy(dtype=np.float64)
        except (ValueError, TypeError):
            raise DataError(path, tcol, "non-numeric times; expected seconds") from None
        timestamps_recording(rec, t, tcol)
    return rec
