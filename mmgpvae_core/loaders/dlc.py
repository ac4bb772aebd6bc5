"""DeepLabCut pose: ``.csv`` with 3 header rows (scorer / bodyparts / coords; multi-animal adds an
``individuals`` row after scorer) or ``.h5`` (pandas, key ``df_with_missing``).

Each body part gives channels ``<part>_x`` and ``<part>_y`` (``<animal>_<part>_x`` for multi-animal
files); points whose likelihood is under ``likelihood_threshold`` (default 0.6) become missing.
DeepLabCut files do not carry the video frame rate: pass it (``--behavior-rate``).

Labeled-data files (``CollectedData_<scorer>.csv/.h5``: hand-placed x, y on extracted images,
image paths as the index) are training frames, not a recording: refused, naming the predictions
file to give instead.

Not read with sleap-io: its ``load_dlc`` is a reader of those labeled-data files (it keys frames
by image path and skips rows whose image is not on disk), reads no likelihood column (so no
threshold), reads no ``.h5``, and builds one Python object per row; the predictions that
``analyze_videos`` writes are a plain table, read here with pandas in one pass.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mmgpvae_core.data import DataError, file_checksum
from mmgpvae_core.loaders.recording import Recording, pose_names

DEFAULT_LIKELIHOOD = 0.6


def looks_like_dlc_csv(path: Path) -> bool:
    """True if the first cell is 'scorer' (or the name has DeepLabCut's 'DLC_' tag)."""
    if "DLC_" in path.name:
        return True
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    return bool(first) and first[0].strip().lower() == "scorer"


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _is_image_path(cell: object) -> bool:
    """A row label of a labeled-data file: ``labeled-data/<video>/img0012.png`` (older DLC),
    or its first part ``labeled-data`` (DLC ≥ 2.2 splits the path over three index columns)."""
    text = str(cell).strip().replace("\\", "/").lower()
    return (
        text == "labeled-data" or text.startswith("labeled-data/") or text.endswith(_IMAGE_SUFFIXES)
    )


def labeled_data(path: Path, first: object) -> DataError:
    """The refusal of a DeepLabCut labeled-data file (``CollectedData_<scorer>.csv/.h5``)."""
    return DataError(
        path,
        "index",
        f"image paths ('{first}', …) with hand-placed x, y: DeepLabCut labeled training frames "
        "(a CollectedData file), not a recording; expected the predictions file that "
        "deeplabcut.analyze_videos writes for a video (<video>DLC_<network>.h5 or .csv, one "
        "row per frame with x, y, likelihood)",
    )


def _header(path: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """Number of header rows and (animal, bodypart, coord) per data column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [next(reader, None) for _ in range(5)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, "header", f"not a readable CSV file ({exc})") from None
    rows = [r for r in rows if r is not None]
    expect = (
        "expected DeepLabCut's header rows 'scorer', ['individuals',] 'bodyparts', 'coords' "
        "with coords x, y, likelihood"
    )
    if len(rows) < 3 or not rows[0] or rows[0][0].strip().lower() != "scorer":
        first = rows[0][0] if rows and rows[0] else ""
        raise DataError(path, "header", f"row 1 starts with '{first}'; {expect}")
    labels = [r[0].strip().lower() if r else "" for r in rows]
    multi = labels[1] == "individuals"
    n_header = 4 if multi else 3
    if len(rows) > n_header and rows[n_header] and _is_image_path(rows[n_header][0]):
        raise labeled_data(path, rows[n_header][0])
    want = (
        ["scorer", "individuals", "bodyparts", "coords"]
        if multi
        else ["scorer", "bodyparts", "coords"]
    )
    if len(rows) < n_header or labels[:n_header] != want:
        got = labels[:n_header]
        raise DataError(path, "header", f"first cells of the header rows are {got}; {expect}")
    ncol = len(rows[0])
    if any(len(r) != ncol for r in rows[:n_header]):
        raise DataError(path, "header", f"header rows of unequal length; {expect}")
    animals = rows[1][1:] if multi else [""] * (ncol - 1)
    parts = rows[n_header - 2][1:]
    coords = [c.strip() for c in rows[n_header - 1][1:]]
    return n_header, list(zip([a.strip() for a in animals], [p.strip() for p in parts], coords))


def _layout_values(
    path: Path, columns: list[tuple[str, str, str]], values: np.ndarray, threshold: float
) -> Recording:
    """Split x/y from likelihood columns, mask low-likelihood points, build the Recording."""
    expect = "expected coords x, y, likelihood for every body part"
    if len(columns) == 0 or len(columns) % 3:
        raise DataError(path, "coords", f"{len(columns)} data columns; {expect}")
    xy_cols, lk_cols, layout = [], [], []
    for j in range(0, len(columns), 3):
        trio = columns[j : j + 3]
        if [c for _, _, c in trio] != ["x", "y", "likelihood"] or len(
            {(a, b) for a, b, _ in trio}
        ) != 1:
            raise DataError(path, "coords", f"columns {j + 2}-{j + 4} are {trio}; {expect}")
        a, b, _ = trio[0]
        xy_cols += [j, j + 1]
        lk_cols += [j + 2, j + 2]
        layout += [(a, b, "x"), (a, b, "y")]
    xy = np.asarray(values[:, xy_cols], dtype=np.float64)
    lk = np.asarray(values[:, lk_cols], dtype=np.float64)
    low = lk < threshold
    n_masked = int(low[:, ::2].sum())
    xy[low] = np.nan
    return Recording(
        values=xy,
        channel_names=pose_names(layout),
        source=str(path),
        field="coords",
        kind="deeplabcut",
        signal="pose",
        pose_layout=layout,
        checksum=file_checksum(path),
        preprocessing={
            "likelihood_threshold": threshold,
            "points_masked_low_likelihood": n_masked,
        },
    )


def load_dlc_csv(
    path: str | Path, *, likelihood_threshold: float = DEFAULT_LIKELIHOOD, **_
) -> Recording:
    import pandas as pd

    path = Path(path)
    n_header, columns = _header(path)
    try:
        df = pd.read_csv(path, skiprows=n_header, header=None, index_col=0, dtype=np.float64)
    except pd.errors.EmptyDataError:
        raise DataError(
            path, "coords", "no frames under the header; expected one row per frame"
        ) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, "coords", f"non-numeric values under the header ({exc})") from None
    if df.shape[1] != len(columns):
        raise DataError(
            path, "coords", f"{df.shape[1]} data columns but the header names {len(columns)}"
        )
    if df.shape[0] == 0:
        raise DataError(path, "coords", "no frames under the header; expected one row per frame")
    multi = n_header == 4
    cols = columns if multi else [("", b, c) for _, b, c in columns]
    return _layout_values(path, cols, df.to_numpy(), likelihood_threshold)


def _row_label(label: object) -> str:
    """A row label as text: DLC ≥ 2.2 labeled data use a 3-level index (folder, video, image)."""
    return "/".join(map(str, label)) if isinstance(label, tuple) else str(label)


def load_dlc_h5(
    path: str | Path, *, likelihood_threshold: float = DEFAULT_LIKELIHOOD, **_
) -> Recording:
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_hdf(path, key="df_with_missing")
    except (OSError, KeyError, ValueError, TypeError, ImportError) as exc:
        raise DataError(
            path, "df_with_missing", f"not a readable DeepLabCut table ({exc})"
        ) from None
    if df.shape[0] and _is_image_path(_row_label(df.index[0])):
        raise labeled_data(path, _row_label(df.index[0]))
    names = [n.lower() if n else "" for n in (df.columns.names or [])]
    if not isinstance(df.columns, pd.MultiIndex) or names[-2:] != ["bodyparts", "coords"]:
        raise DataError(
            path,
            "df_with_missing",
            f"column levels {df.columns.names}; expected (scorer, [individuals,] bodyparts, coords)",
        )
    multi = "individuals" in names
    cols = [
        (str(c[names.index("individuals")]) if multi else "", str(c[-2]), str(c[-1]))
        for c in df.columns
    ]
    if df.shape[0] == 0:
        raise DataError(path, "df_with_missing", "no frames; expected one row per frame")
    return _layout_values(path, cols, df.to_numpy(dtype=np.float64), likelihood_threshold)
