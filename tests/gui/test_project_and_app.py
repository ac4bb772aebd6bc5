"""Projects round-trip through the window; settings persist; the entry point starts and quits."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from mmgpvae_core.api import MMGPVAE
from mmgpvae_gui.main_window import MainWindow


def test_save_and_reopen_shows_the_same_latents(loaded, qtbot, tmp_path, train):
    win = loaded
    assert train(qtbot, win, 3) == "max_epochs"
    shown = {k: v.copy() for k, v in win.last_snapshot.latents.items()}
    path = tmp_path / "run.mmgp"
    with qtbot.waitSignal(win.project_saved, timeout=30000):
        assert win.save_project(path)
    assert MMGPVAE.load(path).history.elbo == win.model.history.elbo  # the CLI's file format

    win.model_panel.epochs_spin.setValue(77)  # reopening restores the project's settings
    win.reset_model()
    assert win.model is None
    qtbot.waitUntil(lambda: win.latent_panel.drawn_coordinates() is None, timeout=30000)
    assert win.open_project(path)
    assert len(win.model.history) == 3 and win.training_panel.n_epochs_shown == 3
    assert win.model_panel.epochs() == 3  # the session's epochs, not the model's defaults
    lp = win.latent_panel
    np.testing.assert_allclose(lp._latents["shared"], shared := shown["shared"], atol=1e-4)
    assert lp.current_subspace() == "shared"
    qtbot.waitUntil(lambda: lp.drawn_coordinates() is not None, timeout=30000)
    assert lp.drawn_coordinates().shape[:2] == shared.shape[:2]
    assert win.reconstruction_panel.reconstructed_image() is not None
    assert str(path.resolve()) in win.recent_projects()
    assert "run.mmgp" in win.windowTitle()
    # Train more on the reopened project.
    assert train(qtbot, win, 2) == "max_epochs"
    assert len(win.model.history) == 5


def test_settings_persist_between_windows(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.model_panel.epochs_spin.setValue(123)
    first.model_panel.set_split(3, 0, 2)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.model_panel.epochs() == 123
    kw = second.model_panel.model_kwargs()
    assert (kw["shared"], kw["private_neural"], kw["private_behavior"]) == (3, 0, 2)


def test_every_parameter_has_a_tooltip(window):
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox

    controls = window.model_panel.findChildren(QAbstractSpinBox) + window.model_panel.findChildren(
        QComboBox
    )
    assert len(controls) >= 12
    assert all(len(c.toolTip()) > 15 for c in controls)


def test_main_opens_the_demo_and_quits(tmp_path, repo_root):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    code = "import sys; from mmgpvae_gui.app import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "--demo", "--quit-after", "3000"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
