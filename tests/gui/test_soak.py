"""Soak: the training and sweep threads started, paused, stopped and abandoned at varied moments.

Every cycle ends a background thread while the GUI thread is busy with something else — the
moment a QObject shared by two threads used to be destroyed twice (SIGSEGV as a fit ended).
``MMGPVAE_SOAK_CYCLES=50`` runs longer (run it under CPU load, with ``python -X faulthandler``).
"""

from __future__ import annotations

import os
import random

import pytest

CYCLES = int(os.environ.get("MMGPVAE_SOAK_CYCLES", "3"))


@pytest.fixture
def rng():
    return random.Random(int(os.environ.get("MMGPVAE_SOAK_SEED", "0")))


def _open_window(qtbot, demo_files, n_trials):
    from mmgpvae_gui.main_window import MainWindow

    win = MainWindow()
    win._confirm = lambda question: True
    qtbot.addWidget(win)
    win.show()
    assert win.open_data_file(demo_files["neural"], "neural")
    assert win.open_data_file(demo_files["behavior"], "behavior")
    win.model_panel.batch_size.setValue(n_trials)
    return win


def test_start_pause_stop_train_more_cycles(loaded, qtbot, train, rng):
    win = loaded
    for cycle in range(CYCLES):
        win.model_panel.epochs_spin.setValue(100000)
        with qtbot.waitSignal(win.snapshot_shown, timeout=60000):
            assert win.start_training()
        with qtbot.waitSignal(win.paused_changed, timeout=30000) as paused:
            win.toggle_pause()
        assert paused.args == [True]
        qtbot.wait(rng.randrange(0, 30))
        win.toggle_pause()  # resume; stop at once or after a while
        qtbot.wait(rng.randrange(0, 200))
        with qtbot.waitSignal(win.training_finished, timeout=60000) as ended:
            win.stop_training()
        assert ended.args == ["cancelled"]
        assert not win.is_training
        before = len(win.model.history)
        assert train(qtbot, win, 2) == "max_epochs", f"cycle {cycle}"
        assert len(win.model.history) == before + 2
        # Stopped from a blocking wait (as closing does), the GUI thread busy meanwhile.
        win.model_panel.epochs_spin.setValue(100000)
        assert win.start_training()
        qtbot.wait(rng.randrange(0, 300))
        assert win.stop_and_wait(60000)
        assert not win.is_training and win.worker is None


def test_windows_opened_and_closed_while_a_fit_runs(loaded, qtbot, demo_files, n_trials, rng):
    win = loaded
    win.model_panel.epochs_spin.setValue(100000)
    assert win.start_training()
    for _ in range(CYCLES):
        other = _open_window(qtbot, demo_files, n_trials)
        other.model_panel.epochs_spin.setValue(100000)
        assert other.start_training()
        qtbot.wait(rng.randrange(0, 400))
        # Closing asks to stop, then closes for real once the thread has ended.
        with qtbot.waitSignal(other.training_finished, timeout=60000):
            other.close()
        qtbot.waitUntil(lambda o=other: not o.isVisible(), timeout=10000)
        assert other.worker is None
        other.deleteLater()
        qtbot.wait(rng.randrange(0, 50))
    assert win.is_training  # the first window's fit went on all along
    assert win.stop_and_wait(60000)


def test_sweeps_cancelled_at_varied_moments(loaded, qtbot, rng):
    panel = loaded.model_selection_panel
    loaded.jobs.sweep.n_jobs = 1
    panel.shared_edit.setText("1-2")
    panel.private_neural_edit.setText("0")
    panel.private_behavior_edit.setText("0")
    panel.folds_spin.setValue(2)
    panel.epochs_spin.setValue(3)
    for _ in range(CYCLES):
        assert panel.start()
        qtbot.wait(rng.randrange(0, 500))
        panel.cancel()
        qtbot.waitUntil(lambda: not panel.is_running, timeout=60000)
        assert panel.run_button.isEnabled()
    assert panel.start()
    assert loaded.jobs.stop_and_wait(60000) and not panel.is_running
