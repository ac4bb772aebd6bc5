"""The Baselines section of the model-selection view: a comparison on a small simulated session
runs to the end and fills the pooled table, the R² bars and the held-out stretch; Cancel stops
it at the model's next epoch; closing the window while it runs stops it; the split follows the
model panel until a sweep chooses one (a real sweep's hand-over: ``test_controls_panel``)."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.synthetic.simulate import simulate_session
from mmgpvae_gui.panels.compare_panel import METHODS, ComparePanel


@pytest.fixture(scope="module")
def sim():
    return simulate_session(n_bins=600, window_bins=50, n_neurons=10, n_keypoints=2)


def _panel(window, sim, epochs: int, split=(1, 0, 0)) -> ComparePanel:
    """The window's Baselines section on ``sim``, the model panel's split ``split``."""
    window.set_datasets(sim.neural, sim.behavior)
    window.model_panel.set_split(*split)
    panel = window.model_selection_panel.compare_panel
    panel.epochs_spin.setValue(epochs)
    return panel


def _cell(panel: ComparePanel, method: str, column: int) -> str:
    return panel.table.item(list(METHODS).index(method), column).text()


def test_a_comparison_runs_to_the_end_and_fills_the_table_and_plots(window, qtbot, sim):
    panel = _panel(window, sim, epochs=3)
    window.tabs.setCurrentWidget(window.model_selection_panel)
    window.model_selection_panel.side_tabs.setCurrentWidget(panel)
    with qtbot.waitSignal(panel.finished, timeout=180000) as blocker:
        assert panel.start()
        assert not panel.start()  # one comparison at a time
        assert panel.is_running and not panel.run_button.isEnabled()
        assert window.session.running_jobs == ["compare"]
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not panel.is_running, timeout=10000)
    assert not result.cancelled and panel.result is result
    assert panel.split() == (1, 0, 0)  # the model panel's split, the default
    assert panel.progress.value() == panel.progress.maximum() == 3  # 1 fold × 1 seed × 3 epochs
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()

    # The pooled table: each method's scores where it has a direction, "—" where it has none.
    r2 = next(
        r["value"] for r in result.rows
        if (r["method"], r["direction"], r["metric"], r["channel"])
        == ("wiener", "behavior_from_neural", "r2", "all")
    )
    assert _cell(panel, "wiener", 0) == f"{r2:.3f}"
    for method in ("mmgpvae", "wiener", "wiener_causal"):
        float(_cell(panel, method, 0)), float(_cell(panel, method, 1))  # R², MAE
    float(_cell(panel, "mmgpvae", 2)), float(_cell(panel, "glm", 2))  # bits/spike
    assert _cell(panel, "glm", 0) == "—" and _cell(panel, "wiener", 2) == "—"
    assert "bits/spike" in panel.table.horizontalHeaderItem(2).text()
    assert panel.folds_label.text() == f"Held out: {result.folds_description}."

    # R² bars: one per behavior channel and the pooled one, for each behavior method.
    assert result.behavior_channels == ["kp0_x", "kp0_y", "kp1_x", "kp1_y"]
    for m in ("mmgpvae", "wiener", "wiener_causal"):
        assert len(panel.r2_bars[m].opts["height"]) == 5
    ticks = panel.r2_plot.getAxis("bottom")._tickLevels[0]
    assert [t for _, t in ticks] == [*result.behavior_channels, "pooled"]
    assert panel.r2_plot.getAxis("left").labelText == "held-out R²"

    # The held-out stretch: observed and each method's prediction of the chosen channel.
    ex = result.example
    x, y = panel.observed_curve.getData()
    np.testing.assert_allclose(y, ex["observed"][:, 0])
    np.testing.assert_allclose(x, ex["time"])
    _, pred = panel.stretch_curves["mmgpvae"].getData()
    np.testing.assert_allclose(pred, ex["methods"]["mmgpvae"][:, 0])
    panel.channel_combo.setCurrentIndex(3)
    panel._queue.flush()
    np.testing.assert_allclose(panel.observed_curve.getData()[1], ex["observed"][:, 3])
    assert panel.stretch_plot.getAxis("left").labelText == "kp1_y (data units)"
    assert panel.stretch_plot.getAxis("bottom").labelText == "session time (s)"


def test_cancel_stops_a_comparison_at_the_next_epoch(window, qtbot, sim):
    panel = _panel(window, sim, epochs=100000)
    panel.heldout_combo.setCurrentIndex(1)  # 3 folds: the whole run would take hours
    with qtbot.waitSignal(panel.finished, timeout=120000) as blocker:
        assert panel.start()
        qtbot.waitUntil(lambda: panel.progress.value() >= 2, timeout=120000)  # fitting
        worker = window.jobs.compare.worker
        panel.cancel()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=30000)
    result = blocker.args[0]
    assert result.cancelled and not result.rows  # the cut fold is not scored
    assert not worker.is_running and panel.progress.value() < 1000
    assert panel.status_label.text().startswith("Cancelled")
    assert panel.run_button.isEnabled()


def test_closing_the_window_stops_a_running_comparison(window, qtbot, sim):
    window.set_datasets(sim.neural, sim.behavior)
    panel = window.model_selection_panel
    window.tabs.setCurrentWidget(panel)
    panel.side_tabs.setCurrentWidget(panel.compare_panel)
    compare = panel.compare_panel
    compare.epochs_spin.setValue(100000)
    assert compare.start()
    assert panel.is_running
    qtbot.waitUntil(lambda: compare.progress.value() >= 1, timeout=120000)
    worker = window.jobs.compare.worker
    window.close()
    assert not worker.is_running and window.jobs.compare.worker is None
    assert not panel.is_running and window.session.running_jobs == []


def test_the_split_follows_the_model_panel_until_a_sweep_or_the_user_sets_one(qtbot, sim):
    split = [(2, 1, 1)]
    panel = ComparePanel(lambda: split[0])
    qtbot.addWidget(panel)
    panel.show()  # showing it takes the model panel's split
    assert panel.split() == (2, 1, 1) and panel.split_spins.note.text() == "as the model panel"
    split[0] = (3, 0, 1)
    panel.follow_model_split()
    assert panel.split() == (3, 0, 1)
    panel.set_split(1, 2, 0, source="sweep")
    split[0] = (4, 4, 4)
    panel.follow_model_split()
    assert panel.split() == (1, 2, 0) and panel.split_spins.note.text() == "the sweep's choice"
    panel.split_spins.spins["shared"].setValue(5)  # the user's own
    assert panel.split_spins.note.text() == ""
    panel.follow_model_split()
    assert panel.split() == (5, 2, 0)
    assert panel.settings().model_kwargs["shared"] == 5

