"""The model-selection view: a tiny sweep in the background (``jobs.SweepJob``), table, plot,
choosing a row, cancel; and the panel alone, a view that only asks for a sweep."""

from __future__ import annotations

import pytest

from mmgpvae_gui.panels.model_selection_panel import COLUMNS, ModelSelectionPanel


@pytest.fixture
def panel(window, tiny_sweep, sweep_sim):
    p = tiny_sweep(window, sweep_sim)
    yield p
    assert window.jobs.stop_and_wait(60000)


def _headers(panel) -> list[str]:
    t = panel.table
    return [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]


def test_sweep_runs_shows_table_and_plot_and_emits_choice(qtbot, panel):
    """Spike counts, no read-out named: each split with a linear and an MLP read-out, as the
    CLI's sweep does; the read-out in the table, the curves and the best line."""
    assert panel.readout_box.currentData() is None
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as blocker:
        assert panel.start()
    result = blocker.args[0]
    assert [(r["shared"], r["neural_decoder"]) for r in result.rows] == [
        (1, "linear"), (1, "mlp"), (2, "linear"), (2, "mlp")
    ]
    assert panel.progress.value() == panel.progress.maximum() == 4
    assert panel.table.rowCount() == 4
    assert _headers(panel)[:4] == ["S", "A", "B", "read-out"]
    cells = [[panel.table.item(i, j).text() for j in (0, 3)] for i in range(4)]
    assert cells == [["1", "linear"], ["1", "mlp"], ["2", "linear"], ["2", "mlp"]]
    best = result.best
    assert f"neural_decoder={best['neural_decoder']}" in panel.status_label.text()
    assert panel.status_label.text().startswith(result.best_line())
    assert panel.table.item(result.best_index, 3).font().bold()
    # The Baselines tab compares the sweep's choice with its read-out (compare --neural-decoder)
    compare = panel.compare_panel
    assert compare.settings().model_kwargs["neural_decoder"] == best["neural_decoder"]
    assert f"neural_decoder={best['neural_decoder']}" in compare.split_spins.note.text()
    compare.split_spins.edited.emit()  # the user sets another split: the model panel's again
    assert "neural_decoder" not in compare.settings().model_kwargs
    assert len(panel._curves) == 2  # one per read-out, each over the shared dimensions
    for curve in panel._curves.values():
        assert list(curve.getData()[0]) == [1, 2]
    qtbot.waitUntil(lambda: not panel.is_running, timeout=10000)
    assert panel.run_button.isEnabled()
    with qtbot.waitSignal(panel.fit_chosen, timeout=30000) as chosen:
        panel.choose_row(3)
    assert chosen.args[0]["shared"] == 2 and chosen.args[0]["neural_decoder"] == "mlp"


def test_a_named_read_out_is_the_only_one_tried(qtbot, panel):
    panel.readout_box.setCurrentIndex(panel.readout_box.findData("linear"))
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as blocker:
        assert panel.start()
    rows = blocker.args[0].rows
    assert [(r["shared"], r["neural_decoder"]) for r in rows] == [(1, "linear"), (2, "linear")]
    assert panel.table.rowCount() == 2 and _headers(panel)[3] == "read-out"


def test_cancel(qtbot, panel, window):
    panel.epochs_spin.setValue(100000)
    with qtbot.waitSignal(panel.sweep_finished, timeout=60000) as blocker:
        assert panel.start()
        assert not panel.start()  # one sweep at a time
        assert window.session.running_jobs == ["sweep"]
        assert not window.session.enabled().sweep and panel.cancel_button.isEnabled()
        panel.cancel()
    assert blocker.args[0].cancelled
    qtbot.waitUntil(lambda: not window.jobs.sweep.is_running, timeout=10000)
    assert window.session.running_jobs == [] and panel.run_button.isEnabled()


def test_no_data_message(window):
    p = window.model_selection_panel
    assert not p.start()
    assert "neural data" in p.status_label.text()


def test_the_panel_alone_only_asks_for_a_sweep_and_shows_what_it_is_told(qtbot):
    p = ModelSelectionPanel()
    qtbot.addWidget(p)
    p.shared_edit.setText("1-2")
    p.folds_spin.setValue(4)
    with qtbot.waitSignal(p.run_requested) as asked:
        assert not p.start()  # nobody ran it
    configs, settings = asked.args
    assert {c["shared"] for c in configs} == {1, 2} and len(configs) == 2 * 3 * 3
    assert not any("neural_decoder" in c for c in configs)  # the job adds both on counts
    assert settings.folds == 4 and settings.epochs == p.epochs_spin.value()
    p.shared_edit.setText("x")
    assert not p.start() and p.status_label.text().startswith("Bad range")
    p.begin(3, "Running 3 configurations…")
    assert p.is_running and not p.run_button.isEnabled() and p.progress.maximum() == 3
    p.show_progress(1, 3, {"shared": 1, "private_neural": 0, "private_behavior": 0,
                           "score": -1.0, "status": "ok"})
    assert p.table.rowCount() == 1 and p.progress.value() == 1
    assert _headers(p) == [h for _, h in COLUMNS]  # no option swept: no option column
    p.set_running(False)
    assert p.run_button.isEnabled() and not p.cancel_button.isEnabled()
