"""The model and training settings: latent split, likelihoods, GP kernel, optimiser, device.

Each box is built from its config field (``option(shown=Shown(...))`` in ``mmgpvae_core/config.py``:
the label, the tooltip, the range), as the command line's options are; this module only says which
options go in which group (:data:`GROUPS`)."""

from __future__ import annotations

import math
from typing import Any

import torch
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.config import (
    KERNELS,
    SUBSPACES,
    ModelConfig,
    TrainConfig,
    kernel_spec,
    subspace_kernels,
)
from mmgpvae_core.data import Dataset
from mmgpvae_core.model.kernels import make_kernel
from mmgpvae_core.model.likelihoods import LikelihoodChoice, choose_likelihood
from mmgpvae_gui.widgets.options import (
    box_changed,
    box_value,
    make_box,
    set_box_value,
    shown,
    shown_fields,
)


def _devices() -> list[str]:
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append("mps")
    return out


#: the panel's groups and the options each shows, in order; each box (label, tooltip, range) is
#: built from the config field's metadata (``config.Shown``, ``widgets/options.py``)
GROUPS = {
    "Latent split": SUBSPACES,
    "Likelihoods": (
        "neural_likelihood", "behavior_likelihood", "neural_decoder", "behavior_decoder"
    ),
    "GP prior": ("kernel", "length_scale_init", "marginal_variance", "prune_threshold"),
    "Training": ("lr", "epochs", "batch_size", "device"),
}
FIELDS = shown_fields(ModelConfig, TrainConfig)
#: choice boxes whose items are known only at run time
RUNTIME_CHOICES = {"device": _devices}
#: the attribute a box is known by, where it is not the field's name (tests and scripts use them)
ATTRIBUTES = {
    "length_scale_init": "length_scale",
    "prune_threshold": "prune_exponent",
    "epochs": "epochs_spin",
}

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
    ``MMGPVAE(**kwargs)`` takes; ``epochs()`` how many more epochs Train runs. ``boxes``: the
    box of each option (by field name); ``kernels``: the kernel box of each subspace."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QWidget] = {}
        self.kernels: dict[str, QComboBox] = {}  # one per subspace, in SUBSPACES order
        for title, names in GROUPS.items():
            group = QGroupBox(title)
            form = QFormLayout(group)
            for name in names:
                if name == "kernel":
                    self._add_kernel_boxes(form)
                else:
                    self._add_box(form, name)
            layout.addWidget(group)
        layout.addStretch(1)
        # Why each likelihood is what it is: chosen from the loaded file, or by the user.
        for modality in ("neural", "behavior"):
            note = getattr(self, f"{modality}_likelihood_note")
            box = self.boxes[f"{modality}_likelihood"]
            box.activated.connect(lambda _i, n=note: n.setText("set by you"))
        # A built model fixes everything but the epochs still to train.
        self._locked_widgets = [
            *(b for n, b in self.boxes.items() if n != "epochs"), *self.kernels.values()
        ]

    # ---------------------------------------------------------------- construction helpers
    def _add_box(self, form: QFormLayout, name: str) -> None:
        f = FIELDS[name]
        choices = RUNTIME_CHOICES[name]() if name in RUNTIME_CHOICES else None
        box = self.boxes[name] = make_box(f, choices)
        box_changed(box).connect(self.changed)
        setattr(self, ATTRIBUTES.get(name, name), box)
        form.addRow(f"{shown(f).label}:", box)
        if name.endswith("_likelihood"):
            note = self._note()
            setattr(self, f"{name}_note", note)
            form.addRow("", note)

    @staticmethod
    def _note() -> QLabel:
        label = QLabel("")
        label.setEnabled(False)  # drawn in the palette's muted text colour
        label.setWordWrap(True)
        return label

    def _add_kernel_boxes(self, form: QFormLayout) -> None:
        """The kernel box of each subspace: the kernels' labels shown, their registered names as
        item data, the config's default selected."""
        s = shown(FIELDS["kernel"])
        defaults = subspace_kernels(ModelConfig.kernel)
        for sub in SUBSPACES:
            words = sub.replace("_", " ")
            c = self.kernels[sub] = QComboBox()
            for name in KERNELS:
                c.addItem(make_kernel(name).label, name)
            c.setCurrentIndex(c.findData(defaults[sub]))
            c.setToolTip(s.tip.format(subspace=words))
            c.currentIndexChanged.connect(self.changed)
            form.addRow(s.label.format(subspace=words).capitalize() + ":", c)

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
        return {k: v for k, v in self.model_kwargs().items() if k not in SUBSPACES}

    def model_kwargs(self) -> dict[str, Any]:
        """Every option the panel shows but the epochs, as ``MMGPVAE(**kwargs)`` takes them."""
        return {
            name: self.kernel_setting() if name == "kernel" else self._value(name)
            for names in GROUPS.values()
            for name in names
            if name != "epochs"
        }

    def _value(self, name: str) -> Any:
        return box_value(FIELDS[name], self.boxes[name])

    def epochs(self) -> int:
        return self.epochs_spin.value()

    def _settings(self) -> dict[str, Any]:
        """What the settings file remembers: :meth:`model_kwargs` and the epochs."""
        return {**self.model_kwargs(), "epochs": self.epochs()}

    def set_from_configs(self, model: ModelConfig, train: TrainConfig) -> None:
        """Show a reopened project's settings."""
        kw = {
            name: getattr(model if hasattr(model, name) else train, name)
            for names in GROUPS.values()
            for name in names
        }
        # None (every trial in one step, from the CLI or API) has no spin-box value
        kw["batch_size"] = train.batch_size or TrainConfig.batch_size
        self.apply_kwargs(kw)
        for note in (self.neural_likelihood_note, self.behavior_likelihood_note):
            note.setText("saved in the project")

    def apply_kwargs(self, kw: dict[str, Any]) -> None:
        """Set the controls named by ``model_kwargs()`` keys and "epochs" (others are ignored);
        values may be the settings file's text."""
        for key, value in kw.items():
            if key == "kernel" and value:
                for sub, name in subspace_kernels(str(value)).items():
                    self.kernels[sub].setCurrentIndex(self.kernels[sub].findData(name))
            elif key in self.boxes:
                set_box_value(FIELDS[key], self.boxes[key], value)
                if key.endswith("_likelihood") and value is not None:
                    getattr(self, f"{key}_note").setText("")

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
