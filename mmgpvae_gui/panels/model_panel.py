"""The model and training settings: latent split, likelihoods, GP kernel, optimiser, device."""

from __future__ import annotations

import math
from typing import Any

import torch
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.config import (
    KERNELS,
    LIKELIHOODS,
    SUBSPACES,
    ModelConfig,
    TrainConfig,
    kernel_spec,
    subspace_kernels,
)
from mmgpvae_core.data import Dataset
from mmgpvae_core.model.kernels import make_kernel
from mmgpvae_core.model.likelihoods import LikelihoodChoice, choose_likelihood


def _devices() -> list[str]:
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return out


_KERNEL_TIP = (
    "GP kernel of the {subspace} latents: RBF for smooth dynamics (the default); Matérn ½ "
    "(Ornstein–Uhlenbeck) for rough ones with abrupt changes, Matérn 3/2 and 5/2 in between. "
    "Rougher kernels keep many more Fourier frequencies, so fitting is slower."
)

#: 2: only the values the user changed are stored (before: every value)
_SETTINGS_VERSION = 2
#: defaults that settings of version 1 stored as if chosen, though nobody chose them
_DEFAULTS_BEFORE_V2: dict[str, Any] = {"prune_threshold": 1e-8}


def _same(a: Any, b: Any) -> bool:
    """A stored setting (text) and a value, compared as numbers where both are."""
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    except (TypeError, ValueError):
        return str(a) == str(b)


class ModelPanel(QWidget):
    """Every control has a tooltip saying what it does and its unit. ``model_kwargs()`` is what
    ``MMGPVAE(**kwargs)`` takes; ``epochs()`` how many more epochs Train runs."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        split = QGroupBox("Latent split")
        f = QFormLayout(split)
        self.shared = self._spin(
            0,
            10,
            ModelConfig.shared,
            "Shared latent dimensions: driven by, and explaining, both modalities (count).",
        )
        self.private_neural = self._spin(
            0,
            10,
            ModelConfig.private_neural,
            "Private neural latent dimensions: explain neural activity only (count).",
        )
        self.private_behavior = self._spin(
            0,
            10,
            ModelConfig.private_behavior,
            "Private behavior latent dimensions: explain behavior only (count).",
        )
        f.addRow("Shared:", self.shared)
        f.addRow("Private neural:", self.private_neural)
        f.addRow("Private behavior:", self.private_behavior)
        layout.addWidget(split)

        obs = QGroupBox("Likelihoods")
        f = QFormLayout(obs)
        self.neural_likelihood = self._combo(
            LIKELIHOODS,
            ModelConfig.neural_likelihood,
            "Observation model of the neural data: poisson for spike "
            "counts per bin, negbinomial for over-dispersed counts, gaussian for "
            "calcium/continuous traces, bernoulli for 0/1 events. Chosen from the data when a "
            "file loads; pick another to override.",
        )
        self.behavior_likelihood = self._combo(
            LIKELIHOODS,
            ModelConfig.behavior_likelihood,
            "Observation model of the behavior data: gaussian for "
            "keypoints/continuous variables or image intensities, bernoulli for binary pixels. "
            "Chosen from the data when a file loads; pick another to override.",
        )
        self.behavior_decoder = self._combo(
            ("mlp", "linear"),
            ModelConfig.behavior_decoder,
            "Behavior decoder: a small neural network (mlp, for "
            "nonlinear behavior such as images) or an affine map (linear).",
        )
        # Why each likelihood is what it is: chosen from the loaded file, or by the user.
        self.neural_likelihood_note = self._note()
        self.behavior_likelihood_note = self._note()
        for combo, note in (
            (self.neural_likelihood, self.neural_likelihood_note),
            (self.behavior_likelihood, self.behavior_likelihood_note),
        ):
            combo.activated.connect(lambda _i, n=note: n.setText("set by you"))
        f.addRow("Neural:", self.neural_likelihood)
        f.addRow("", self.neural_likelihood_note)
        f.addRow("Behavior:", self.behavior_likelihood)
        f.addRow("", self.behavior_likelihood_note)
        f.addRow("Behavior decoder:", self.behavior_decoder)
        layout.addWidget(obs)

        gp = QGroupBox("GP prior")
        f = QFormLayout(gp)
        self.length_scale = QDoubleSpinBox()
        self.length_scale.setRange(0.0, 1000.0)
        self.length_scale.setDecimals(1)
        self.length_scale.setSuffix(" bins")
        self.length_scale.setSpecialValueText("auto")
        self.length_scale.setToolTip(
            "Initial length-scale of every latent, in time bins "
            "(how slowly latents vary). 'auto' picks it from the data."
        )
        self.marginal_variance = QDoubleSpinBox()
        self.marginal_variance.setRange(0.01, 100.0)
        self.marginal_variance.setValue(ModelConfig.marginal_variance)
        self.marginal_variance.setToolTip(
            "Marginal variance of each latent under the GP prior (latent units squared)."
        )
        self.prune_exponent = QSpinBox()
        self.prune_exponent.setRange(-16, -1)
        self.prune_exponent.setValue(round(math.log10(ModelConfig.prune_threshold)))
        self.prune_exponent.setPrefix("1e")
        self.prune_exponent.setToolTip(
            "Pruning threshold: Fourier frequencies whose prior "
            "variance is below this fraction are dropped (unitless; "
            "larger = faster, smoother)."
        )
        #: one kernel box per subspace, in SUBSPACES order
        self.kernels = {sub: self._kernel_combo(sub) for sub in SUBSPACES}
        f.addRow("Shared kernel:", self.kernels["shared"])
        f.addRow("Private neural kernel:", self.kernels["private_neural"])
        f.addRow("Private behavior kernel:", self.kernels["private_behavior"])
        f.addRow("Length-scale:", self.length_scale)
        f.addRow("Marginal variance:", self.marginal_variance)
        f.addRow("Pruning threshold:", self.prune_exponent)
        layout.addWidget(gp)

        opt = QGroupBox("Training")
        f = QFormLayout(opt)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(1e-4, 1.0)
        self.lr.setSingleStep(1e-3)
        self.lr.setValue(TrainConfig.lr)
        self.lr.setToolTip("Adam learning rate (step size per mini-batch, unitless).")
        self.epochs_spin = self._spin(
            1,
            100000,
            TrainConfig.epochs,
            "Maximum number of epochs (passes over all "
            "trials) that Train runs; it stops earlier on a plateau.",
        )
        self.batch_size = self._spin(
            1, 10000, TrainConfig.batch_size, "Trials per mini-batch (count)."
        )
        self.device = self._combo(
            _devices(),
            TrainConfig.device,
            "Where to train: auto picks a GPU (CUDA or Apple MPS) when there is one, else the CPU.",
        )
        f.addRow("Learning rate:", self.lr)
        f.addRow("Epochs:", self.epochs_spin)
        f.addRow("Batch size:", self.batch_size)
        f.addRow("Device:", self.device)
        layout.addWidget(opt)
        layout.addStretch(1)
        self._locked_widgets = [
            self.shared,
            self.private_neural,
            self.private_behavior,
            self.neural_likelihood,
            self.behavior_likelihood,
            self.behavior_decoder,
            *self.kernels.values(),
            self.length_scale,
            self.marginal_variance,
            self.prune_exponent,
            self.lr,
            self.batch_size,
            self.device,
        ]

    # ---------------------------------------------------------------- construction helpers
    def _spin(self, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setValue(value)
        s.setToolTip(tip)
        s.valueChanged.connect(self.changed)
        return s

    @staticmethod
    def _note() -> QLabel:
        label = QLabel("")
        label.setEnabled(False)  # drawn in the palette's muted text colour
        label.setWordWrap(True)
        return label

    def _combo(self, items, value: str, tip: str) -> QComboBox:
        c = QComboBox()
        c.addItems(list(items))
        c.setCurrentText(value)
        c.setToolTip(tip)
        c.currentTextChanged.connect(self.changed)
        return c

    def _kernel_combo(self, subspace: str) -> QComboBox:
        """The kernel box of ``subspace``: the kernels' labels shown, their registered names as
        item data, the config's default selected."""
        c = QComboBox()
        for name in KERNELS:
            c.addItem(make_kernel(name).label, name)
        c.setCurrentIndex(c.findData(subspace_kernels(ModelConfig.kernel)[subspace]))
        c.setToolTip(_KERNEL_TIP.format(subspace=subspace.replace("_", " ")))
        c.currentIndexChanged.connect(self.changed)
        return c

    def kernel_setting(self) -> str:
        """The ``kernel`` setting the boxes show ("rbf", or "shared=matern12,…")."""
        return kernel_spec({sub: c.currentData() for sub, c in self.kernels.items()})

    # ---------------------------------------------------------------- state in and out
    def set_split(self, shared: int, private_neural: int, private_behavior: int) -> None:
        self.shared.setValue(shared)
        self.private_neural.setValue(private_neural)
        self.private_behavior.setValue(private_behavior)

    def follow_data(self, modality: str, ds: Dataset) -> LikelihoodChoice:
        """Set ``modality``'s likelihood box to the one chosen for a newly loaded file (as
        ``"auto"`` does in the CLI and the API) and say why under it."""
        choice = choose_likelihood(ds, modality=modality)
        getattr(self, f"{modality}_likelihood").setCurrentText(choice.name)
        getattr(self, f"{modality}_likelihood_note").setText(choice.reason)
        return choice

    def kwargs_but_split(self) -> dict:
        """:meth:`model_kwargs` except the latent split (a sweep varies it)."""
        split = ("shared", "private_neural", "private_behavior")
        return {k: v for k, v in self.model_kwargs().items() if k not in split}

    def model_kwargs(self) -> dict[str, Any]:
        ell = self.length_scale.value()
        return {
            "shared": self.shared.value(),
            "private_neural": self.private_neural.value(),
            "private_behavior": self.private_behavior.value(),
            "neural_likelihood": self.neural_likelihood.currentText(),
            "behavior_likelihood": self.behavior_likelihood.currentText(),
            "behavior_decoder": self.behavior_decoder.currentText(),
            "kernel": self.kernel_setting(),
            "length_scale_init": ell if ell > 0 else None,
            "marginal_variance": self.marginal_variance.value(),
            "prune_threshold": 10.0 ** self.prune_exponent.value(),
            "lr": self.lr.value(),
            "batch_size": self.batch_size.value(),
            "device": self.device.currentText(),
        }

    def epochs(self) -> int:
        return self.epochs_spin.value()

    def _settings(self) -> dict[str, Any]:
        """What the settings file remembers: :meth:`model_kwargs` and the epochs."""
        return {**self.model_kwargs(), "epochs": self.epochs()}

    def set_from_configs(self, model: ModelConfig, train: TrainConfig) -> None:
        """Show a reopened project's settings."""
        self.set_split(model.shared, model.private_neural, model.private_behavior)
        self.apply_kwargs(
            {
                "neural_likelihood": model.neural_likelihood,
                "behavior_likelihood": model.behavior_likelihood,
                "behavior_decoder": model.behavior_decoder,
                "kernel": model.kernel,
                "length_scale_init": model.length_scale_init,
                "marginal_variance": model.marginal_variance,
                "prune_threshold": model.prune_threshold,
                "lr": train.lr,
                # None (every trial in one step, from the CLI or API) has no spin-box value
                "batch_size": train.batch_size or TrainConfig.batch_size,
                "epochs": train.epochs,
                "device": train.device,
            }
        )
        for note in (self.neural_likelihood_note, self.behavior_likelihood_note):
            note.setText("saved in the project")

    def apply_kwargs(self, kw: dict[str, Any]) -> None:
        """Set the controls named by ``model_kwargs()`` keys (others are ignored)."""
        if "shared" in kw:
            self.shared.setValue(int(kw["shared"]))
        if "private_neural" in kw:
            self.private_neural.setValue(int(kw["private_neural"]))
        if "private_behavior" in kw:
            self.private_behavior.setValue(int(kw["private_behavior"]))
        for key in ("neural_likelihood", "behavior_likelihood", "behavior_decoder", "device"):
            if key in kw and kw[key] is not None:
                getattr(self, key).setCurrentText(str(kw[key]))
                if key.endswith("_likelihood"):
                    getattr(self, f"{key}_note").setText("")
        if kw.get("kernel"):
            for sub, name in subspace_kernels(str(kw["kernel"])).items():
                self.kernels[sub].setCurrentIndex(self.kernels[sub].findData(name))
        if "length_scale_init" in kw:
            self.length_scale.setValue(float(kw["length_scale_init"] or 0.0))
        if "marginal_variance" in kw:
            self.marginal_variance.setValue(float(kw["marginal_variance"]))
        if "prune_threshold" in kw:
            self.prune_exponent.setValue(round(math.log10(float(kw["prune_threshold"]))))
        if "lr" in kw:
            self.lr.setValue(float(kw["lr"]))
        if "batch_size" in kw:
            self.batch_size.setValue(int(kw["batch_size"]))
        if "epochs" in kw:
            self.epochs_spin.setValue(int(kw["epochs"]))

    def set_model_locked(self, locked: bool) -> None:
        """A built model fixes its architecture; only the number of epochs stays editable."""
        for w in self._locked_widgets:
            w.setEnabled(not locked)

    # ---------------------------------------------------------------- persistence
    def save_settings(self, s: QSettings) -> None:
        """Remember what the user set: only the values that differ from the defaults, so a
        default improved in a later version reaches users who never changed it."""
        defaults = {**ModelConfig().to_dict(), **TrainConfig().to_dict()}
        s.beginGroup("model")
        for k, v in self._settings().items():
            if _same(v, defaults.get(k)):
                s.remove(k)
            else:
                s.setValue(k, "" if v is None else str(v))
        s.setValue("settings_version", _SETTINGS_VERSION)
        s.endGroup()

    def restore_settings(self, s: QSettings) -> None:
        s.beginGroup("model")
        kw: dict[str, Any] = {}
        try:
            # settings written before version 2 held every value, the defaults of then too
            stale = {} if s.value("settings_version") is not None else _DEFAULTS_BEFORE_V2
            for k in self._settings():
                v = s.value(k)
                if v is None or (k in stale and _same(v, stale[k])):
                    continue
                kw[k] = None if v == "" else v
            self.apply_kwargs(kw)
        except (TypeError, ValueError):
            pass  # a corrupt settings file never stops the app
        finally:
            s.endGroup()
