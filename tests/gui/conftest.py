"""GUI test fixtures: settings in a temp folder, small demo files, a real main window."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt

from mmgpvae_core.loaders import load_pair
from mmgpvae_core.loaders.generic import save_generic
from mmgpvae_gui.style import configure_pyqtgraph

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"
N_TRIALS = 12  # a small subset of the demo keeps each fit to a fraction of a second per epoch

configure_pyqtgraph()
# Every window's OpenGL view shares one resource pool (pyqtgraph caches shader programs per class).
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


@pytest.fixture(scope="session", autouse=True)
def _collect_while_qt_lives(qapp):
    """Free Qt wrappers while the QApplication still exists, not during interpreter shutdown."""
    yield
    qapp.processEvents()
    gc.collect()


@pytest.fixture(autouse=True)
def _autosave_in_tmp(tmp_path, monkeypatch):
    """Autosaves of test sessions go to a temporary folder (autosave.py)."""
    folder = tmp_path / "autosave"
    monkeypatch.setenv("MMGPVAE_AUTOSAVE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path):
    """QSettings never touch the user's real configuration."""
    folder = str(tmp_path / "settings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, folder)
    yield folder


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> dict[str, Path]:
    """The first trials of the bundled demo, written in the same file format."""
    neural, behavior = load_pair(DEMO / "neural.h5", DEMO / "behavior.h5")
    keep = np.arange(N_TRIALS)
    out = tmp_path_factory.mktemp("demo")
    paths = {"neural": out / "neural.h5", "behavior": out / "behavior.h5"}
    save_generic(paths["neural"], neural.subset(keep))
    save_generic(paths["behavior"], behavior.subset(keep))
    return paths


@pytest.fixture
def window(qtbot):
    from mmgpvae_gui.main_window import MainWindow

    win = MainWindow()
    win._confirm = lambda question: True  # no modal questions in tests
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    assert win.stop_and_wait(60000), "the training thread did not finish"
    win.close()
    qtbot.wait(0)  # let deferred deletes run (not a sleep: processes pending events once)


@pytest.fixture
def loaded(window, demo_files):
    assert window.open_data_file(demo_files["neural"], "neural")
    assert window.open_data_file(demo_files["behavior"], "behavior")
    window.model_panel.batch_size.setValue(N_TRIALS)
    return window


def _train(qtbot, win, epochs: int, timeout: int = 90000) -> str:
    """Train ``epochs`` epochs and wait for the end and for the views to show the final model;
    returns the outcome status."""
    win.model_panel.epochs_spin.setValue(epochs)
    with qtbot.waitSignal(win.training_finished, timeout=timeout) as blocker:
        assert win.start_training()
    qtbot.waitUntil(lambda: not win.redraw_queue.pending(), timeout=30000)
    return blocker.args[0]


@pytest.fixture
def train():
    return _train


def _tiny_sweep(win, data, grid: tuple[str, str, str] = ("1-2", "0", "0")):
    """The window's model-selection view set for a tiny sweep on ``data`` (a Simulation): the
    ``grid`` (shared, private neural, private behavior), 2 folds of 2 epochs, one fit at a time.
    Returns the view."""
    win.set_datasets(data.neural, data.behavior)
    win.jobs.sweep.n_jobs = 1
    p = win.model_selection_panel
    for edit, text in zip((p.shared_edit, p.private_neural_edit, p.private_behavior_edit), grid):
        edit.setText(text)
    p.folds_spin.setValue(2)
    p.epochs_spin.setValue(2)
    return p


@pytest.fixture
def tiny_sweep():
    return _tiny_sweep


@pytest.fixture(scope="module")
def sweep_sim():
    """Twelve short trials, ten neurons, three keypoints: what a tiny sweep fits in seconds."""
    from mmgpvae_core.synthetic.simulate import simulate

    return simulate(n_trials=12, n_time=24, n_neurons=10, n_keypoints=3, seed=5)


@pytest.fixture
def n_trials():
    return N_TRIALS


@pytest.fixture
def repo_root():
    return ROOT
