"""What a pass over the data learns, block by block: the summary of finite values that the
likelihoods' data checks and automatic choice read (:class:`ValueSummary`), and per-channel
moments that ignore NaN (:func:`nan_moments`). Nothing of an hour-long session's size is
allocated; data that fit in one block give exactly the whole-array numbers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: values one block of a pass over the data holds (the summary reads them as float64: 8 MiB)
BLOCK_VALUES = 1 << 20
#: a value is an integer when it is this close to one
INTEGER_TOL = 1e-6


def _chunks(a: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """1-D pieces of ``a`` of at most ``n`` values, in C order, without copying ``a`` (each
    trial of an array that is not contiguous is taken on its own)."""
    if a.ndim <= 1 or a.flags.c_contiguous:
        flat = a.reshape(-1)  # a view
        for i in range(0, flat.size, n):
            yield flat[i : i + n]
    else:
        for sub in a:
            yield from _chunks(sub, n)


@dataclass(frozen=True)
class ValueSummary:
    """What the data checks and the automatic choice know of the finite values of an array:
    counts, the minimum, the first non-integer value (in C order), how many are 0 and 1.

    ``ValueSummary.of(values)`` gathers it block by block (``BLOCK_VALUES`` at a time, in
    float64), so no copy of the whole array is made.
    """

    n: int = 0
    n_negative: int = 0
    min: float = math.inf
    n_non_integer: int = 0
    first_non_integer: float = math.nan
    n_zero: int = 0
    n_one: int = 0

    @property
    def non_negative(self) -> bool:
        return self.n_negative == 0

    @property
    def integer(self) -> bool:
        return self.n_non_integer == 0

    @property
    def binary(self) -> bool:
        """Every value is 0 or 1 (True for no values, as ``np.isin(…).all()`` is)."""
        return self.n_zero + self.n_one == self.n

    @classmethod
    def of_block(cls, block: np.ndarray) -> ValueSummary:
        """The summary of one block (any shape; read as float64)."""
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        x = x[np.isfinite(x)]
        if not x.size:
            return cls()
        frac = np.abs(x - np.round(x)) > INTEGER_TOL
        n_frac = int(np.count_nonzero(frac))
        return cls(
            n=int(x.size),
            n_negative=int(np.count_nonzero(x < 0)),
            min=float(x.min()),
            n_non_integer=n_frac,
            first_non_integer=float(x[np.argmax(frac)]) if n_frac else math.nan,
            n_zero=int(np.count_nonzero(x == 0)),
            n_one=int(np.count_nonzero(x == 1)),
        )

    def merge(self, later: ValueSummary) -> ValueSummary:
        """This summary and that of values after these."""
        return ValueSummary(
            n=self.n + later.n,
            n_negative=self.n_negative + later.n_negative,
            min=min(self.min, later.min),
            n_non_integer=self.n_non_integer + later.n_non_integer,
            first_non_integer=(
                self.first_non_integer if self.n_non_integer else later.first_non_integer
            ),
            n_zero=self.n_zero + later.n_zero,
            n_one=self.n_one + later.n_one,
        )

    @staticmethod
    def blocks(values: Any) -> Iterator[np.ndarray]:
        """1-D views of the values of an array, a Dataset (its ``data``) or a list, in C order,
        ``BLOCK_VALUES`` at a time."""
        return _chunks(np.asarray(getattr(values, "data", values)), max(1, int(BLOCK_VALUES)))

    @classmethod
    def of(cls, values: Any) -> ValueSummary:
        """The summary of all the values (a summary is returned as it is)."""
        if isinstance(values, ValueSummary):
            return values
        out = cls()
        for block in cls.blocks(values):
            out = out.merge(cls.of_block(block))
        return out


#: values standing for whatever blocks are still to come, one of each sort a summary tells
#: apart (negative, non-integer, neither 0 nor 1, 0, 1): merged in every combination, they give
#: every set of predicates the rest of the data could lead to
WITNESS_VALUES = (-1.0, 0.5, 2.0, 0.0, 1.0)
WITNESSES = [
    ValueSummary.of_block(np.array([v for j, v in enumerate(WITNESS_VALUES) if m >> j & 1]))
    for m in range(1, 1 << len(WITNESS_VALUES))
]



def row_blocks(flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Views of ``flat`` (samples, channels), about ``BLOCK_VALUES`` values each."""
    return flat.split(max(1, int(BLOCK_VALUES) // max(1, flat.shape[-1])))


def _add(total: torch.Tensor | None, part: torch.Tensor) -> torch.Tensor:
    return part if total is None else total + part


@torch.no_grad()
def nan_moments(flat: torch.Tensor, var: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-channel ``torch.nanmean(flat, 0)`` and ``torch.nanmean((flat - mean)**2, 0)`` of
    ``flat`` (samples, channels; NaN = missing), or None for the second when ``var`` is False.

    Two passes over row blocks of ``BLOCK_VALUES`` values (views), so nothing of ``flat``'s
    size is allocated; the block sums are added in ``flat``'s dtype, so data that fit in one
    block give exactly the whole-array numbers. A channel with no observed value gets NaN.
    """
    blocks = row_blocks(flat)
    total = count = None
    for b in blocks:
        total = _add(total, torch.nansum(b, dim=0))
        count = _add(count, (~torch.isnan(b)).sum(dim=0))
    mean = total / count
    if not var:
        return mean, None
    sq = None
    for b in blocks:
        sq = _add(sq, torch.nansum((b - mean) ** 2, dim=0))
    return mean, sq / count
