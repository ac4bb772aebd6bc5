"""A MAT/NPZ/HDF5 file with several arrays: the data panel offers them, and reads those ticked
(several joined as channels); a file with one array offers nothing."""

from __future__ import annotations

import numpy as np
import scipy.io
from PySide6.QtCore import Qt

T = 300  # samples


def _session_file(path, wide=False):
    rng = np.random.default_rng(0)
    spikes = rng.poisson(2.0, (T, 7)).astype(np.uint8)
    pos, vel = rng.normal(size=(T, 2)), rng.normal(size=(T, 2))
    scipy.io.savemat(path, {"spikes": spikes.T if wide else spikes, "pos": pos, "vel": vel})
    return spikes, pos, vel


def _read(qtbot, chooser, names):
    chooser.tick(names)
    qtbot.mouseClick(chooser.read_button, Qt.MouseButton.LeftButton)


def test_the_panel_offers_the_arrays_and_reads_the_ticked_ones(window, qtbot, tmp_path, demo_files):
    path = tmp_path / "reaching.mat"
    spikes, pos, vel = _session_file(path)
    errors = []
    window.error_shown.connect(errors.append)
    neural = window.data_panel.choosers["neural"]
    assert neural.isHidden()
    assert not window.open_data_file(path, "neural")  # nothing named: the choice is offered
    assert not errors and window.session.neural is None
    assert not neural.isHidden() and sorted(neural.names()) == ["pos", "spikes", "vel"]
    assert "spikes — 300 × 7" in [neural.list.item(i).text() for i in range(3)]
    _read(qtbot, neural, ["spikes"])
    assert window.session.neural.n_channels == 7 and window.session.neural.field == "spikes"
    np.testing.assert_array_equal(window.session.neural.data[0], spikes)
    assert window.data_panel.summary_text("neural")["channels"] == "7"
    assert neural.ticked() == ["spikes"] and neural.note.text().startswith("Read: spikes.")

    behavior = window.data_panel.choosers["behavior"]
    assert not window.open_data_file(path, "behavior")
    _read(qtbot, behavior, ["pos", "vel"])  # joined as channels
    ds = window.session.behavior
    assert ds.channel_names == ["pos_x", "pos_y", "vel_x", "vel_y"]
    np.testing.assert_allclose(ds.data[0], np.hstack([pos, vel]))
    assert window.data_panel.summary_text("behavior")["channels"] == "4"
    assert not errors

    window.set_datasets(None, None)
    assert window.open_data_file(demo_files["neural"], "neural")  # one array: no choice
    assert neural.isHidden()


def test_a_channels_by_time_matrix_is_offered_transposed(window, qtbot, tmp_path):
    path = tmp_path / "wide.mat"
    spikes, _, _ = _session_file(path, wide=True)  # spikes stored 7 × 300
    assert not window.open_data_file(path, "neural")
    chooser = window.data_panel.choosers["neural"]
    assert "spikes.T" in chooser.names() and "pos.T" not in chooser.names()
    _read(qtbot, chooser, ["spikes"])  # as stored it is wider than tall: refused, says why
    assert "wider than tall" in window.last_error and window.session.neural is None
    assert "tick spikes.T to read it transposed" in window.last_error
    _read(qtbot, chooser, ["spikes.T"])
    np.testing.assert_array_equal(window.session.neural.data[0], spikes)


def test_a_wide_data_matrix_is_refused_and_offered_transposed(window, tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"data": np.zeros((3, 50))})  # 'data' read by default: wide
    assert not window.open_data_file(path, "neural")
    assert "wider than tall" in window.last_error
    chooser = window.data_panel.choosers["neural"]
    assert not chooser.isHidden() and chooser.names() == ["data", "data.T"]
