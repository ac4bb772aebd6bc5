"""Is the null test calibrated? Its p-values on independent data, over many data sets.

Under the null (behavior independent of the neural data) the real pairing is exchangeable with
every re-pairing, so p is uniform on {1/(K+1), …, 1} for K shuffles, whatever the model: a test
at level α calls a fraction α of independent data sets significant, and no fewer. This runs
``run_null_test`` on ``--datasets`` pairs of independent simulations (neural of
``simulate(seed=s)``, behavior of ``simulate(seed=100 + s)`` labelled with the neural
conditions — the unit test's set-up, at its size) and on the paired data, for the model options
given (``--extra`` JSON, several allowed), and prints the fraction at or below each level.

    .venv/bin/python benchmarks/null_calibration.py --datasets 20 --shuffles 19 \
        --extra '{}' '{"min_length_scale_fraction": 0.5, "length_scale_param": "softplus"}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmgpvae_core.controls import run_null_test  # noqa: E402
from mmgpvae_core.sweep import SweepSettings  # noqa: E402
from mmgpvae_core.synthetic.simulate import simulate  # noqa: E402

SIZE = {"n_trials": 24, "n_time": 30, "n_neurons": 20, "n_keypoints": 4}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, default=20)
    p.add_argument("--shuffles", type=int, default=19)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--extra", nargs="+", default=["{}"], help="model options, JSON (each a run)")
    p.add_argument(
        "--smoke", action="store_true",
        help="1 data set, 1 shuffle, 1 epoch, in this process: only checks the script still runs",
    )
    a = p.parse_args(argv)
    if a.smoke:
        a.datasets, a.shuffles, a.epochs, a.jobs = 1, 1, 1, 1
    levels = (0.05, 0.1, 0.2, 0.5)
    print(f"{a.datasets} data sets, {a.shuffles} shuffles, {a.epochs} epochs, 2 folds")
    print("| options | data | " + " | ".join(f"p ≤ {x}" for x in levels) + " | mean p | s |")
    print("|---|---|" + "---:|" * (len(levels) + 2))
    for extra in a.extra:
        kw = json.loads(extra)
        settings = SweepSettings(
            folds=2, epochs=a.epochs, seed=0, model_kwargs={"device": "cpu", **kw}
        )
        for kind in ("independent", "paired"):
            t0, ps = time.perf_counter(), []
            for s in range(1, a.datasets + 1):
                sim = simulate(**SIZE, seed=s)
                behavior = sim.behavior
                if kind == "independent":
                    other = simulate(**SIZE, seed=100 + s)
                    behavior = dataclasses.replace(other.behavior, conditions=sim.neural.conditions)
                r = run_null_test(
                    sim.neural, behavior, (2, 1, 1), a.shuffles, settings, n_jobs=a.jobs
                )
                ps.append(r.p)
            ps = np.array(ps)
            cells = " | ".join(f"{(ps <= x + 1e-9).mean():.2f}" for x in levels)
            dt = time.perf_counter() - t0
            print(f"| `{extra}` | {kind} | {cells} | {ps.mean():.2f} | {dt:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
