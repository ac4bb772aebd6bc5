"""``mmgpvae simulate`` (a data set with known latents) and ``mmgpvae inspect`` (a file or a
project at a glance)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def cmd_simulate(a: argparse.Namespace) -> int:
    from mmgpvae_core.synthetic.simulate import simulate, write_simulation

    sim = simulate(
        n_trials=a.trials,
        n_time=a.bins,
        shared=a.shared,
        private_neural=a.private_neural,
        private_behavior=a.private_behavior,
        n_neurons=a.neurons,
        private_behavior_weight=a.private_behavior_weight,
        seed=a.seed,
    )
    paths = write_simulation(a.out, sim)
    for k, p in paths.items():
        print(f"wrote {k}: {p}")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    path = Path(a.file)
    info: dict[str, Any]
    if path.suffix == ".mmgp":
        from mmgpvae_core.project.file import summarize_project

        info = summarize_project(path)
    else:
        from mmgpvae_core.loaders import inspect_file

        opts = {k: v for k, v in (("series", a.series), ("field", a.field)) if v}
        info = inspect_file(path, rate_hz=a.rate, **opts)
    print(json.dumps(info, indent=2, default=str))
    return 0


def add_simulate_parser(sub) -> None:
    s = sub.add_parser("simulate", help="write a simulated data set with known latents")
    s.add_argument("out", help="output folder (neural.h5, behavior.h5, truth.npz)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--trials", type=int, default=100)
    s.add_argument("--bins", type=int, default=80, help="time bins per trial")
    s.add_argument("--neurons", type=int, default=60)
    s.add_argument("--shared", type=int, default=2)
    s.add_argument("--private-neural", type=int, default=1)
    s.add_argument("--private-behavior", type=int, default=1)
    s.add_argument(
        "--private-behavior-weight", type=float, default=1.0,
        help="scale of the private behavior latent in the pose network (1: as strong as each "
        "shared latent; 0.5: behavior mostly task-driven, as in many real recordings)",
    )
    s.set_defaults(func=cmd_simulate)


def add_inspect_parser(sub) -> None:
    i = sub.add_parser("inspect", help="summarize a data file or project")
    i.add_argument("file")
    i.add_argument("--rate", type=float, help="sampling rate (Hz) for files that lack one")
    i.add_argument("--series", help="NWB series name")
    i.add_argument(
        "--field", metavar="NAME",
        help="array to read in a MAT/NPZ/HDF5 file that holds several (A,B: joined as channels)",
    )
    i.set_defaults(func=cmd_inspect)
