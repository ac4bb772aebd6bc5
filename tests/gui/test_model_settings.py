"""The model panel remembers what the user set, and only that."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from mmgpvae_core.config import ModelConfig
from mmgpvae_gui.panels.model_panel import ModelPanel


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_choices_come_back_and_defaults_stay_the_defaults(qtbot, tmp_path):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.apply_kwargs({"shared": 3, "lr": 0.005, "epochs": 40})
    s = _settings(tmp_path)
    panel.save_settings(s)
    s.sync()
    # only what differs from the defaults is written: an improved default reaches the user
    s.beginGroup("model")
    assert {"shared", "lr", "epochs"} <= set(s.childKeys())
    assert "prune_threshold" not in s.childKeys()
    s.endGroup()

    again = ModelPanel()
    qtbot.addWidget(again)
    again.restore_settings(_settings(tmp_path))
    kw = again.model_kwargs()
    assert (kw["shared"], kw["lr"], again.epochs()) == (3, 0.005, 40)
    assert kw["prune_threshold"] == ModelConfig.prune_threshold


def test_settings_of_the_first_version_lose_the_defaults_they_stored(qtbot, tmp_path):
    """Version 1 stored every value, the prune threshold 1e-8 of its time included; that was a
    default, not a choice, so today's default replaces it. A value someone chose stays."""
    s = _settings(tmp_path)
    s.beginGroup("model")
    s.setValue("prune_threshold", str(1e-8))
    s.setValue("shared", "4")
    s.endGroup()
    s.sync()
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.restore_settings(_settings(tmp_path))
    assert ModelConfig.prune_threshold != 1e-8  # else this test shows nothing
    assert panel.model_kwargs()["prune_threshold"] == ModelConfig.prune_threshold
    assert panel.model_kwargs()["shared"] == 4

    # once saved as version 2, a 1e-8 chosen by the user is kept
    panel.apply_kwargs({"prune_threshold": 1e-8})
    panel.save_settings(_settings(tmp_path))
    later = ModelPanel()
    qtbot.addWidget(later)
    later.restore_settings(_settings(tmp_path))
    assert later.model_kwargs()["prune_threshold"] == 1e-8


def test_a_corrupt_settings_file_never_stops_the_panel(qtbot, tmp_path):
    s = _settings(tmp_path)
    s.beginGroup("model")
    s.setValue("settings_version", "2")
    s.setValue("shared", "three")
    s.endGroup()
    s.sync()
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.restore_settings(_settings(tmp_path))
    assert panel.model_kwargs()["shared"] == ModelConfig.shared
