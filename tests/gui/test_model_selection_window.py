"""The model-selection tab of the main window: a tiny sweep on the loaded data, choosing a row
loads its fit (or sets its split), and closing the window stops a running sweep."""

from __future__ import annotations

from pathlib import Path


def _tiny(panel, epochs: int = 2) -> None:
    panel.window().jobs.sweep.n_jobs = 1
    panel.shared_edit.setText("1-2")
    panel.private_neural_edit.setText("0")
    panel.private_behavior_edit.setText("0")
    panel.folds_spin.setValue(2)
    panel.epochs_spin.setValue(epochs)


def test_sweep_from_the_window_and_choose_a_row(loaded, qtbot):
    win = loaded
    panel = win.model_selection_panel
    win.tabs.setCurrentWidget(panel)
    _tiny(panel)
    with qtbot.waitSignal(panel.sweep_finished, timeout=90000) as blocker:
        assert panel.start()
    result = blocker.args[0]
    assert [r["status"] for r in result.rows] == ["ok"] * 4  # spike counts: both read-outs
    assert all(Path(r["project"]).is_file() for r in result.rows)
    # The sweep used the model panel's likelihoods (not its split).
    assert result.rows[0]["shared"] == 1
    qtbot.waitUntil(lambda: not panel.is_running, timeout=10000)

    # A row with a saved fit opens like a project, its read-out with it.
    assert [(r["shared"], r["neural_decoder"]) for r in result.rows][3] == (2, "mlp")
    panel.table.selectRow(3)
    panel.load_button.click()
    assert win.model is not None and win.model.model_config.shared == 2
    assert win.model.model_config.neural_decoder == "mlp"
    assert win.model_panel.shared.value() == 2
    assert win.model_panel.model_kwargs()["neural_decoder"] == "mlp"
    assert win.tabs.currentIndex() == 0
    assert win.training_panel.n_epochs_shown == 2
    assert win.latent_panel.current_subspace() == "shared"

    # A row without one sets the split and its read-out, for the user to press Train.
    row = dict(result.rows[1], project="")
    assert row["neural_decoder"] == "mlp"
    win.model_panel.apply_kwargs({"neural_decoder": "linear"})
    panel.fit_chosen.emit(row)
    assert win.model is None
    assert win.model_panel.model_kwargs()["shared"] == 1
    assert win.model_panel.model_kwargs()["neural_decoder"] == "mlp"
    assert "neural_decoder=mlp" in win.statusBar().currentMessage()
    assert win.training_panel.train_button.isEnabled()


def test_closing_the_window_stops_a_running_sweep(loaded, qtbot):
    win = loaded
    panel = win.model_selection_panel
    _tiny(panel, epochs=100000)
    assert panel.start()
    worker = win.jobs.sweep.worker
    assert win.jobs.running() == ["sweep"] == win.session.running_jobs
    win.close()
    assert not worker.is_running and win.jobs.sweep.worker is None and not panel.is_running
