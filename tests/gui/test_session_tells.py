"""The window is handed its session and listens to it: a change made to the session directly
(as a test, a script or another part of the app makes it) shows without the window being told."""

from __future__ import annotations

from mmgpvae_core.synthetic.simulate import simulate
from mmgpvae_gui.main_window import MainWindow
from mmgpvae_gui.session import Session


def test_the_window_shows_what_its_session_says_changed(qtbot):
    sim = simulate(n_trials=8, n_time=20, n_neurons=6, n_keypoints=2, seed=1)
    session = Session()
    win = MainWindow(session)
    qtbot.addWidget(win)
    assert win.session is session
    assert win._data_status.text() == "no data"
    assert not win.training_panel.train_button.isEnabled()
    session.set_datasets(sim.neural, sim.behavior)  # not through the window
    assert win._data_status.text() == session.data_summary() != "no data"
    assert win.training_panel.train_button.isEnabled()
    session.job_started("compare")
    compare = win.model_selection_panel.compare_panel
    assert compare.is_running and compare.cancel_button.isEnabled()
    session.job_ended("compare")
    assert not compare.is_running and compare.run_button.isEnabled()
