"""File ▸ Export ▸ Export latents…: the app writes the file ``mmgpvae export-latents`` writes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QAction

pynwb = pytest.importorskip("pynwb")


def test_export_latents_writes_nwb_and_npz(loaded, qtbot, tmp_path, train, n_trials):
    win = loaded
    assert any(a.text() == "Export &latents…" for a in win.findChildren(QAction))
    assert not win.export_latents(tmp_path / "early.nwb")  # no model yet: says so
    assert "train a model first" in win.last_error
    win.model_panel.set_split(2, 1, 1)
    assert train(qtbot, win, 2) == "max_epochs"

    with qtbot.waitSignal(win.exported, timeout=30000):
        assert win.export_latents(tmp_path / "latents.nwb")
    with pynwb.NWBHDF5IO(str(tmp_path / "latents.nwb"), "r") as io:
        nwb = io.read()
        mod = nwb.processing["mmgpvae"]
        assert {"shared", "shared_var", "private_neural", "private_behavior"} <= set(mod.data_interfaces)
        assert mod["shared"].data.shape[1] == 2 and len(nwb.trials) == n_trials
        t = mod["shared"].get_timestamps()[:]
        trials = nwb.trials.to_dataframe()
        inside = (t[:, None] >= trials["start_time"].to_numpy()) & (t[:, None] <= trials["stop_time"].to_numpy())
        assert (inside.sum(axis=1) == 1).all()  # every sample in exactly one trial

    assert win.export_latents(tmp_path / "latents.npz")
    with np.load(tmp_path / "latents.npz") as z:
        assert z["shared"].shape[:2] == (n_trials, win.model.neural.n_time)
    assert not win.export_latents(tmp_path / "latents.txt")
    assert "expected .npz or .nwb" in win.last_error
