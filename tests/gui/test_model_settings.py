"""The model panel remembers what the user set, and only that."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from mmgpvae_core.config import ModelConfig
from mmgpvae_gui.panels.model_panel import ModelPanel


def _settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _store(tmp_path, **values: str) -> None:
    """Write ``values`` into the model group of the settings file, as a saved app would."""
    s = _settings(tmp_path)
    s.beginGroup("model")
    for key, value in values.items():
        s.setValue(key, value)
    s.endGroup()
    s.sync()


def _restored(qtbot, tmp_path) -> ModelPanel:
    """A new model panel restored from the settings file."""
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.restore_settings(_settings(tmp_path))
    return panel


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

    again = _restored(qtbot, tmp_path)
    kw = again.model_kwargs()
    assert (kw["shared"], kw["lr"], again.epochs()) == (3, 0.005, 40)
    assert kw["prune_threshold"] == ModelConfig.prune_threshold


def test_settings_of_the_first_version_lose_the_defaults_they_stored(qtbot, tmp_path):
    """Version 1 stored every value, the prune threshold 1e-8 of its time included; that was a
    default, not a choice, so today's default replaces it. A value someone chose stays."""
    _store(tmp_path, prune_threshold=str(1e-8), shared="4")
    panel = _restored(qtbot, tmp_path)
    assert ModelConfig.prune_threshold != 1e-8  # else this test shows nothing
    assert panel.model_kwargs()["prune_threshold"] == ModelConfig.prune_threshold
    assert panel.model_kwargs()["shared"] == 4

    # once saved as version 2, a 1e-8 chosen by the user is kept
    panel.apply_kwargs({"prune_threshold": 1e-8})
    panel.save_settings(_settings(tmp_path))
    later = _restored(qtbot, tmp_path)
    assert later.model_kwargs()["prune_threshold"] == 1e-8


def test_a_corrupt_settings_file_never_stops_the_panel(qtbot, tmp_path):
    _store(tmp_path, settings_version="2", shared="three")
    panel = _restored(qtbot, tmp_path)
    assert panel.model_kwargs()["shared"] == ModelConfig.shared
