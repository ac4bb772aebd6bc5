"""A choice on the edge of the grid, and growing the grid past it (``mmgpvae sweep --grow``).

When the chosen split takes the largest value tried for a subspace, the best may lie beyond
the grid: a sweep over 2, 4, 6, 8 shared dimensions that picks 8 says only "8 or more". Growing
adds the next value of each such subspace (one step of its grid: the gap between its two largest
values), fits only the configurations that are new, chooses again over every row, and repeats
until the choice is inside the grid or ``rounds`` extensions were made.

A grid is held as ``axes``: the keyword arguments of :func:`~mmgpvae_core.sweep.grid.make_grid`
(``shared``, ``private_neural``, ``private_behavior`` and the hyper-parameter lists), so a new
grid dimension added there passes through unchanged; only the latent split grows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mmgpvae_core.data import Dataset
from mmgpvae_core.sweep.grid import SPLIT_KEYS, config_name, make_grid
from mmgpvae_core.sweep.run import SweepSettings, run_sweep
from mmgpvae_core.sweep.selection import SweepResult, choose


def edge_dimensions(result: SweepResult, axes: dict[str, Sequence[Any]]) -> list[str]:
    """The subspaces whose chosen value is the largest tried (among those tried at more than
    one value: a value the user fixed is no edge)."""
    best = result.best
    if best is None:
        return []
    return [
        k for k in SPLIT_KEYS if len(set(axes[k])) > 1 and int(best[k]) == max(axes[k])
    ]


def edge_line(result: SweepResult, axes: dict[str, Sequence[Any]], grow_hint: bool = True) -> str:
    """``edge: shared=8 is the largest value tried …`` for the output; "" inside the grid."""
    edges = edge_dimensions(result, axes)
    if not edges:
        return ""
    what = ", ".join(f"{k}={result.best[k]}" for k in edges)
    one = len(edges) == 1
    line = (
        f"edge: the chosen {what} {'is' if one else 'are'} the largest value{'' if one else 's'} "
        "tried: the best may lie beyond the grid"
    )
    return line + (" (--grow extends it)" if grow_hint else "")


def grid_step(values: Sequence[int]) -> int:
    """The step of a subspace's grid: the gap between its two largest values (at least 1)."""
    v = sorted(set(int(x) for x in values))
    return max(1, v[-1] - v[-2]) if len(v) > 1 else 1


def extended(axes: dict[str, Sequence[Any]], edges: Sequence[str]) -> dict[str, list[Any]]:
    """``axes`` with one more value, a step above the largest, for each subspace in ``edges``."""
    out = {k: list(v) for k, v in axes.items()}
    for k in edges:
        out[k] = sorted(set(out[k]) | {max(out[k]) + grid_step(out[k])})
    return out


def grow_sweep(
    neural: Dataset,
    behavior: Dataset | None,
    axes: dict[str, Sequence[Any]],
    result: SweepResult,
    settings: SweepSettings,
    *,
    rounds: int = 3,
    on_extend: Callable[[int, dict[str, int], int], None] | None = None,
    **execution: Any,
) -> tuple[SweepResult, dict[str, list[Any]]]:
    """Extend the grid of a finished sweep (``result`` of ``make_grid(**axes)``) while its
    choice is on the edge: each round adds one step to every edge subspace, fits only the new
    configurations (``execution``: :func:`run_sweep`'s keywords) and chooses again over all
    rows. ``on_extend(round, {subspace: value added}, new configurations)`` before each round.
    Returns the result over every row (in grid order) and the grown axes."""
    axes = {k: list(v) for k, v in axes.items()}
    for k in range(1, rounds + 1):
        edges = edge_dimensions(result, axes)
        if not edges or result.cancelled:
            break
        axes = extended(axes, edges)
        done = {config_name(r) for r in result.rows}
        grid = make_grid(**axes)
        new = [c for c in grid if config_name(c) not in done]
        if on_extend is not None:
            on_extend(k, {e: max(axes[e]) for e in edges}, len(new))
        more = run_sweep(neural, behavior, new, settings, **execution)
        order = {config_name(c): i for i, c in enumerate(grid)}
        rows = sorted(result.rows + more.rows, key=lambda r: order.get(config_name(r), len(order)))
        result = choose(rows, more.cancelled)
    return result, axes
