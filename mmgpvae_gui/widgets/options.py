"""A box for each config option the app shows, built from the field's metadata
(``config.Shown``: label, tooltip, range, decimals, suffix, the text of None), so that what the
command line's ``--help`` says and what the model panel offers come from one place.

:func:`make_box` builds it (a ``QSpinBox`` for an int or a power of ten, a ``QDoubleSpinBox`` for
a float, a ``QComboBox`` for a choice) showing the field's default; :func:`box_value` and
:func:`set_box_value` read and set it in the config's own terms (None where the box shows
"auto", the threshold itself where the box holds its power of ten).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox, QWidget

from mmgpvae_core.config import Shown

Box = QSpinBox | QDoubleSpinBox | QComboBox


def shown_fields(*configs: type) -> dict[str, dataclasses.Field]:
    """name → field of every field of ``configs`` that the app shows (``option(shown=...)``)."""
    return {
        f.name: f
        for cls in configs
        for f in dataclasses.fields(cls)
        if f.metadata.get("shown") is not None
    }


def shown(f: dataclasses.Field) -> Shown:
    return f.metadata["shown"]


def _kind(f: dataclasses.Field) -> str:
    t = str(f.type)
    return "int" if t.startswith("int") else "float" if t.startswith("float") else "str"


def make_box(f: dataclasses.Field, choices: Sequence[str] | None = None) -> Box:
    """The box of ``f``, its tooltip and range from its ``Shown``, showing its default;
    ``choices`` replace a choice box's items (those known only at run time: devices)."""
    s = shown(f)
    box: Box
    if s.log10 or (_kind(f) == "int" and not (choices or s.choices)):
        box = QSpinBox()
        box.setRange(int(s.low if s.low is not None else 0), int(s.high or 99))
        box.setPrefix("1e" if s.log10 else "")
    elif _kind(f) == "float":
        box = QDoubleSpinBox()
        if s.decimals is not None:
            box.setDecimals(s.decimals)  # before the range and the value, which it rounds
        box.setRange(float(s.low or 0.0), float(s.high or 1.0))
        if s.step is not None:
            box.setSingleStep(s.step)
    else:
        box = QComboBox()
        box.addItems([str(c) for c in (choices or s.choices or f.metadata.get("choices") or ())])
    if isinstance(box, (QSpinBox, QDoubleSpinBox)):
        box.setSuffix(s.suffix)
        box.setSpecialValueText(s.none)
    box.setToolTip(s.tip)
    set_box_value(f, box, f.default)
    return box


def set_box_value(f: dataclasses.Field, box: QWidget, value: Any) -> None:
    """Show ``value`` (the config's, or its text from the settings file); None: the box's
    lowest value where the field shows None ("auto"), else nothing changes."""
    s = shown(f)
    if isinstance(box, QComboBox):
        if value is not None:
            box.setCurrentText(str(value))
    elif value is None or value == "":
        if s.none:
            box.setValue(box.minimum())
    elif s.log10:
        box.setValue(round(math.log10(float(value))))
    elif isinstance(box, QSpinBox):
        box.setValue(int(float(value)))
    else:
        box.setValue(float(value))


def box_value(f: dataclasses.Field, box: QWidget) -> Any:
    """What the box shows, as the config takes it."""
    s = shown(f)
    if isinstance(box, QComboBox):
        return box.currentText()
    if s.none and box.value() == box.minimum():
        return None
    return 10.0 ** box.value() if s.log10 else box.value()


def box_changed(box: QWidget):
    """The box's signal that its value changed."""
    return box.currentTextChanged if isinstance(box, QComboBox) else box.valueChanged
