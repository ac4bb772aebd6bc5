"""A GP kernel per subspace in the model panel, and the kernel on each length-scale curve."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings

from mmgpvae_core.config import ModelConfig, TrainConfig
from mmgpvae_core.figures import length_scale_figure
from mmgpvae_core.figures.history import latent_kernels
from mmgpvae_core.synthetic.simulate import simulate
from mmgpvae_gui.panels.model_panel import ModelPanel
from mmgpvae_gui.session import Session


def test_a_kernel_chosen_per_subspace_reaches_the_model_and_the_settings(qtbot, tmp_path):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    assert panel.model_kwargs()["kernel"] == ModelConfig.kernel == "rbf"
    shown = [panel.kernels["shared"].itemText(i) for i in range(panel.kernels["shared"].count())]
    assert shown == ["RBF", "Matérn ½", "Matérn 3/2", "Matérn 5/2"]

    box = panel.kernels["shared"]
    with qtbot.waitSignal(panel.changed):
        box.setCurrentIndex(box.findText("Matérn ½"))
    assert panel.model_kwargs()["kernel"] == "shared=matern12"
    ModelConfig(**{k: v for k, v in panel.model_kwargs().items() if k in ModelConfig.__dataclass_fields__})

    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    panel.save_settings(s)
    again = ModelPanel()
    qtbot.addWidget(again)
    again.restore_settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.kernels["shared"].currentText() == "Matérn ½"
    assert again.kernels["private_behavior"].currentText() == "RBF"

    # a reopened project shows its kernels; one name means every subspace
    again.set_from_configs(ModelConfig(kernel="matern32"), TrainConfig())
    assert {b.currentText() for b in again.kernels.values()} == {"Matérn 3/2"}
    assert again.model_kwargs()["kernel"] == "matern32"
    again.set_model_locked(True)
    assert not any(b.isEnabled() for b in again.kernels.values())


def test_the_length_scale_legend_names_each_latents_kernel():
    sim = simulate(n_trials=4, n_time=20, n_neurons=5, n_keypoints=2, seed=1)
    session = Session()
    session.set_datasets(sim.neural, sim.behavior)
    kw = {"shared": 2, "private_neural": 1, "private_behavior": 1, "kernel": "shared=matern12"}
    names = session.latent_names(kw)
    assert names == [
        "shared 1 · Matérn ½",
        "shared 2 · Matérn ½",
        "private neural 1 · RBF",
        "private behavior 1 · RBF",
    ]
    # the exported figure keeps each subspace's line style with the kernel in the name
    fig = length_scale_figure(np.ones((3, 4)) * 5.0, 0.02, names)
    lines = fig.axes[0].get_lines()
    assert lines[0].get_linestyle() == "-" and lines[2].get_linestyle() == "--"
    assert "Matérn ½" in lines[0].get_label()
    # a project's figure: the kernels from its config
    cfg = {**kw, "kernel": "private_neural=matern52"}
    assert latent_kernels(cfg, 4) == ["RBF", "RBF", "Matérn 5/2", "RBF"]
    legend = length_scale_figure(np.ones(4), None, None, kernels=latent_kernels(cfg, 4))
    assert legend.axes[0].get_lines()[2].get_label().startswith("latent 3 · Matérn 5/2")
    assert latent_kernels({"shared": 1, "private_neural": 0, "private_behavior": 0}, 1) == ["RBF"]
