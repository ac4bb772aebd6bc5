"""The Controls section of the model-selection view: a tiny null test shows the null histogram,
the real score and p; consistency shows one line per subspace; closing the window stops a
running control; a finished sweep hands its chosen split to the controls and the baselines;
without behavior data they say what to open."""

from __future__ import annotations

import numpy as np
import pytest


def _tiny(controls, epochs: int = 2) -> None:
    controls.window().jobs.controls.n_jobs = 1
    controls.set_split(1, 1, 0)
    controls.shuffles_spin.setValue(4)
    controls.folds_spin.setValue(2)
    controls.epochs_spin.setValue(epochs)
    controls.seeds_spin.setValue(2)


def test_null_test_shows_the_real_score_against_the_null_histogram(loaded, qtbot):
    win = loaded
    panel = win.model_selection_panel
    win.tabs.setCurrentWidget(panel)
    controls = panel.controls_panel
    _tiny(controls)
    with qtbot.waitSignal(controls.null_test_finished, timeout=120000) as blocker:
        assert controls.start_null_test()
        assert not controls.start_consistency()  # one control at a time
        assert panel.is_running
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not controls.is_running, timeout=10000)
    assert controls.progress.value() == controls.progress.maximum() == 5
    assert [r["status"] for r in result.rows] == ["ok"] * 5
    null = result.null_scores
    assert len(null) == 4 and np.isfinite(result.real_score)

    # The histogram holds the four shuffles; the line marks the real score; p is in the title.
    heights = np.asarray(controls.null_bars.opts["height"])
    x0, x1 = np.asarray(controls.null_bars.opts["x0"]), np.asarray(controls.null_bars.opts["x1"])
    assert heights.sum() == 4
    assert ((x0[:, None] <= null) & (null <= x1[:, None]) & (heights[:, None] > 0)).any(0).all()
    assert controls.real_line.isVisible()
    assert controls.real_line.value() == pytest.approx(result.real_score)
    title = controls.null_plot.getPlotItem().titleLabel.text
    assert f"p = {result.p:.3g}" in title and "4 shuffles" in title
    assert controls.null_label.text().startswith(result.summary_line())
    lo, hi = controls.null_plot.getViewBox().viewRange()[0]
    assert lo < min(null.min(), result.real_score) and hi > max(null.max(), result.real_score)
    assert "held-out cross-modal" in controls.null_plot.getAxis("bottom").labelText
    assert controls.null_button.isEnabled()


def test_consistency_shows_one_line_per_subspace(loaded, qtbot):
    controls = loaded.model_selection_panel.controls_panel
    _tiny(controls)
    with qtbot.waitSignal(controls.consistency_finished, timeout=120000) as blocker:
        assert controls.start_consistency()
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not controls.is_running, timeout=10000)
    lines = controls.consistency_label.text().splitlines()
    assert lines == result.lines() and len(lines) == 3
    assert lines[0].startswith("shared (1 dim): canonical correlations with seed 0")
    xs, ys = controls.consistency_dots.getData()
    assert len(xs) == 2 and ((0 <= ys) & (ys <= 1)).all()  # shared CC1, private neural CC1


def test_closing_the_window_stops_a_running_null_test(loaded, qtbot):
    win = loaded
    controls = win.model_selection_panel.controls_panel
    _tiny(controls, epochs=100000)
    assert controls.start_null_test()
    worker = win.jobs.controls.worker
    assert win.session.running_jobs == ["controls"]
    win.close()
    assert not worker.is_running and win.jobs.controls.worker is None
    assert win.session.running_jobs == [] and not controls.is_running


def test_a_finished_sweep_hands_its_split_to_the_controls_and_the_baselines(
    window, qtbot, tiny_sweep, sweep_sim
):
    p = tiny_sweep(window, sweep_sim, ("1-2", "0", "1"))
    window.model_panel.set_split(4, 4, 4)
    p.controls_panel.set_split(4, 4, 4)
    with qtbot.waitSignal(p.sweep_finished, timeout=120000) as blocker:
        assert p.start()
    best = blocker.args[0].best
    qtbot.waitUntil(lambda: not p.is_running, timeout=10000)
    expected = (best["shared"], 0, 1)
    assert p.controls_panel.split() == expected
    assert p.compare_panel.split() == expected
    window.tabs.setCurrentWidget(p)
    p.side_tabs.setCurrentWidget(p.compare_panel)  # shown: the sweep's choice stays
    assert p.compare_panel.split() == expected
    note = p.compare_panel.split_spins.note.text()  # with the read-out the sweep chose
    assert note == f"the sweep's choice (neural_decoder={best['neural_decoder']})"
    assert window.jobs.stop_and_wait(60000)


def test_without_behavior_the_controls_and_the_baselines_say_what_to_open(window, sweep_sim):
    window.set_datasets(sweep_sim.neural, None)
    p = window.model_selection_panel
    for start, view, why in (
        (p.controls_panel.start_null_test, p.controls_panel, "the controls test how the two"),
        (p.controls_panel.start_consistency, p.controls_panel, "the controls test how the two"),
        (p.compare_panel.start, p.compare_panel, "the comparison predicts each from"),
    ):
        view.status_label.setText("")
        assert not start() and not view.is_running
        assert view.status_label.text().startswith(f"Open neural and behavior data first: {why}")
    assert window.session.running_jobs == []
