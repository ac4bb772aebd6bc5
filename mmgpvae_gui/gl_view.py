"""pyqtgraph's 3D view hosted in its own native window.

Any ``QOpenGLWidget`` in a window (pyqtgraph's ``GLViewWidget`` is one) switches the *whole*
window to OpenGL composition: every repaint of every plot is then composited through OpenGL. With
software OpenGL (remote desktops, VMs, Xvfb) that cost ~20 ms per repaint and starved the event
loop while trials were scrubbed. The same view as a ``QOpenGLWindow`` embedded with
``QWidget.createWindowContainer`` renders in a native child window and leaves the rest of the
window on the raster painter.
"""

from __future__ import annotations

from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtCore import QRect
from PySide6.QtOpenGL import QOpenGLWindow
from PySide6.QtWidgets import QSizePolicy, QWidget


class GLViewWindow(GLViewMixin, QOpenGLWindow):
    """``GLViewWidget``'s API (addItem, opts, setCameraPosition, renderToArray, ...) on a
    ``QOpenGLWindow``. Put ``container()`` in layouts, not the window itself."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._container: QWidget | None = None

    # QWidget names the mixin and its items rely on, for a QWindow.
    def devicePixelRatioF(self) -> float:
        return float(self.devicePixelRatio())

    def rect(self) -> QRect:
        return QRect(0, 0, self.width(), self.height())

    def container(self, min_width: int = 300, min_height: int = 250) -> QWidget:
        """The QWidget that hosts this window in a layout (created once)."""
        if self._container is None:
            self._container = QWidget.createWindowContainer(self)
            self._container.setMinimumSize(min_width, min_height)
            grow = QSizePolicy.Policy.Expanding
            self._container.setSizePolicy(grow, grow)
        return self._container
