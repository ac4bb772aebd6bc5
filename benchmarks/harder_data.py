"""Harder data, same defaults: sparse firing, unequal NaN-padded trials, occluded pose, short and
long length-scales — default recovery and time, before vs after.

Data: ``simulate_hard(seed=s)`` (``synthetic.simulate``): 90 trials of 48–80 bins (NaN-padded
to 80), 50 Poisson neurons at 0.3 spikes per bin on average, 6 keypoints (12 channels) with
about 14 % of their bins occluded in blocks of 5–20 bins, 2 + 1 + 1 latents with length-scales
3, 5.6, 10.6 and 20 bins dealt in a random order. Fit, export and scoring as in
``time_to_fit.py`` (the same runs: ``baseline`` = the code of ``--baseline-rev`` with its
defaults, ``old defaults``, ``new defaults``), interleaved seed by seed. Replaces its section of
``benchmarks/RESULTS.md`` (``--no-write`` to print only).

    .venv/bin/python benchmarks/harder_data.py                  # seeds 1–6: ~10 min
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import time_to_fit as ttf  # noqa: E402

SECTION = "## Harder data"


def bound_table(rows: list[dict], seeds: list[int], make) -> str:
    """The Bayes bound of ``bayes_bound.py`` per seed, and each run's private neural R² as a
    fraction of it."""
    from bayes_bound import bound

    labels = list(dict.fromkeys(r["label"] for r in rows))
    b = {s: bound(make(seed=s)) for s in seeds}
    ell = {s: make(seed=s).truth["length_scales"][2] for s in seeds}
    out = (
        "Bayes bound (`bayes_bound.py`: the private neural latent inferred knowing the true "
        "shared latents, loading, offsets and length-scale) and each run's private neural R² "
        "as a fraction of it:\n\n| seed | ℓ private neural (bins) | bound | "
        + " | ".join(labels) + " |\n|---:|---:|---:|" + "---:|" * len(labels) + "\n"
    )
    for s in seeds:
        frac = [
            next(r["r2_private_neural"] for r in rows if r["seed"] == s and r["label"] == lab)
            / b[s]
            for lab in labels
        ]
        out += f"| {s} | {ell[s]:.1f} | {b[s]:.3f} | " + " | ".join(f"{f:.3f}" for f in frac)
        out += " |\n"
    mean_b = sum(b.values()) / len(b)
    means = [
        sum(r["r2_private_neural"] for r in rows if r["label"] == lab) / len(seeds) / mean_b
        for lab in labels
    ]
    out += f"| **mean** | | {mean_b:.3f} | " + " | ".join(f"{m:.3f}" for m in means) + " |\n"
    return out


def main(argv: list[str] | None = None) -> int:
    a = ttf.parser(__doc__, [1, 2, 3, 4, 5, 6]).parse_args(argv)
    if a._worker:
        ttf._worker(json.loads(a._worker))
        return 0
    size = ttf.apply_smoke(a)
    sys.path.insert(0, str(ttf.ROOT))
    from mmgpvae_core.synthetic.simulate import simulate_hard

    make = functools.partial(simulate_hard, **size)
    rows, facts = ttf.run_all(a, lambda seed: make(seed=seed))
    data = (
        "Data: `simulate_hard(seed=s)`: 90 trials of 48–80 bins NaN-padded to 80, 50 Poisson "
        "neurons at 0.3 spikes/bin, 12 pose channels with ~14 % of bins occluded in blocks of "
        "5–20 bins, 2 + 1 + 1 latents with length-scales 3–20 bins. Default fit (seed 0, CPU), "
        "project written, latents exported; R² = cross-validated R² against the truth over "
        "the observed bins."
    )
    text = ttf.markdown(SECTION, "harder_data.py", rows, a, facts, data)
    text += "\n" + bound_table(rows, a.seeds, make)
    return ttf.publish(a, SECTION, text)


if __name__ == "__main__":
    raise SystemExit(main())
