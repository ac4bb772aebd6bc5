"""Training from the window: the split, live ELBO signals, pause / resume / stop, train more."""

from __future__ import annotations

import numpy as np


def test_training_with_a_chosen_split_reports_the_elbo_live(loaded, qtbot, train):
    win = loaded
    win.model_panel.set_split(1, 2, 1)
    reports = []
    win.model_panel.epochs_spin.setValue(4)
    with qtbot.waitSignal(win.training_finished, timeout=90000):
        win.start_training()
        win.worker.progressed.connect(reports.append)
    assert [r.epoch for r in reports] == [1, 2, 3, 4]
    assert all(np.isfinite(r.elbo) for r in reports)
    cfg = win.model.model_config
    assert (cfg.shared, cfg.private_neural, cfg.private_behavior) == (1, 2, 1)
    assert win.model.length_scales.shape == (4,)
    x, y = win.training_panel._curves["elbo"].getData()
    np.testing.assert_allclose(y, [r.elbo for r in reports])
    best_epoch, best = win.training_panel.best()
    assert best == max(r.elbo for r in reports)
    assert win.last_snapshot is not None and win.last_snapshot.latents["shared"].shape[2] == 1
    qtbot.waitUntil(lambda: win.training_panel.progress.value() == 4, timeout=30000)
    # The architecture is fixed once trained; Train continues the same model.
    assert not win.model_panel.shared.isEnabled()
    assert train(qtbot, win, 2) == "max_epochs"
    assert len(win.model.history) == 6 and win.training_panel.n_epochs_shown == 6


def test_pause_resume_and_stop(loaded, qtbot):
    win = loaded
    win.model_panel.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.snapshot_shown, timeout=60000):
        win.start_training()
    with qtbot.waitSignal(win.paused_changed, timeout=30000) as blocker:
        win.toggle_pause()
    assert blocker.args == [True]
    assert win.training_panel.pause_button.text() == "Resume"
    assert win.save_action.isEnabled()  # a paused model can be saved
    at_pause = len(win.model.history)
    qtbot.waitUntil(lambda: win.training_panel.n_epochs_shown == at_pause, timeout=30000)
    assert len(win.model.history) == at_pause  # blocked in the worker: no epoch runs
    with qtbot.waitSignal(win.paused_changed, timeout=30000) as blocker:
        win.toggle_pause()
    assert blocker.args == [False]
    qtbot.waitUntil(lambda: len(win.model.history) > at_pause + 1, timeout=60000)
    with qtbot.waitSignal(win.training_finished, timeout=60000) as blocker:
        win.stop_training()
    assert blocker.args == ["cancelled"]
    assert at_pause < len(win.model.history) < 500
    assert not win.is_training and win.training_panel.train_button.isEnabled()
    # During the session the epoch axis spanned all 500 epochs; stopped, it fits the curves.
    qtbot.waitUntil(lambda: not win.redraw_queue.pending(), timeout=30000)
    x_max = win.training_panel.elbo_plot.getViewBox().viewRange()[0][1]
    assert x_max < len(win.model.history) + 10


def test_space_starts_and_pauses_training(loaded, qtbot):
    win = loaded
    win.model_panel.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.training_started, timeout=30000):
        win.train_action.trigger()  # the Space shortcut's action
    with qtbot.waitSignal(win.paused_changed, timeout=60000):
        win.train_action.trigger()
    assert win.training_panel.pause_button.text() == "Resume"
    with qtbot.waitSignal(win.training_finished, timeout=60000):
        win.stop_training()


def test_closing_while_training_asks_and_stops_the_worker(loaded, qtbot):
    win = loaded
    asked = []
    win._confirm = lambda q: asked.append(q) or True
    win.model_panel.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.snapshot_shown, timeout=60000):
        win.start_training()
    with qtbot.waitSignal(win.training_finished, timeout=60000):
        win.close()
        assert win.isVisible()  # waits for the epoch in flight
    assert asked and "Training is running" in asked[0]
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=30000)
    assert win.worker is None and not win.is_training


def test_closing_can_be_cancelled(loaded, qtbot):
    win = loaded
    win._confirm = lambda q: False
    win.model_panel.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.training_started, timeout=30000):
        win.start_training()
    win.close()
    assert win.isVisible() and win.is_training


def test_a_fit_runs_below_the_gui_and_outside_the_collectors_sight(loaded, qtbot, train):
    """The heap that exists when training starts is frozen during the fit (full collections of
    it froze the window), and the training thread yields the CPU to the GUI thread."""
    import gc
    import os
    import sys
    import threading

    from mmgpvae_gui.worker import lower_thread_priority

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    frozen = []
    loaded.snapshot_shown.connect(lambda _e: frozen.append(gc.get_freeze_count()))
    assert train(qtbot, loaded, 1) == "max_epochs"
    assert frozen and min(frozen) > 100_000  # frozen while it trained
    assert gc.get_freeze_count() == 0  # and given back after: a model dropped later is freed
    if sys.platform.startswith("linux"):
        seen = {}

        def worker():
            tid = threading.get_native_id()
            before = os.getpriority(os.PRIO_PROCESS, tid)
            lower_thread_priority()
            seen["delta"] = os.getpriority(os.PRIO_PROCESS, tid) - before

        me = threading.get_native_id()
        gui_nice = os.getpriority(os.PRIO_PROCESS, me)
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert seen["delta"] > 0
        assert os.getpriority(os.PRIO_PROCESS, me) == gui_nice  # only that thread


def test_before_a_fit_the_bar_counts_to_the_epochs_box(window, demo_files, qtbot, train):
    win, bar = window, window.training_panel.progress
    assert bar.text() == f"epoch 0 / {win.model_panel.epochs()}"  # not "epoch 0 / 1"
    win.model_panel.epochs_spin.setValue(37)
    assert bar.text() == "epoch 0 / 37"
    assert win.open_data_file(demo_files["neural"], "neural")
    assert win.open_data_file(demo_files["behavior"], "behavior")
    assert bar.text() == "epoch 0 / 37"  # new data: still no fit
    win.model_panel.batch_size.setValue(12)
    assert train(qtbot, win, 2) == "max_epochs"
    assert bar.text() == "epoch 2 / 2"
    win.model_panel.epochs_spin.setValue(5)
    assert bar.text() == "epoch 2 / 2"  # a fitted model's bar shows its last session
    win.reset_model()
    assert bar.text() == "epoch 0 / 5"
