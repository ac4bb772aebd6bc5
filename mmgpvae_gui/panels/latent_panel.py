"""3D latent trajectories (pyqtgraph.opengl): one line per trial colored by condition, the
condition means bold, the current trial highlighted; choose the subspace and three axes.

For a continuous session (``set_session_time``) the session is one trajectory: the 3D view
draws it faintly and highlights the view a session-time scrubber selects, and a plot under it
shows the latents of that view against session time. The session's latents are the stitched
ones (``set_continuous_latents``, from :func:`mmgpvae_core.continuous.continuous_latents`)
or, until those come, the windows' own joined end to end — computed once per set of latents;
a scrub step only slices them."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_gui.gl_view import OffscreenGLView
from mmgpvae_gui.redraw import RedrawQueue
from mmgpvae_gui.style import (
    HIGHLIGHT,
    NO_CONDITION,
    condition_colors,
    hex_color,
    rgba_float,
)
from mmgpvae_gui.subspaces import LABELS, SUBSPACES, latent_name
from mmgpvae_gui.widgets.latent_strip import LatentTimePlot
from mmgpvae_gui.widgets.time_scrubber import TimeScrubber, joined

HIGHLIGHT_WIDTH = 3.0  # px
# Lines are drawn in layers, in the order added (trials, then condition means over them), with
# alpha blending and no depth test: pyqtgraph's "additive" vanishes on white, and "translucent"
# (depth-tested) let the thin trial lines cut the bold means into dashes.
_LAYERED = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
EXTENT = 5.0  # the scene's half-width, in GL units
TIME, NONE = "time", "none"
_CAMERA = {"distance": 17.0, "elevation": 22.0, "azimuth": -60.0}


class LatentPanel(QWidget):
    subspace_changed = Signal(str)
    export_requested = Signal()  # the user asked to export the 3D view
    view_changed = Signal(int, int)  # continuous session: the view's bins [start, stop)
    all_sessions_toggled = Signal(bool)  # several sessions: draw them all in their one space

    def __init__(self, parent: QWidget | None = None, redraw: RedrawQueue | None = None) -> None:
        super().__init__(parent)
        self._queue = redraw if redraw is not None else RedrawQueue(parent=self)
        self._latents: dict[str, np.ndarray] = {}
        self._conditions: np.ndarray | None = None
        self._colors: dict[str, tuple[int, int, int]] = {}
        self._trial = 0
        self._coords: np.ndarray | None = None  # (trials, time, 3) drawn now
        self._clock: tuple[np.ndarray, int] | None = None  # continuous: (session time, window)
        self._stitched: dict[str, np.ndarray] = {}  # continuous_latents() output
        self._session: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}  # (bins, d) cache

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build_choices(layout)
        self.scrubber = TimeScrubber(compact=True)
        self.scrubber.view_changed.connect(self._on_scrubber_view_changed)
        self.scrubber.hide()
        layout.addWidget(self.scrubber)
        self._build_view()
        layout.addWidget(self.view, 3)
        self.time_plot = LatentTimePlot()
        self.time_plot.hide()
        layout.addWidget(self.time_plot, 2)

        self.legend = QLabel()
        self.legend.setWordWrap(True)
        layout.addWidget(self.legend)
        self.reset_view()

    # ---------------------------------------------------------------- building
    def _build_choices(self, layout: QVBoxLayout) -> None:
        """The subspace, Reset view and Export…; the latent on each axis."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Subspace:"))
        self.subspace_combo = QComboBox()
        self.subspace_combo.setToolTip(
            "Which latents to draw: shared by both modalities, or "
            "private to the neural or the behavior data"
        )
        self.subspace_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.subspace_combo.setMinimumContentsLength(14)
        self.subspace_combo.currentIndexChanged.connect(self._on_subspace_combo_changed)
        row.addWidget(self.subspace_combo)
        self.all_sessions_box = QCheckBox("All sessions")
        self.all_sessions_box.setToolTip(
            "Several sessions fitted together: draw every session's latents in their one "
            "space, colored by session (off: the chosen session, colored by condition)"
        )
        self.all_sessions_box.toggled.connect(self.all_sessions_toggled)
        self.all_sessions_box.hide()
        row.addWidget(self.all_sessions_box)
        self.reset_button = QPushButton("Reset view")
        row.addStretch(1)
        row.addWidget(self.reset_button)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the 3D view: a screenshot at any resolution (PNG), or a vector figure "
            "(SVG, PDF, PNG) re-drawn from the same camera angle"
        )
        self.export_button.clicked.connect(self.export_requested)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.axis_combos: list[QComboBox] = []
        for name in ("x", "y", "z"):
            row.addWidget(QLabel(f"{name}:"))
            c = QComboBox()
            c.setToolTip(
                f"Latent dimension on the {name} axis (orthonormalized, ordered by "
                "variance explained), time (bins), or none"
            )
            c.currentIndexChanged.connect(self._on_axis_combo_changed)
            self.axis_combos.append(c)
            row.addWidget(c)
        self.reset_button.setToolTip(
            "Back to the default camera (drag to rotate, wheel to zoom, middle-drag to pan)"
        )
        self.reset_button.clicked.connect(self.reset_view)
        row.addStretch(1)
        layout.addLayout(row)

    def _build_view(self) -> None:
        """The 3D view: a grid, the axes, all trials in one item and the condition means."""
        self.view = OffscreenGLView()
        self.view.setBackgroundColor("w")
        self.view.setMinimumSize(300, 250)
        grid = gl.GLGridItem(color=(0, 0, 0, 40))
        grid.setSize(2 * EXTENT, 2 * EXTENT)
        grid.setSpacing(1.0, 1.0)
        self.view.addItem(grid)
        for k in range(3):
            end = np.zeros(3)
            end[k] = EXTENT
            ax = gl.GLLinePlotItem(
                pos=np.array([-end, end]),
                color=(0.3, 0.3, 0.3, 1.0),
                width=2,
                glOptions=_LAYERED,
            )
            self.view.addItem(ax)
        # All trials in one item (and all condition means in another): one draw call each,
        # whatever the number of trials, rather than ~0.3 ms of Python per line per frame.
        self._trials_item = gl.GLLinePlotItem(width=1, antialias=True, mode="lines")
        self._trials_item.setGLOptions(_LAYERED)
        self._means_item = gl.GLLinePlotItem(
            width=5, antialias=True, mode="lines", glOptions=_LAYERED
        )
        # The current trial is an overlay the view's painter draws over the rendered scene:
        # scrubbing trials then costs no OpenGL render.
        self._highlight: np.ndarray | None = None

    # ---------------------------------------------------------------- state from the window
    def set_latents(self, latents: dict[str, np.ndarray], conditions: np.ndarray | None) -> None:
        """latents: subspace → (trials, time, dim); conditions: (trials,) labels or None."""
        self._latents = {k: np.asarray(v) for k, v in latents.items() if np.asarray(v).size}
        self._conditions = None if conditions is None else np.asarray(conditions).astype(str)
        labels = [] if self._conditions is None else list(self._conditions)
        self._colors = condition_colors(labels)
        current = self.subspace_combo.currentData()
        self.subspace_combo.blockSignals(True)
        self.subspace_combo.clear()
        for key in SUBSPACES:
            if key in self._latents:
                d = self._latents[key].shape[2]
                self.subspace_combo.addItem(f"{LABELS[key]} ({d}-D)", key)
        idx = self.subspace_combo.findData(current)
        self.subspace_combo.setCurrentIndex(max(0, idx))
        self.subspace_combo.blockSignals(False)
        self._fill_axis_combos(keep=idx >= 0)
        self._session, self._stitched = {}, {}  # stitched latents of an older fit: dropped
        self._update_legend()
        self._request_redraw()

    def offer_all_sessions(self, available: bool) -> None:
        """Show the All sessions box (a model of several sessions) or hide and clear it."""
        self.all_sessions_box.setVisible(available)
        if not available:
            self.all_sessions_box.setChecked(False)

    def set_session_time(self, time: np.ndarray | None, window_bins: int = 0) -> None:
        """A continuous session: its bin centres in session seconds (windows × window,) and
        the window (bins); None for trial data (the default)."""
        self._clock = None if time is None else (np.asarray(time, dtype=float), int(window_bins))
        self._stitched, self._session = {}, {}
        self.scrubber.setVisible(self._clock is not None)
        self.time_plot.setVisible(self._clock is not None)
        self.scrubber.stop()
        if self._clock is not None:
            self.scrubber.set_session(*self._clock)
        self._update_legend()
        self._request_redraw()

    def set_continuous_latents(self, lat: dict[str, np.ndarray]) -> None:
        """Stitched session latents: ``time`` (bins,), per subspace (bins, dims) and ``*_var``,
        as :func:`~mmgpvae_core.continuous.continuous_latents` returns them, for the latents
        set last; shown instead of the windows' own until ``set_latents`` drops them."""
        self._stitched = {k: np.asarray(v) for k, v in lat.items()}
        self._session = {}
        self._request_redraw()

    def set_view(self, start: int, stop: int) -> None:
        """Continuous session: show bins [start, stop) (another view's scrubber moved)."""
        if self._clock is not None and self.scrubber.view() != (start, stop):
            self.scrubber.set_view(start, stop)

    def session_latents(self, key: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Continuous session: (mean, var or None), each (bins, dims), of subspace ``key``."""
        if self._clock is None or key not in self._latents:
            return None
        if key not in self._session:
            n = self._clock[0].size
            st = self._stitched.get(key)
            if st is not None and st.shape[0] == n:
                self._session[key] = (st, self._stitched.get(f"{key}_var"))
            elif self._latents[key].shape[0] * self._latents[key].shape[1] == n:
                self._session[key] = (joined(self._latents[key]), None)
            else:
                return None  # latents of other data than the session's
        return self._session[key]

    def clear(self) -> None:
        self.set_latents({}, None)

    def set_subspace(self, key: str) -> None:
        i = self.subspace_combo.findData(key)
        if i < 0:
            raise ValueError(f"no latents for subspace {key!r}")
        self.subspace_combo.setCurrentIndex(i)

    def current_subspace(self) -> str | None:
        return self.subspace_combo.currentData()

    def set_axes(self, choices: list[str]) -> None:
        """Three axis choices, each 'latent k' (1-based), 'time' or 'none'."""
        for c, choice in zip(self.axis_combos, choices):
            c.setCurrentIndex(max(0, c.findText(choice)))

    def set_current_trial(self, i: int) -> None:
        self._trial = i
        if self._clock is None:  # a continuous session follows its scrubber instead
            self._queue.request("latents/highlight", self._draw_highlight)

    def drawn_coordinates(self) -> np.ndarray | None:
        """(trials, time, 3) positions drawn now, in scene units."""
        return self._coords

    def highlighted_positions(self) -> np.ndarray | None:
        """(time, 3) scene positions of the highlighted (current) trial, or None."""
        return self._highlight

    def camera(self) -> dict[str, float]:
        """The GL camera: ``elevation``, ``azimuth`` (degrees), ``distance`` (scene units) and
        ``fov`` (horizontal field of view, degrees), as in ``GLViewWidget.opts``."""
        return {k: float(self.view.opts[k]) for k in ("elevation", "azimuth", "distance", "fov")}

    def export_latents(self) -> dict | None:
        """What the 3D view draws, in data units, for a figure: ``coordinates`` (trials, time, 3)
        — the chosen latents (a.u.), time (bins) or zeros for "none" —, ``names`` (3 axis
        labels), ``conditions`` (one label per trial, or None), ``subspace``. None when no
        latents are shown. For a continuous session: the scrubbed view as one trajectory, time
        in session seconds, and ``time`` (time,), ``mean`` and ``var`` (time, dims; var None
        before stitched latents came) of the view."""
        key = self.current_subspace()
        if key not in self._latents:
            return None
        z, extra = self._latents[key], {}
        session = self.session_latents(key)
        if session is not None:
            s0, s1 = self.scrubber.view()
            mean, var = session
            t = self._clock[0][s0:s1]
            z = mean[None, s0:s1]
            extra = {"time": t, "mean": mean[s0:s1], "var": None if var is None else var[s0:s1]}
        N, T, _ = z.shape
        out = np.zeros((N, T, 3), dtype=float)
        names = []
        for k, c in enumerate(self.axis_combos):
            choice = c.currentText()
            if choice.startswith("latent"):
                out[..., k] = z[..., int(choice.split()[1]) - 1]
                names.append(f"{LABELS[key]} {choice.split()[1]} (a.u.)")
            elif choice == TIME and extra:
                out[..., k] = extra["time"][None, :]
                names.append("session time (s)")
            elif choice == TIME:
                out[..., k] = np.arange(T)[None, :]
                names.append("time (bins)")
            else:
                names.append("(none)")
        conds = None if self._conditions is None else list(self._conditions)
        return {"coordinates": out, "names": names, "conditions": conds, "subspace": key, **extra}

    def reset_view(self) -> None:
        self.view.setCameraPosition(**_CAMERA)
        self.view.opts["center"] = pg.Vector(0, 0, 0)

    # ---------------------------------------------------------------- slots
    def _on_subspace_combo_changed(self, _i: int) -> None:
        self._fill_axis_combos(keep=False)
        self._request_redraw()
        self.subspace_changed.emit(self.current_subspace() or "")

    def _on_axis_combo_changed(self, _i: int) -> None:
        self._request_redraw()

    def _on_scrubber_view_changed(self, start: int, stop: int) -> None:
        self._queue.request("latents/highlight", self._draw_highlight)
        self._queue.request("latents/time", self._draw_time_view)
        self.view_changed.emit(start, stop)

    def _request_redraw(self) -> None:
        self._queue.request("latents/3d", self._redraw)

    # ---------------------------------------------------------------- helpers
    def _fill_axis_combos(self, keep: bool) -> None:
        key = self.current_subspace()
        d = self._latents[key].shape[2] if key in self._latents else 0
        items = [f"latent {k + 1}" for k in range(d)] + [TIME, NONE]
        defaults = [f"latent {k + 1}" for k in range(min(d, 3))] + [TIME, NONE, NONE]
        for c, default in zip(self.axis_combos, defaults):
            old = c.currentText()
            c.blockSignals(True)
            c.clear()
            c.addItems(items)
            c.setCurrentText(old if keep and old in items else default)
            c.blockSignals(False)

    def _update_legend(self) -> None:
        if self._clock is not None:
            self.legend.setText(
                "grey: the whole session · "
                f"<span style='color:{hex_color(HIGHLIGHT)}'><b>black</b></span>: the view"
                " selected on the session clock"
            )
            return
        if not self._colors:
            self.legend.setText("one line per trial" if self._latents else "")
            return
        parts = [
            f"<span style='color:{hex_color(c)}'>■</span> {lab}" for lab, c in self._colors.items()
        ]
        group = "Sessions" if self.all_sessions_box.isChecked() else "Conditions"
        mean = "session" if group == "Sessions" else "condition"
        self.legend.setText(
            f"{group}: "
            + " &nbsp; ".join(parts)
            + f" &nbsp;·&nbsp; thin: trials, bold: {mean} mean, "
            f"<span style='color:{hex_color(HIGHLIGHT)}'><b>black</b></span>: current trial"
        )

    def _coordinates(self, z: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(trials, time, 3) scene coordinates and axis labels from the axis choices."""
        N, T, _ = z.shape
        lat_scale = float(np.nanpercentile(np.abs(z), 99)) if z.size else 1.0
        lat_scale = EXTENT / lat_scale if lat_scale > 0 else 1.0
        out = np.zeros((N, T, 3), dtype=np.float32)
        labels = []
        for k, c in enumerate(self.axis_combos):
            choice = c.currentText()
            if choice.startswith("latent"):
                out[..., k] = z[..., int(choice.split()[1]) - 1] * lat_scale
            elif choice == TIME:
                out[..., k] = np.linspace(-EXTENT, EXTENT, T)[None, :]
            labels.append("" if choice == NONE else choice)
        return out, labels

    def _show(self, item: gl.GLLinePlotItem, on: bool) -> None:
        if on and item not in self.view.items:
            self.view.addItem(item)
        elif not on and item in self.view.items:
            self.view.removeItem(item)

    def _redraw(self) -> None:
        key = self.current_subspace()
        if key not in self._latents:
            for item in (self._trials_item, self._means_item):
                self._show(item, False)
            self.view.set_labels([])
            self._coords = None
            self.time_plot.clear_series()
            self._draw_highlight()
            return
        session = self.session_latents(key)
        z = self._latents[key] if session is None else session[0][None]
        coords, labels = self._coordinates(z)
        self._coords = coords
        if session is not None:
            names = [latent_name(key, k) for k in range(z.shape[2])]
            self.time_plot.set_series(self._clock[0], session[0], session[1], names)
            self._queue.request("latents/time", self._draw_time_view)
        self.view.set_labels(
            [(np.eye(3)[k] * EXTENT * 1.08, text) for k, text in enumerate(labels)]
        )
        N = coords.shape[0]
        conds = self._conditions if self._conditions is not None else np.array([""] * N)
        rgba = np.array([rgba_float(self._colors.get(c, NO_CONDITION), 0.35) for c in conds])
        self._trials_item.setData(
            pos=_segments(coords), color=_segment_colors(rgba, coords.shape[1])
        )
        means, mean_rgba = [], []
        for lab, rgb in self._colors.items():
            sel = conds == lab
            if sel.any():
                means.append(coords[sel].mean(0))
                mean_rgba.append(rgba_float(rgb, 1.0))
        if means:
            m = np.stack(means)
            self._means_item.setData(
                pos=_segments(m), color=_segment_colors(np.array(mean_rgba), m.shape[1])
            )
        self._show(self._trials_item, True)
        self._show(self._means_item, bool(means))
        self._queue.cancel("latents/highlight")
        self._draw_highlight()

    def _draw_highlight(self) -> None:
        coords = self._coords
        if coords is None:
            self._highlight = None
            self.view.set_overlay_lines([])
        else:
            t = min(max(self._trial, 0), coords.shape[0] - 1)
            line = coords[t]
            if self._clock is not None and coords.shape[:2] == (1, self._clock[0].size):
                s0, s1 = self.scrubber.view()
                line = coords[0, s0:s1]
            self._highlight = line
            self.view.set_overlay_lines([(line, QColor(*HIGHLIGHT), HIGHLIGHT_WIDTH)])

    def _draw_time_view(self) -> None:
        if self._clock is not None:
            self.time_plot.show_view(*self.scrubber.view())


def _segments(lines: np.ndarray) -> np.ndarray:
    """(n, T, 3) polylines → (n·(T−1)·2, 3) segment end points for ``mode="lines"``."""
    pairs = np.stack([lines[:, :-1], lines[:, 1:]], axis=2)  # (n, T-1, 2, 3)
    return np.ascontiguousarray(pairs.reshape(-1, 3), dtype=np.float32)


def _segment_colors(rgba: np.ndarray, T: int) -> np.ndarray:
    """(n, 4) one color per line → (n·(T−1)·2, 4) one per segment end point."""
    return np.ascontiguousarray(np.repeat(rgba, 2 * (T - 1), axis=0), dtype=np.float32)
