"""The one-standard-error rule of the package docstring: which configuration, and why."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgpvae_core.sweep.grid import config_name, format_value, swept


def mlp_decoders(row: dict[str, Any]) -> int:
    """How many of the decoders a configuration sets are MLPs: of two tied configurations the
    one with linear read-outs is the simpler (0 where the sweep left the decoders alone)."""
    return sum(row.get(k) == "mlp" for k in ("neural_decoder", "behavior_decoder"))


def select_best(rows: Sequence[dict[str, Any]]) -> tuple[int, str]:
    """Index of the chosen row by the one-standard-error rule (module docstring), and why."""
    ok = [i for i, r in enumerate(rows) if r.get("status") == "ok" and np.isfinite(r["score"])]
    if not ok:
        raise ValueError("no configuration finished: nothing to choose from")
    top = max(ok, key=lambda i: rows[i]["score"])
    best = np.asarray(rows[top]["score_per_trial"])
    tied = []
    for i in ok:
        d = best - np.asarray(rows[i]["score_per_trial"])
        se = np.std(d, ddof=1) / math.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= se:
            tied.append(i)
    chosen = min(
        tied,
        key=lambda i: (
            rows[i]["n_latents"], rows[i]["shared"], mlp_decoders(rows[i]), -rows[i]["score"]
        ),
    )
    if chosen == top:
        why = f"highest held-out predictive score ({rows[top]['score']:.2f} nats/trial)"
    else:
        why = (
            f"fewest latents within one standard error of the best score "
            f"({rows[chosen]['score']:.2f} vs {rows[top]['score']:.2f} nats/trial for "
            f"{config_name(rows[top])}; {len(tied)} configuration(s) tied)"
        )
    return chosen, why


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    best_index: int | None
    reason: str
    cancelled: bool = False

    @property
    def best(self) -> dict[str, Any] | None:
        return None if self.best_index is None else self.rows[self.best_index]

    def best_line(self) -> str:
        """``best: shared=S private_neural=A private_behavior=B`` and each option the chosen
        configuration set (``kernel=NAME lr=0.01 neural_decoder=mlp …``)."""
        b = self.best
        if b is None:
            return "best: none"
        line = (
            f"best: shared={b['shared']} private_neural={b['private_neural']} "
            f"private_behavior={b['private_behavior']}"
        )
        # every option the sweep set, as NAME=VALUE (the kernel first, as before other options
        # could be swept): what to give ``fit`` for the chosen configuration
        return line + "".join(f" {k}={format_value(v)}" for k, v in swept(b))


def choose(rows: list[dict[str, Any]], cancelled: bool = False) -> SweepResult:
    """The sweep's result over ``rows``: the chosen one marked (``chosen``), and why."""
    try:
        best, why = select_best(rows)
    except ValueError as exc:
        best, why = None, str(exc)
    for i, r in enumerate(rows):
        r["chosen"] = i == best
    return SweepResult(rows, best, why, cancelled)
