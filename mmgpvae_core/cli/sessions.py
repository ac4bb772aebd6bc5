"""Several sessions from a manifest (``--sessions SESSIONS.csv``), each read with the data
options of the command, as one session's ``--neural``/``--behavior``/``--trials`` would be."""

from __future__ import annotations

import argparse
import sys

from mmgpvae_core.cli.common import load_data


def load_sessions(a: argparse.Namespace):
    """(names, neural datasets, behavior datasets or None, DataConfigs) of the sessions in
    ``a.sessions``. A session's own ``trials`` column replaces ``--trials``."""
    from mmgpvae_core.config import DataConfig
    from mmgpvae_core.loaders.manifest import read_manifest

    entries = read_manifest(a.sessions)
    names, neural, behavior, configs = [], [], [], []
    for e in entries:
        one = argparse.Namespace(**vars(a))
        one.neural, one.behavior = str(e.neural), (str(e.behavior) if e.behavior else None)
        if e.trials is not None:
            one.trials = str(e.trials)
        nd, bd = load_data(one)
        print(
            f"  session {e.name}: {nd.n_trials} trials × {nd.n_time} bins, {nd.n_channels} "
            f"neural channels ({e.neural.name})", file=sys.stderr,
        )
        names.append(e.name)
        neural.append(nd)
        behavior.append(bd)
        configs.append(DataConfig(neural_path=str(e.neural), behavior_path=str(e.behavior or "")))
    from mmgpvae_core.api import check_sessions
    from mmgpvae_core.data import DataError

    try:  # before any fit: the same behavior variables in every session
        check_sessions(names, neural, behavior)
    except ValueError as exc:
        raise DataError(a.sessions, "behavior", str(exc)) from None
    return names, neural, (behavior if entries[0].behavior is not None else None), configs
