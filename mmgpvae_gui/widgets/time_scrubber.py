"""Scrub a continuous session on its clock: a slider over session time (s) and a view a few
windows wide.

A continuous session is a :class:`~mmgpvae_core.data.Dataset` cut into consecutive windows
(``continuous.is_continuous``). Its bins, end to end, are the session: ``(windows × window,)``
bin centres in session seconds (``continuous.session_time``). The scrubber's state is a view
``[start, stop)`` of those bins, ``width × window`` bins wide; a move emits ``view_changed`` and
the views slice their (already joined) arrays with it — nothing is recomputed per move.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from mmgpvae_core.continuous import is_continuous, session_time
from mmgpvae_core.data import Dataset

WIDTHS = (1, 2, 4, 8)  # view widths offered, in windows
PLAY_MS = 250
PLAY_STEP = 0.25  # of the view's width per tick: 1 window/s at 1×


def session_clock(ds: Dataset | None) -> tuple[np.ndarray, int] | None:
    """(bin centres in session seconds (bins,), bins per window) of a continuous session;
    None for trial data."""
    if ds is None or not is_continuous(ds):
        return None
    return session_time(ds), int(ds.n_time)


def joined(x: np.ndarray) -> np.ndarray:
    """(windows, window, channels) → (bins, channels): a view, not a copy, when contiguous."""
    return x.reshape(-1, x.shape[-1])


def trial_selector() -> tuple[QWidget, QPushButton, QSlider, QLabel]:
    """Trial data's row instead: (row, play button, trial slider, label)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    play = QPushButton("Play")
    play.setCheckable(True)
    play.setToolTip("Step through the trials automatically (4 trials/s)")
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setToolTip("Trial shown (←/→ step one trial)")
    label = QLabel("no data")
    label.setMinimumWidth(220)
    layout.addWidget(play)
    layout.addWidget(slider, 1)
    layout.addWidget(label)
    return row, play, slider, label


class TimeScrubber(QWidget):
    """Play button, session-time slider, the view's span (s) and a view-width chooser.

    The slider's value is the view's first bin; ``view()`` is ``(start, stop)`` in bins and
    ``view_time()`` the span in session seconds (bin edges). ``compact``: no text labels
    beside the slider and the width chooser (a narrow panel)."""

    view_changed = Signal(int, int)  # start bin, stop bin (exclusive)

    def __init__(self, parent: QWidget | None = None, compact: bool = False) -> None:
        super().__init__(parent)
        self._time = np.zeros(0)
        self._window = 1
        self._dt = 1.0
        self._shown = (0, 0)  # the view last announced
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Scrub through the session automatically")
        self.play_button.toggled.connect(self._on_play_toggled)
        row.addWidget(self.play_button)
        if not compact:
            row.addWidget(QLabel("Session time:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Session time (s) at the left edge of the view (←/→ step)")
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        row.addWidget(self.slider, 1)
        self.label = QLabel("no session")
        self.label.setToolTip("The view's span and the session's length, in session seconds")
        self.label.setMinimumWidth(150)
        row.addWidget(self.label)
        if not compact:
            row.addWidget(QLabel("View:"))
        self.width_combo = QComboBox()
        self.width_combo.setToolTip("Width of the view, in fitted windows")
        self.width_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.width_combo.currentIndexChanged.connect(self._on_width_combo_changed)
        row.addWidget(self.width_combo)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_MS)
        self._play_timer.timeout.connect(lambda: self.step(PLAY_STEP, wrap=True))

    # ---------------------------------------------------------------- state
    def set_session(self, time: np.ndarray, window_bins: int) -> None:
        """The session's bin centres (s) and the fitted window (bins); the view starts at 0."""
        self._time = np.asarray(time, dtype=float)
        self._window = max(1, int(window_bins))
        self._dt = float(np.median(np.diff(self._time))) if self._time.size > 1 else 1.0
        self.width_combo.blockSignals(True)
        self.width_combo.clear()
        for k in WIDTHS:
            if k == 1 or (k // 2) * self._window < self.n_bins:
                self.width_combo.addItem(f"{k}× window ({k * self._window * self._dt:.3g} s)", k)
        self.width_combo.blockSignals(False)
        self.slider.blockSignals(True)
        self._set_range()
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._emit()

    @property
    def n_bins(self) -> int:
        return int(self._time.size)

    @property
    def width_bins(self) -> int:
        return min(self.n_bins, self._window * int(self.width_combo.currentData() or 1))

    def session_span(self) -> tuple[float, float]:
        """First and last bin edge of the session (s)."""
        if not self.n_bins:
            return (0.0, 0.0)
        return (self._time[0] - self._dt / 2, self._time[-1] + self._dt / 2)

    def view(self) -> tuple[int, int]:
        s = min(self.slider.value(), max(0, self.n_bins - self.width_bins))
        return s, s + self.width_bins

    def view_time(self) -> tuple[float, float]:
        """The view's span in session seconds (edges of its first and last bin)."""
        s0, s1 = self.view()
        if s1 <= s0:
            return (0.0, 0.0)
        return (self._time[s0] - self._dt / 2, self._time[s1 - 1] + self._dt / 2)

    def set_view_start(self, start_bin: int) -> None:
        self.slider.setValue(int(start_bin))

    def set_view(self, start_bin: int, stop_bin: int) -> None:
        """Show bins [start, stop): the width offered nearest to theirs, from ``start``."""
        k = max(1, round((stop_bin - start_bin) / self._window))
        widths = [self.width_combo.itemData(i) for i in range(self.width_combo.count())]
        if widths:
            best = min(widths, key=lambda w: abs(w - k))
            self.width_combo.blockSignals(True)
            self.width_combo.setCurrentIndex(widths.index(best))
            self.width_combo.blockSignals(False)
            self._set_range()
        if self.slider.value() == int(start_bin):
            self._emit()  # the width alone changed
        self.slider.setValue(int(start_bin))

    def set_time(self, t_s: float) -> None:
        """Put the view's centre at session time ``t_s`` (clamped to the session)."""
        i = int(np.searchsorted(self._time, t_s))
        self.set_view_start(i - self.width_bins // 2)

    def set_width(self, windows: int) -> None:
        i = self.width_combo.findData(int(windows))
        if i < 0:
            raise ValueError(f"view width: expected one of {WIDTHS} windows, found {windows}")
        self.width_combo.setCurrentIndex(i)

    def step(self, fraction: float, wrap: bool = False) -> None:
        """Move the view by ``fraction`` of its width (negative: back)."""
        top = self.slider.maximum()
        d = int(round(fraction * self.width_bins)) or int(np.sign(fraction))
        s = self.slider.value() + d
        if wrap and s > top:
            s = 0
        self.slider.setValue(max(0, min(top, s)))

    def stop(self) -> None:
        self.play_button.setChecked(False)

    # ---------------------------------------------------------------- slots
    def _set_range(self) -> None:
        w = self.width_bins
        self.slider.setRange(0, max(0, self.n_bins - w))
        self.slider.setSingleStep(max(1, w // 4))
        self.slider.setPageStep(max(1, w))

    def _emit(self) -> None:
        t0, t1 = self.view_time()
        a, b = self.session_span()
        self.label.setText(f"<b>{t0:.2f}–{t1:.2f} s</b> of {b - a:.4g} s")
        self._shown = self.view()
        self.view_changed.emit(*self._shown)

    def _on_slider_value_changed(self, _v: int) -> None:
        self._emit()

    def _on_width_combo_changed(self, _i: int) -> None:
        centre = sum(self._shown) // 2
        self.slider.blockSignals(True)
        self._set_range()
        self.slider.setValue(centre - self.width_bins // 2)
        self.slider.blockSignals(False)
        self._emit()

    def _on_play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        (self._play_timer.start if on else self._play_timer.stop)()
