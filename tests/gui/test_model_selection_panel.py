"""The model-selection panel: a tiny sweep in the background, table, plot, choosing a row, cancel."""

from __future__ import annotations

import pytest

from mmgpvae_core.simulate import simulate
from mmgpvae_gui.panels.model_selection_panel import ModelSelectionPanel


@pytest.fixture(scope="module")
def sim():
    return simulate(n_trials=12, n_time=24, n_neurons=10, n_keypoints=3, seed=5)


@pytest.fixture
def panel(qtbot, sim):
    p = ModelSelectionPanel(lambda: (sim.neural, sim.behavior), lambda: {"device": "cpu"}, n_jobs=1)
    qtbot.addWidget(p)
    p.shared_edit.setText("1-2")
    p.private_neural_edit.setText("0")
    p.private_behavior_edit.setText("0")
    p.folds_spin.setValue(2)
    p.epochs_spin.setValue(2)
    yield p
    assert p.stop_and_wait(60000)


def test_sweep_runs_shows_table_and_plot_and_emits_choice(qtbot, panel):
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as blocker:
        assert panel.start()
    result = blocker.args[0]
    assert panel.progress.value() == panel.progress.maximum() == 2
    assert panel.table.rowCount() == 2
    assert panel.table.item(0, 0).text() == "1" and panel.table.item(1, 0).text() == "2"
    assert "best: shared=" in panel.status_label.text()
    assert result.best_index is not None
    xs, ys = next(iter(panel._curves.values())).getData()
    assert list(xs) == [1, 2]
    qtbot.waitUntil(lambda: not panel.is_running, timeout=10000)
    assert panel.run_button.isEnabled()
    with qtbot.waitSignal(panel.fit_chosen, timeout=30000) as chosen:
        panel.choose_row(1)
    assert chosen.args[0]["shared"] == 2


def test_cancel(qtbot, panel):
    panel.epochs_spin.setValue(100000)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as blocker:
        assert panel.start()
        assert not panel.start()  # one sweep at a time
        panel.cancel()
    assert blocker.args[0].cancelled


def test_no_data_message(qtbot):
    p = ModelSelectionPanel(lambda: (None, None))
    qtbot.addWidget(p)
    assert not p.start()
    assert "neural data" in p.status_label.text()
