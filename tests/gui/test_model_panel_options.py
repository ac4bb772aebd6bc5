"""One source for every option: the model panel's boxes are built from the config fields'
metadata (``config.Shown``), so the tooltip, range and default a box shows are the config's."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import QComboBox

from mmgpvae_core.config import ModelConfig, Shown, TrainConfig
from mmgpvae_gui.panels.model_panel import FIELDS, GROUPS, ModelPanel
from mmgpvae_gui.widgets.options import box_value


def test_every_box_shows_its_fields_label_tip_range_and_default(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    shown = [n for names in GROUPS.values() for n in names if n != "kernel"]
    assert sorted(panel.boxes) == sorted(shown) == sorted(n for n in FIELDS if n != "kernel")
    for name, box in panel.boxes.items():
        f = FIELDS[name]
        s: Shown = f.metadata["shown"]
        assert box.toolTip() == s.tip
        assert box_value(f, box) == f.default
        if not isinstance(box, QComboBox) and not s.log10:
            assert (box.minimum(), box.maximum()) == (s.low, s.high)
    assert panel.prune_exponent.value() == -6 and panel.prune_exponent.prefix() == "1e"
    assert panel.length_scale.specialValueText() == "auto"
    assert "shared latents" in panel.kernels["shared"].toolTip()


def test_the_panels_settings_are_what_the_config_takes(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    kw = panel.model_kwargs()
    model = {f.name for f in dataclasses.fields(ModelConfig)}
    train = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(kw) <= model | train and "epochs" not in kw
    ModelConfig(**{k: v for k, v in kw.items() if k in model})
    panel.apply_kwargs({"length_scale_init": 12.5, "prune_threshold": 1e-3, "shared": "3",
                        "neural_likelihood": "gaussian", "epochs": 40})
    kw = panel.model_kwargs()
    assert (kw["length_scale_init"], kw["prune_threshold"], kw["shared"]) == (12.5, 1e-3, 3)
    assert kw["neural_likelihood"] == "gaussian" and panel.epochs() == 40
    panel.apply_kwargs({"length_scale_init": None})
    assert panel.model_kwargs()["length_scale_init"] is None
