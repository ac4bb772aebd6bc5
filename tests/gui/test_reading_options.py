"""The data panel's reading settings: a sampling rate for a file that stores none and the window
length a continuous session is cut into (the CLI's --neural-rate, --behavior-rate, --window),
used for the next files read, for reading the held files again, and kept as the project's data
settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PySide6.QtCore import Qt

S1 = Path(__file__).resolve().parents[2].parent / "shared/real-samples/paired/s1_area2_reaching.mat"


def _set(window, neural_hz: float, behavior_hz: float, window_s: float) -> None:
    reading = window.data_panel.reading
    reading.rate_spins["neural"].setValue(neural_hz)
    reading.rate_spins["behavior"].setValue(behavior_hz)
    reading.window_spin.setValue(window_s)


@pytest.mark.skipif(not S1.exists(), reason="../shared/real-samples/paired is absent")
def test_s1_with_a_rate_and_a_window_loads_as_351_windows_of_5_s(window):
    _set(window, 20, 20, 5)
    assert window.open_data_file(S1, "neural", "spikes")
    assert window.open_data_file(S1, "behavior", "pos,vel")
    neural, behavior = window.session.datasets()
    assert (neural.n_trials, neural.n_time, neural.n_channels) == (351, 100, 52)
    assert (behavior.n_trials, behavior.n_time, behavior.n_channels) == (351, 100, 4)
    assert neural.bin_size_s == pytest.approx(0.05)
    shown = window.data_panel.summary_text("neural")
    assert shown["trials"].startswith("351 windows of 5 s")
    assert shown["bins"] == "100 × 50 ms"
    cfg = window.session.data_config()  # saved with a project fitted to these data
    assert cfg.neural_options == {"rate_hz": 20.0, "window_s": 5.0, "field": "spikes"}
    assert cfg.behavior_options["field"] == "pos,vel" and cfg.behavior_path == str(S1)


def test_without_a_rate_a_session_is_one_trial_and_reading_again_cuts_it(window, qtbot, tmp_path):
    path = tmp_path / "session.mat"
    rng = np.random.default_rng(0)
    spikes, pos = rng.poisson(2.0, (400, 6)).astype(np.uint8), rng.normal(size=(400, 2))
    scipy.io.savemat(path, {"spikes": spikes, "pos": pos})
    assert window.open_data_file(path, "neural", "spikes")
    assert window.open_data_file(path, "behavior", "pos")
    assert window.session.neural.data.shape == (1, 400, 6)  # no rate: one trial of samples
    assert window.data_panel.reading.reread_button.isEnabled()

    _set(window, 100, 100, 0.5)  # 100 Hz, 0.5 s windows: 8 windows of 50 bins
    qtbot.mouseClick(window.data_panel.reading.reread_button, Qt.MouseButton.LeftButton)
    neural, behavior = window.session.datasets()
    assert neural.data.shape == (8, 50, 6) and behavior.data.shape == (8, 50, 2)
    np.testing.assert_array_equal(neural.data.reshape(-1, 6), spikes)
    assert neural.field == "spikes"  # the chosen array is kept
    assert window.data_panel.summary_text("behavior")["trials"].startswith("8 windows of 0.5 s")

    errors = []
    window.error_shown.connect(errors.append)
    window.data_panel.reading.rate_spins["behavior"].setValue(50)  # the two no longer pair
    qtbot.mouseClick(window.data_panel.reading.reread_button, Qt.MouseButton.LeftButton)
    assert errors and window.session.neural.data.shape == (8, 50, 6)  # kept as they were


def test_a_project_fitted_in_the_app_keeps_the_rate_and_window_it_was_read_with(
    window, qtbot, tmp_path
):
    from mmgpvae_core.api import MMGPVAE

    path = tmp_path / "session.mat"
    rng = np.random.default_rng(1)
    scipy.io.savemat(path, {"spikes": rng.poisson(2.0, (400, 6)).astype(np.uint8),
                            "pos": rng.normal(size=(400, 2))})
    _set(window, 100, 100, 0.5)
    assert window.open_data_file(path, "neural", "spikes")
    assert window.open_data_file(path, "behavior", "pos")
    window.model_panel.epochs_spin.setValue(2)
    with qtbot.waitSignal(window.training_finished, timeout=90000):
        window.start_training()
    project = tmp_path / "run.mmgp"
    assert window.save_project(project)
    cfg = MMGPVAE.load(project).data_config
    assert cfg.neural_path == str(path) and cfg.behavior_path == str(path)
    assert cfg.neural_options == {"rate_hz": 100.0, "window_s": 0.5, "field": "spikes"}
    assert cfg.behavior_options == {"rate_hz": 100.0, "window_s": 0.5, "field": "pos"}

    _set(window, 0, 0, 10)  # reopening the project shows what its files were read with
    assert window.open_project(project)
    reading = window.data_panel.reading
    assert reading.rate_spins["neural"].value() == 100 and reading.window_spin.value() == 0.5
