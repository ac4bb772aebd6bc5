"""A continuous session is scrubbed on its clock: the reconstruction and latent views show a
view of session time chosen with a time slider; trial data keep the trial selector."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.continuous import continuous_latents, session_time
from mmgpvae_core.data import Dataset
from mmgpvae_core.synthetic.simulate import simulate
from mmgpvae_gui import export
from mmgpvae_gui.panels.latent_panel import LatentPanel
from mmgpvae_gui.panels.reconstruction_panel import ReconstructionPanel
from mmgpvae_gui.widgets.heatmap import level_sample, pool

W = 40  # bins per window
DT = 0.02


@pytest.fixture(scope="module")
def fitted(fit_session):
    sim, model = fit_session(15, n_bins=800, window_bins=W, n_neurons=20, n_keypoints=3, seed=3)
    post = model.latent_posterior()
    latents = {k: np.asarray(v["mean"], dtype=np.float32) for k, v in post.items()}
    rec = {k: np.asarray(v, dtype=np.float32) for k, v in model.reconstruct().items()}
    return sim, model, latents, rec, continuous_latents(model)


def _shown(qtbot, panel, width: int):
    qtbot.addWidget(panel)
    panel.resize(width, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def recon(qtbot, fitted):
    sim, _, _, rec, _ = fitted
    panel = _shown(qtbot, ReconstructionPanel(), 1200)
    panel.set_data(sim.neural, sim.behavior, "poisson", "gaussian")
    panel.set_reconstruction(rec)
    return panel


@pytest.fixture
def latents_view(qtbot, fitted):
    sim, _, latents, _, stitched = fitted
    panel = _shown(qtbot, LatentPanel(), 700)
    panel.set_session_time(session_time(sim.neural), sim.neural.n_time)
    panel.set_latents(latents, None)
    panel.set_continuous_latents(stitched)
    return panel


def _drawn(qtbot, panel, view):
    qtbot.waitUntil(lambda: panel.shown_view == view, timeout=10000)


def test_the_time_slider_covers_the_session_and_replaces_the_trial_selector(recon, fitted):
    sim = fitted[0]
    n_bins = sim.neural.n_trials * W
    assert recon.is_continuous
    assert not recon.scrubber.isHidden() and recon.trial_row.isHidden()
    a, b = recon.scrubber.session_span()
    assert a == pytest.approx(0.0) and b == pytest.approx(n_bins * DT)
    assert recon.scrubber.slider.maximum() == n_bins - W  # the last view ends the session
    assert recon.scrubber.view() == (0, W)  # one window wide
    assert " s" in recon.scrubber.label.text()


def test_moving_the_slider_changes_the_session_time_shown(recon, qtbot, fitted):
    sim, _, _, rec, _ = fitted
    _drawn(qtbot, recon, (0, W))
    first = recon.obs_plot.getViewBox().viewRange()[0]
    assert first == pytest.approx([0.0, W * DT])
    recon.set_session_time(8.0)  # centre the view on t = 8 s
    s0, s1 = recon.scrubber.view()
    assert (s0, s1) == (400 - W // 2, 400 + W // 2)
    _drawn(qtbot, recon, (s0, s1))
    t0, t1 = recon.scrubber.view_time()
    assert (t0, t1) == pytest.approx((s0 * DT, s1 * DT))
    for plot in (recon.obs_plot, recon.rec_plot, recon.trace_plot, recon.behavior_plot):
        assert plot.getViewBox().viewRange()[0] == pytest.approx([t0, t1])
    joined = sim.neural.data.reshape(-1, sim.neural.n_channels)
    np.testing.assert_array_equal(recon.observed_image(), joined[s0:s1].T)
    rec_joined = rec["neural"].reshape(-1, sim.neural.n_channels)
    np.testing.assert_array_equal(recon.reconstructed_image(), rec_joined[s0:s1].T)
    x, _ = recon._neural_traces.obs[0].getData()
    np.testing.assert_allclose(x, session_time(sim.neural)[s0:s1])
    # The view width control: 4 windows, centred where it was.
    recon.scrubber.set_width(4)
    assert recon.scrubber.width_bins == 4 * W
    s0, s1 = recon.scrubber.view()
    assert s1 - s0 == 4 * W and s0 == 400 - 2 * W
    _drawn(qtbot, recon, (s0, s1))
    assert recon.observed_image().shape == (sim.neural.n_channels, 4 * W)
    # The arrow keys and the play button step through the session.
    recon.step(1)
    assert recon.scrubber.view()[0] == s0 + 2 * W
    with qtbot.waitSignal(recon.view_changed, timeout=5000):
        recon.scrubber.play_button.click()
    recon.scrubber.play_button.click()


def test_every_axis_is_session_time(recon, latents_view):
    for plot in (recon.obs_plot, recon.rec_plot, recon.trace_plot, recon.behavior_plot):
        assert plot.getAxis("bottom").labelText == "session time (s)"
    assert latents_view.time_plot.getAxis("bottom").labelText == "session time (s)"


def test_the_latent_view_scrubs_stitched_latents_without_rendering_the_scene(
    latents_view, qtbot, fitted
):
    sim, _, _, _, stitched = fitted
    lp = latents_view
    assert not lp.scrubber.isHidden() and not lp.time_plot.isHidden()
    qtbot.waitUntil(
        lambda: lp.drawn_coordinates() is not None and lp.time_plot.shown == (0, W),
        timeout=10000,
    )
    # The session is one trajectory; the stitched latents are drawn, not the windows' own.
    assert lp.drawn_coordinates().shape == (1, sim.neural.n_trials * W, 3)
    x, y = lp.time_plot._lines[0].getData()
    np.testing.assert_allclose(x, stitched["time"][:W])
    np.testing.assert_allclose(y, stitched["shared"][:W, 0], rtol=1e-5)
    renders = lp.view.renders
    lp.scrubber.set_time(10.0)
    view = lp.scrubber.view()
    qtbot.waitUntil(lambda: lp.time_plot.shown == view, timeout=10000)
    qtbot.waitUntil(
        lambda: np.allclose(lp.highlighted_positions(), lp.drawn_coordinates()[0, slice(*view)]),
        timeout=10000,
    )
    assert lp.view.renders == renders  # a scrub step redraws the overlay and the time plot only
    assert lp.time_plot.points_drawn == W * 2  # two shared latents, one view's worth each
    t0, t1 = lp.time_plot.getViewBox().viewRange()[0]
    assert (t0, t1) == pytest.approx(lp.scrubber.view_time())
    # The reconstruction panel's view can drive it (the window links the two).
    lp.set_view(100, 100 + W)
    assert lp.scrubber.view() == (100, 100 + W)


def test_new_latents_drop_stitched_ones_of_an_older_fit(latents_view, fitted):
    _, _, latents, _, stitched = fitted
    lp = latents_view
    mean, var = lp.session_latents("shared")
    np.testing.assert_array_equal(mean, stitched["shared"])
    assert var is not None
    lp.set_latents(latents, None)  # a new snapshot: its windows, joined, until stitched come
    mean, var = lp.session_latents("shared")
    np.testing.assert_array_equal(mean, latents["shared"].reshape(-1, 2))
    assert var is None


def test_exports_use_session_time(recon, latents_view, qtbot):
    recon.set_session_time(5.0)
    data = recon.export_data("neural")
    t = data["time"]
    assert t.shape == (W,) and t[0] == pytest.approx(recon.scrubber.view()[0] * DT + DT / 2)
    fig = export.reconstruction_fig(data, "neural")  # what the app's Export… draws
    ax = fig.axes[0]
    assert ax.get_xlabel() == "session time (s)"
    lo, hi = ax.get_xlim()
    assert lo == pytest.approx(t[0] - DT / 2) and hi == pytest.approx(t[-1] + DT / 2)
    latents_view.set_axes(["latent 1", "latent 2", "time"])
    exported = latents_view.export_latents()
    assert exported["names"][2] == "session time (s)"
    np.testing.assert_allclose(exported["coordinates"][0, :, 2], exported["time"])


def test_a_5000_channel_heat_map_is_pooled_to_the_view_and_scrubs_cheaply(qtbot):
    rng = np.random.default_rng(0)
    n_win, n_ch = 12, 5000
    data = rng.poisson(0.3, (n_win, W, n_ch)).astype(np.float32)
    info = {"source": "windows", "window_s": W * DT, "span_s": [0.0, n_win * W * DT]}
    neural = Dataset(data, bin_size_s=DT, preprocessing={"trials": info})
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_data(neural, None, "poisson")
    panel.set_reconstruction({"neural": data * 0.5})
    _drawn(qtbot, panel, (0, W))
    rows, cols = panel.obs_plot.pixel_size()
    assert rows < n_ch
    for plot in (panel.obs_plot, panel.rec_plot):
        shown = plot.shown_image()
        assert shown.shape[0] <= rows and shown.shape[1] <= cols
        assert plot.source_shape == (n_ch, W)
    # Max pooling keeps every spike visible: a pooled row is the max of its channels.
    f = int(np.ceil(n_ch / rows))
    np.testing.assert_array_equal(panel.observed_image()[0], data[0, :, :f].max(1))
    # Scrubbing: each step pools one view's slice per heat map, never the session.
    calls = panel.obs_plot.pool_calls
    for k in range(1, 6):
        panel.scrubber.set_view_start(k * W // 2)
        _drawn(qtbot, panel, (k * W // 2, k * W // 2 + W))
    assert panel.obs_plot.pool_calls - calls == 5
    assert panel.obs_plot.source_shape == (n_ch, W)
    assert panel.observed_image().shape[0] <= rows


def test_pooling_keeps_a_small_image_and_reduces_a_large_one():
    a = np.arange(12.0).reshape(3, 4)
    assert pool(a, 10, 10) is a
    np.testing.assert_array_equal(pool(a, 2, 4, "max"), [[4, 5, 6, 7], [8, 9, 10, 11]])
    np.testing.assert_allclose(pool(a, 2, 2, "mean"), [[2.5, 4.5], [8.5, 10.5]])


def test_colour_levels_come_from_a_sample_of_a_large_session():
    x = np.arange(3 * 4096 * 500, dtype=np.float32).reshape(3, 4096, 500)
    x[0, 0, :7] = np.nan
    sample = level_sample(x, n=10_000)
    assert 5_000 <= sample.size <= 10_000 and np.isfinite(sample).all()
    assert sample.min() < 0.01 * x.size and sample.max() > 0.99 * x.size  # spans the session
    small = np.array([[1.0, np.nan], [3.0, 4.0]])
    np.testing.assert_array_equal(level_sample(small), [1.0, 3.0, 4.0])


def test_trial_data_keep_the_trial_selector(qtbot):
    sim = simulate(n_trials=6, n_time=20, n_neurons=10, n_keypoints=2, seed=0)
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_data(sim.neural, sim.behavior)
    assert not panel.is_continuous
    assert not panel.trial_row.isHidden() and panel.scrubber.isHidden()
    assert panel.slider.maximum() == 5
    assert panel.obs_plot.getAxis("bottom").labelText.startswith("time (")
    lp = LatentPanel()
    qtbot.addWidget(lp)
    lp.set_session_time(None)
    assert lp.scrubber.isHidden() and lp.time_plot.isHidden()


def test_the_app_opens_a_continuous_project_and_scrubs_it(window, qtbot, fitted, tmp_path):
    _, model, _, _, _ = fitted
    path = tmp_path / "session.mmgp"
    model.save(path)
    assert window.open_project(path, remember=False)
    panel = window.reconstruction_panel
    assert panel.is_continuous and panel.trial_row.isHidden()
    panel.set_session_time(6.0)
    view = panel.scrubber.view()
    _drawn(qtbot, panel, view)
    assert panel.reconstructed_image().shape == (model.neural.n_channels, W)
    # The latent view is on the same clock: it has the stitched latents (with variances), and
    # scrubbing either view moves the other.
    lp = window.latent_panel
    assert not lp.scrubber.isHidden()
    mean, var = lp.session_latents("shared")
    assert var is not None and mean.shape[0] == session_time(model.neural).size
    assert lp.scrubber.view() == view
    panel.set_session_time(3.0)
    assert lp.scrubber.view() == panel.scrubber.view() != view
    lp.scrubber.set_view(0, W)
    assert panel.scrubber.view() == (0, W)


def test_a_fit_of_a_continuous_session_ends_with_stitched_latents(window, qtbot, fitted):
    sim = fitted[0]
    window.set_datasets(sim.neural, sim.behavior)
    window.model_panel.set_split(1, 1, 1)
    window.model_panel.epochs_spin.setValue(2)
    lp = window.latent_panel
    assert not lp.scrubber.isHidden()  # session time as soon as the data are loaded
    n = sim.neural
    assert window.data_panel.summary_text("neural")["trials"] == (
        f"{n.n_trials} windows of {n.n_time * n.bin_size_s:g} s "
        f"(continuous session, {n.n_trials * n.n_time * n.bin_size_s:g} s)"
    )
    with qtbot.waitSignal(window.training_finished, timeout=120000):
        assert window.start_training()
    qtbot.waitUntil(lambda: lp.session_latents("shared")[1] is not None, timeout=60000)
    mean, var = lp.session_latents("shared")
    assert mean.shape == (session_time(sim.neural).size, 1) and np.all(var > 0)
