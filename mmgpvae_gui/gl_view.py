"""pyqtgraph's 3D view, rendered off-screen and painted as an image by a plain widget.

Any ``QOpenGLWidget`` in a window (pyqtgraph's ``GLViewWidget`` is one) switches the *whole*
window to OpenGL composition: every repaint of every plot is then composited through OpenGL. With
software OpenGL (remote desktops, VMs, Xvfb, many laptops' fallback) that cost ~20 ms per repaint
of any widget and starved the event loop while trials were scrubbed during a fit. A native child
window (``QOpenGLWindow`` in a window container) avoids that but crashed the interpreter at exit
and is invisible to ``QWidget.grab``.

:class:`OffscreenGLView` keeps ``GLViewWidget``'s API (``addItem``, ``opts``,
``setCameraPosition``, mouse rotate / zoom / pan, ``renderToArray``) on an ordinary ``QWidget``:
the scene is drawn into a framebuffer object of an off-screen OpenGL context only when it changed,
read back once and painted with the raster painter like any other widget. Text labels
(``set_labels``) and overlay polylines (``set_overlay_lines``) are projected with the scene's
camera and drawn by the painter on top: changing them costs no OpenGL render (with software
OpenGL a render of 100 antialiased trajectories takes ~20 ms; re-drawing one highlighted
trajectory over the cached scene, ~1 ms). ``GLTextItem`` is not supported: it paints on the view
as if it were the GL surface.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from OpenGL import GL
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMatrix4x4,
    QOffscreenSurface,
    QOpenGLContext,
    QPainter,
    QPen,
    QPolygonF,
    QSurfaceFormat,
)
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat
from PySide6.QtWidgets import QWidget

LABEL_POINT_SIZE = 11


class OpenGLUnavailable(RuntimeError):
    """No OpenGL context could be created (no driver, or a headless session without Mesa)."""


class OffscreenGLView(GLViewMixin, QWidget):
    """A 3D scene of pyqtgraph ``GLGraphicsItem`` s, drawn off-screen, shown as an image.

    Rendering happens in :meth:`paintEvent` only after something changed (items, camera, size);
    otherwise the last image is painted again, which costs a memory copy.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)  # the mixin's __init__ calls update(): see there
        self._ctx: QOpenGLContext | None = None
        self._surface: QOffscreenSurface | None = None
        self._fbo: QOpenGLFramebufferObject | None = None
        self._image: QImage | None = None
        self._stale = True
        self._labels: list[tuple[np.ndarray, str]] = []
        self._label_color = QColor(0, 0, 0)
        self._overlay: list[tuple[np.ndarray, QColor, float]] = []
        self._error: str | None = None  # why OpenGL is unavailable, once it failed
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.renders = 0  # scenes drawn (not repaints of the cached image): for tests

    # ------------------------------------------------------------ QOpenGLWidget's names
    def isValid(self) -> bool:
        return self._ctx is not None

    def context(self) -> QOpenGLContext | None:
        return self._ctx

    def makeCurrent(self) -> None:
        self._ensure_context()
        self._ctx.makeCurrent(self._surface)

    def doneCurrent(self) -> None:
        if self._ctx is not None:
            self._ctx.doneCurrent()

    def update(self, *args) -> None:  # noqa: D401 - Qt's name
        """Schedule a new render (the mixin and its items call this when anything changed)."""
        self._stale = True
        QWidget.update(self, *args)

    def grabFramebuffer(self) -> QImage:
        """The view as shown now: the scene (rendered if out of date), overlays and labels."""
        if self._stale or self._image is None:
            self._refresh()
        image = QImage(self._image)  # carries the device pixel ratio: the painter works in px
        self._paint_overlays(image, self.width(), self.height(), 1.0)
        return image

    # ------------------------------------------------------------ painter overlays
    def set_labels(self, labels: Sequence[tuple[Sequence[float], str]]) -> None:
        """Text anchored at 3D points: ``[(xyz, text), ...]`` (empty texts are skipped)."""
        self._labels = [(np.asarray(p, dtype=float), str(t)) for p, t in labels if t]
        QWidget.update(self)  # the scene itself is unchanged: no new render

    def set_overlay_lines(self, lines: Sequence[tuple[np.ndarray, QColor, float]]) -> None:
        """Polylines drawn over the scene, always in front: ``[(xyz (n, 3), color, width in
        px), ...]``. Changing them does not render the scene again."""
        self._overlay = [(np.asarray(p, dtype=float), QColor(c), float(w)) for p, c, w in lines]
        QWidget.update(self)

    # ------------------------------------------------------------ rendering
    def render_image(self, width: int, height: int, label_scale: float = 1.0) -> QImage:
        """The view drawn at ``width`` × ``height`` device pixels (any size the driver allows,
        not a scaled copy), overlays and labels painted on; an opaque RGB32 image."""
        image = self._render_scene(width, height)
        self._paint_overlays(image, image.width(), image.height(), label_scale)
        return image

    def _render_scene(self, width: int, height: int, keep: bool = False) -> QImage:
        """The scene alone; ``keep`` the framebuffer for the next render at this size (the
        on-screen size), not for one-off export sizes."""
        w, h = int(width), int(height)
        if w < 1 or h < 1:
            raise ValueError(f"render size {w}×{h}: both must be at least 1 pixel")
        self.makeCurrent()
        try:
            fbo = self._framebuffer(QSize(w, h), keep)
            fbo.bind()
            GL.glViewport(0, 0, w, h)
            self.paint(region=(0, 0, w, h), viewport=(0, 0, w, h))
            GL.glFinish()
            image = fbo.toImage().convertToFormat(QImage.Format.Format_RGB32)
            fbo.release()
            del fbo  # a one-off (export) framebuffer is freed now, while the context is current
        finally:
            self.doneCurrent()
        self.renders += 1
        return image

    def renderToArray(self, size, *args, **kwargs) -> np.ndarray:
        """``GLViewWidget.renderToArray``: (height, width, 4) BGRA bytes of the scene at
        ``size`` = (width, height)."""
        w, h = (int(v) for v in size)
        img = self.render_image(w, h).convertToFormat(QImage.Format.Format_ARGB32)
        arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
        return arr.reshape(h, img.bytesPerLine() // 4, 4)[:, :w].copy()

    def paintEvent(self, event) -> None:
        if self._error is None and (
            self._stale or self._image is None or self._image.size() != self._device_size()
        ):
            try:
                self._refresh()
            except OpenGLUnavailable as exc:  # say so in the view, once, rather than raise
                self._error = str(exc)  # on every repaint
        painter = QPainter(self)
        if self._error is not None:
            painter.fillRect(self.rect(), QColor(255, 255, 255))
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap),
                f"3D view unavailable: {self._error}",
            )
            painter.end()
            return
        painter.drawImage(0, 0, self._image)
        painter.end()
        self._paint_overlays(self, self.width(), self.height(), 1.0)

    def resizeEvent(self, event) -> None:
        self._stale = True
        self._error = None  # try again: a size the driver refused may fit now
        super().resizeEvent(event)

    # ------------------------------------------------------------ helpers
    def _device_size(self) -> QSize:
        """Device pixels, rounded up: with fractional scaling (1.5×) no edge row is left
        unpainted."""
        dpr = self.devicePixelRatioF()
        return QSize(max(1, math.ceil(self.width() * dpr)), max(1, math.ceil(self.height() * dpr)))

    def _refresh(self) -> None:
        size = self._device_size()
        self._image = self._render_scene(size.width(), size.height(), keep=True)
        self._image.setDevicePixelRatio(self.devicePixelRatioF())
        self._stale = False

    def _ensure_context(self) -> None:
        if self._ctx is not None:
            return
        fmt = QSurfaceFormat.defaultFormat()
        surface = QOffscreenSurface()
        surface.setFormat(fmt)
        surface.create()
        ctx = QOpenGLContext(self)
        ctx.setFormat(fmt)
        share = QOpenGLContext.globalShareContext()
        if share is not None:
            ctx.setShareContext(share)
        if not surface.isValid() or not ctx.create() or not ctx.makeCurrent(surface):
            raise OpenGLUnavailable(
                "cannot create an OpenGL context for the 3D view (install an OpenGL driver; "
                "on a headless Linux machine, Mesa: libgl1-mesa-dri)"
            )
        self._surface, self._ctx = surface, ctx
        try:
            self.initializeGL()  # the mixin: initialize the items added so far
        except Exception as exc:  # e.g. OpenGL older than 2.1
            ctx.doneCurrent()
            self._surface = self._ctx = None
            raise OpenGLUnavailable(f"OpenGL cannot draw the 3D view: {exc}") from exc

    def _framebuffer(self, size: QSize, keep: bool) -> QOpenGLFramebufferObject:
        if self._fbo is not None and self._fbo.size() == size:
            return self._fbo
        fmt = QOpenGLFramebufferObjectFormat()
        fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
        fbo = QOpenGLFramebufferObject(size, fmt)
        if not fbo.isValid():
            raise OpenGLUnavailable(
                f"cannot render the 3D view at {size.width()}×{size.height()} pixels "
                "(too large for the OpenGL driver)"
            )
        if keep:
            self._fbo = fbo
        return fbo

    def _projection(self, width: float, height: float) -> QMatrix4x4:
        """Scene coordinates → pixels of a ``width`` × ``height`` target (y down)."""
        viewport = (0, 0, int(round(width)), int(round(height)))
        to_pixels = QMatrix4x4()
        to_pixels.viewport(0.0, float(height), float(width), -float(height))
        return to_pixels * self.projectionMatrix(viewport, viewport) * self.viewMatrix()

    def _paint_overlays(self, device, width: float, height: float, scale: float) -> None:
        """Overlay lines and labels on ``device`` (this widget, or an image of the scene) whose
        logical size is ``width`` × ``height``; ``scale`` multiplies line widths and fonts."""
        if not (self._overlay or self._labels) or width < 1 or height < 1:
            return
        project = self._projection(width, height)
        painter = QPainter(device)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        for pts, color, w in self._overlay:
            if len(pts) < 2:
                continue
            pen = QPen(color, w * scale)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            xy, front = _project(project, pts)
            for run in _runs(front):  # only what is in front of the camera
                if len(run) > 1:
                    painter.drawPolyline(QPolygonF([QPointF(*xy[i]) for i in run]))
        if self._labels:
            font = QFont()
            font.setPointSizeF(LABEL_POINT_SIZE * max(scale, 0.1))
            painter.setFont(font)
            painter.setPen(self._label_color)
            for pos, text in self._labels:
                xy, front = _project(project, pos[None, :3])
                if front[0]:
                    painter.drawText(QPointF(*xy[0]), text)
        painter.end()


def _project(project: QMatrix4x4, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) scene points → (n, 2) pixels (perspective divide) and (n,) in front of the
    camera (points behind it would project mirrored)."""
    m = np.asarray(project.data(), dtype=float).reshape(4, 4).T  # data() is column-major
    h = np.asarray(xyz, dtype=float)[:, :3] @ m[:, :3].T + m[:, 3]
    front = h[:, 3] > 1e-6
    w = np.where(front, h[:, 3], 1.0)
    return h[:, :2] / w[:, None], front


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Indices of the consecutive True stretches of ``mask``."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    return np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
