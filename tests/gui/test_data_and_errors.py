"""Loading data through the window, and the error paths: bad files, bad fits."""

from __future__ import annotations

import numpy as np

from mmgpvae_core.training import TrainingFailed


def test_loading_the_demo_files_shows_their_summaries(window, demo_files, n_trials):
    assert window.open_data_file(demo_files["neural"], "neural")
    assert window.open_data_file(demo_files["behavior"], "behavior")
    neural = window.data_panel.summary_text("neural")
    behavior = window.data_panel.summary_text("behavior")
    assert neural["trials"] == str(n_trials) and behavior["trials"] == str(n_trials)
    assert neural["channels"] == "60" and behavior["channels"] == "16"
    assert neural["bins"].startswith("80") and "20 ms" in neural["bins"]
    assert "cond0" in neural["conditions"] and neural["missing"] == "0.00 %"
    assert window.reconstruction_panel.slider.maximum() == n_trials - 1
    assert window.training_panel.train_button.isEnabled()


def test_a_bad_file_shows_a_clear_message_and_keeps_the_data(window, demo_files, tmp_path, qtbot):
    assert window.open_data_file(demo_files["neural"], "neural")
    before = window.data_panel.summary_text("neural")
    bad = tmp_path / "flat.npy"
    np.save(bad, np.zeros((2, 3, 4, 5)))  # 4-D: not a trial tensor
    with qtbot.waitSignal(window.error_shown, timeout=30000) as blocker:
        assert not window.open_data_file(bad, "neural")
    assert "flat.npy" in blocker.args[0] and "3-D" in blocker.args[0]
    assert window.data_panel.summary_text("neural") == before
    garbage = tmp_path / "broken.h5"
    garbage.write_bytes(b"not an hdf5 file")
    assert not window.open_data_file(garbage, "behavior")
    assert "broken.h5" in window.last_error
    assert window.data_panel.summary_text("behavior")["trials"] == "—"


def test_mismatched_trials_are_refused(window, demo_files, tmp_path, n_trials):
    assert window.open_data_file(demo_files["neural"], "neural")
    other = tmp_path / "behavior.npy"
    np.save(other, np.zeros((n_trials + 1, 80, 3)))
    assert not window.open_data_file(other, "behavior")
    assert "same trials" in window.last_error


def test_loading_float_neural_data_sets_the_likelihood_box_to_gaussian(window, tmp_path, demo_files):
    panel = window.model_panel
    assert window.open_data_file(demo_files["neural"], "neural")  # spike counts
    assert panel.neural_likelihood.currentText() == "poisson"
    assert panel.neural_likelihood_note.text() == "auto: non-negative integer counts"
    path = tmp_path / "calcium.npy"
    np.save(path, np.random.default_rng(0).gamma(2.0, 0.5, size=(12, 80, 4)))  # ΔF/F-like
    assert window.open_data_file(path, "neural")
    assert panel.neural_likelihood.currentText() == "gaussian"
    assert panel.neural_likelihood_note.text() == "auto: non-integer values"
    assert window.model_panel.model_kwargs()["neural_likelihood"] == "gaussian"
    assert window.reconstruction_panel.obs_plot.getPlotItem().titleLabel.text == (
        "Observed (heat map)"
    )
    assert window.open_data_file(demo_files["behavior"], "behavior")
    assert panel.behavior_likelihood.currentText() == "gaussian"


def test_data_a_likelihood_cannot_model_fails_the_fit_cleanly(window, tmp_path, qtbot, train):
    path = tmp_path / "calcium.npy"
    np.save(path, np.random.default_rng(0).normal(size=(6, 30, 4)))  # negative: not counts
    assert window.open_data_file(path, "neural")
    assert window.model_panel.neural_likelihood.currentText() == "gaussian"  # chosen for it
    window.model_panel.neural_likelihood.setCurrentText("poisson")  # the user overrides
    status = train(qtbot, window, 3)
    assert status == "failed"
    assert "Poisson" in window.last_error and "negative" in window.last_error
    assert not window.is_training and window.training_panel.train_button.isEnabled()


def test_a_nan_elbo_keeps_the_last_good_state(loaded, qtbot, monkeypatch, train):
    win = loaded
    assert train(qtbot, win, 2) == "max_epochs"
    good = win.model.history.elbo[:]
    latents = win.last_snapshot.latents["shared"].copy()

    def diverge(self, *args, **kwargs):
        raise TrainingFailed("the ELBO became non-finite at epoch 3; the model was restored")

    monkeypatch.setattr(type(win.model), "partial_fit", diverge)  # what Train calls
    assert train(qtbot, win, 2) == "failed"
    assert "non-finite" in win.last_error
    assert win.model.history.elbo == good
    np.testing.assert_allclose(win.last_snapshot.latents["shared"], latents)
    assert win.training_panel.train_button.isEnabled()


def test_a_slow_file_loads_with_the_window_live(window, demo_files, qtbot, monkeypatch):
    """Reading runs off the GUI thread: the event loop keeps turning, a busy bar shows, input is
    blocked until the data is in; a failure still reaches the caller as a message."""
    import time

    from PySide6.QtCore import QTimer

    from mmgpvae_gui import session

    real = session.load_dataset
    seen = {"busy": False, "menu_enabled": True}

    def slow(path, **kw):
        time.sleep(0.4)
        return real(path, **kw)

    monkeypatch.setattr(session, "load_dataset", slow)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)

    def tick():
        if window.busy.active:
            ticks.append(time.perf_counter())
            seen["busy"] = window.busy.bar.isVisible()
            seen["menu_enabled"] = window.menuBar().isEnabled()

    timer.timeout.connect(tick)
    timer.start()
    assert window.open_data_file(demo_files["neural"], "neural")
    timer.stop()
    assert window.data_panel.summary_text("neural")["channels"] == "60"
    # The event loop turned while the file was read (~40 turns of a 10 ms timer in 0.4 s on an
    # idle machine; a few under heavy load); none if the GUI thread blocked.
    assert len(ticks) >= 3
    assert seen == {"busy": True, "menu_enabled": False}
    assert not window.busy.bar.isVisible() and window.menuBar().isEnabled()

    def broken(path, **kw):
        time.sleep(0.05)
        raise OSError("disk on fire")

    monkeypatch.setattr(session, "load_dataset", broken)
    assert not window.open_data_file(demo_files["behavior"], "behavior")
    assert "disk on fire" in window.last_error


def test_what_a_reader_dropped_is_said_in_the_status_bar(window, demo_files, monkeypatch):
    from mmgpvae_core.loaders.checks import warn_data
    from mmgpvae_gui import session

    real = session.load_dataset

    def dropping(path, **kw):
        warn_data(path, "F", "1 of 20 ROI(s) dropped from ΔF/F: baseline F0 is not positive")
        return real(path, **kw)

    monkeypatch.setattr(session, "load_dataset", dropping)
    assert window.open_data_file(demo_files["neural"], "neural")
    assert len(window.last_data_warnings) == 1
    assert "1 of 20 ROI(s) dropped" in window.statusBar().currentMessage()
    assert "neural.h5" in window.statusBar().toolTip()
