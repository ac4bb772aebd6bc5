"""The reconstruction and latent views follow the model and the trial slider."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from mmgpvae_gui.panels import latent_panel


def test_the_slider_scrubs_trials(loaded, qtbot, train):
    win = loaded
    assert train(qtbot, win, 3) == "max_epochs"
    panel = win.reconstruction_panel
    data = win.session.neural.data
    panel.set_trial(0)
    qtbot.waitUntil(lambda: panel.shown_trial == 0, timeout=30000)
    np.testing.assert_array_equal(panel.observed_image(), data[0].T)
    rec0 = panel.reconstructed_image().copy()
    panel.set_trial(5)
    qtbot.waitUntil(lambda: panel.shown_trial == 5, timeout=30000)
    np.testing.assert_array_equal(panel.observed_image(), data[5].T)
    assert not np.allclose(panel.reconstructed_image(), rec0)
    assert str(win.session.neural.conditions[5]) in panel.trial_label.text()
    # The current trial is highlighted in the 3D view, drawn over the scene (no new render).
    renders = win.latent_panel.view.renders
    qtbot.waitUntil(
        lambda: (
            win.latent_panel.highlighted_positions() is not None
            and np.allclose(
                win.latent_panel.highlighted_positions(), win.latent_panel.drawn_coordinates()[5]
            )
        ),
        timeout=3000,
    )
    assert win.latent_panel.view.renders == renders
    panel.slider.setFocus()
    qtbot.keyClick(panel.slider, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: panel.shown_trial == 6, timeout=30000)
    with qtbot.waitSignal(panel.trial_changed, timeout=30000):
        panel.play_button.click()
    panel.play_button.click()
    assert not panel.play_button.isChecked()


def test_switching_the_3d_subspace_draws_other_latents(loaded, qtbot, train):
    win = loaded
    win.model_panel.set_split(2, 1, 1)
    assert train(qtbot, win, 3) == "max_epochs"
    lp = win.latent_panel
    lp.set_subspace("shared")
    qtbot.waitUntil(lambda: lp.drawn_coordinates() is not None, timeout=30000)
    shared = lp.drawn_coordinates().copy()
    z = win.last_snapshot.latents["shared"]
    scale = shared[..., 0].ravel() @ z[..., 0].ravel() / (z[..., 0].ravel() ** 2).sum()
    np.testing.assert_allclose(shared[..., 0], scale * z[..., 0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(shared[..., 1] / scale, z[..., 1], rtol=1e-3, atol=1e-3)
    with qtbot.waitSignal(lp.subspace_changed, timeout=30000):
        lp.set_subspace("private_neural")
    qtbot.waitUntil(lambda: not np.array_equal(lp.drawn_coordinates(), shared), timeout=30000)
    zp = win.last_snapshot.latents["private_neural"][..., 0]
    drawn = lp.drawn_coordinates()
    assert abs(np.corrcoef(drawn[..., 0].ravel(), zp.ravel())[0, 1]) > 0.999
    assert [c.currentText() for c in lp.axis_combos] == ["latent 1", "time", "none"]
    assert np.all(drawn[..., 2] == 0)
    lp.set_axes(["time", "latent 1", "none"])
    qtbot.waitUntil(
        lambda: np.allclose(lp.drawn_coordinates()[..., 1], drawn[..., 0]), timeout=3000
    )
    lp.reset_view()
    assert lp.view.opts["distance"] == latent_panel._CAMERA["distance"]


def test_the_digit_demo_shows_frames(window, qtbot, train):
    window.open_digit_demo(n_trials=8, n_time=16)
    window.model_panel.batch_size.setValue(8)
    assert window.model_panel.shared.value() == 1
    assert train(qtbot, window, 2) == "max_epochs"
    panel = window.reconstruction_panel
    panel.set_trial(1)
    qtbot.waitUntil(lambda: panel.shown_trial == 1, timeout=30000)
    frames = panel.frames_image()
    assert frames is not None and frames.shape == (2 * 16 + 1, 8 * 17 - 1)
    assert frames[:16].max() > 0.5 and np.ptp(frames[17:]) > 0  # observed and reconstructed
