"""The off-screen 3D view: GLViewWidget's API on a raster widget, overlays without re-rendering."""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from PySide6.QtGui import QColor, QImage
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from mmgpvae_gui.gl_view import OffscreenGLView


def _array(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
    bgra = a.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]
    return bgra[..., [2, 1, 0]].copy()  # RGB32 is B, G, R, A in memory (little-endian)


def _view(qtbot) -> OffscreenGLView:
    v = OffscreenGLView()
    v.setBackgroundColor("w")
    v.resize(320, 240)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v


def _black_line() -> gl.GLLinePlotItem:
    """A 3-px black line along x (alpha-blended: the default "additive" is invisible on white)."""
    pos = np.array([[-5, 0, 0], [5, 0, 0.0]])
    return gl.GLLinePlotItem(pos=pos, color=(0, 0, 0, 1), width=3, glOptions="translucent")


def _dark(a: np.ndarray) -> int:
    return int((a.sum(axis=2) < 200).sum())


def test_renders_items_into_an_image_of_any_size(qtbot):
    v = _view(qtbot)
    blank = _array(v.render_image(320, 240))
    assert blank.min() > 240  # white background, nothing drawn
    v.addItem(_black_line())
    v.setCameraPosition(distance=15, elevation=90, azimuth=0)
    a = _array(v.render_image(320, 240))
    assert _dark(a) > 100  # the line
    big = v.render_image(1000, 600)
    assert (big.width(), big.height()) == (1000, 600)
    bgra = v.renderToArray((200, 100))
    assert bgra.shape == (100, 200, 4) and bgra.dtype == np.uint8


def test_the_view_is_a_raster_widget_not_an_opengl_one(qtbot):
    v = _view(qtbot)
    # A QOpenGLWidget in a window makes Qt composite the whole window through OpenGL.
    assert not isinstance(v, QOpenGLWidget)
    assert not v.findChildren(QOpenGLWidget)


def test_overlays_and_labels_are_drawn_without_rendering_the_scene_again(qtbot):
    v = _view(qtbot)
    v.setCameraPosition(distance=15, elevation=90, azimuth=0)
    first = _array(v.grabFramebuffer())
    renders = v.renders
    v.set_overlay_lines([(np.array([[-4, -2, 0], [4, 2, 0.0]]), QColor(0, 0, 0), 3.0)])
    with_line = _array(v.grabFramebuffer())
    assert _dark(with_line) > _dark(first) + 100
    v.set_labels([((0, 3, 0), "latent 2")])
    with_label = _array(v.grabFramebuffer())
    assert _dark(with_label) > _dark(with_line)
    qtbot.wait(50)  # let it repaint on screen too
    assert v.renders == renders  # overlays and labels cost no OpenGL render
    v.setCameraPosition(azimuth=30)  # the camera moves: the scene is rendered again
    v.grabFramebuffer()
    assert v.renders == renders + 1


def test_the_window_grab_contains_the_3d_scene(qtbot):
    v = _view(qtbot)
    v.setCameraPosition(distance=15, elevation=90, azimuth=0)
    v.addItem(_black_line())
    qtbot.wait(50)
    assert _dark(_array(v.grab().toImage())) > 100


def test_without_opengl_the_view_says_why_instead_of_raising(qtbot, monkeypatch):
    from mmgpvae_gui import gl_view

    v = OffscreenGLView()
    qtbot.addWidget(v)

    def no_gl(self):
        raise gl_view.OpenGLUnavailable("no OpenGL driver")

    monkeypatch.setattr(OffscreenGLView, "_ensure_context", no_gl)
    v.resize(300, 200)
    v.show()
    qtbot.waitExposed(v)
    qtbot.wait(20)
    assert v._error == "no OpenGL driver"
    assert _dark(_array(v.grab().toImage())) > 20  # the message is painted


def test_overlays_are_projected_with_the_scenes_camera(qtbot):
    """An overlay polyline lands on the GL line through the same 3D points."""
    v = _view(qtbot)
    v.setCameraPosition(distance=18, elevation=30, azimuth=40)
    pts = np.array([[-4.0, -2.0, 1.0], [4.0, 2.0, -1.0]])
    v.addItem(gl.GLLinePlotItem(pos=pts, color=(1, 0, 0, 1), width=5, glOptions="translucent"))
    scene = _array(v.grabFramebuffer())
    red = (scene[..., 0] > 200) & (scene[..., 1] < 80) & (scene[..., 2] < 80)
    v.set_overlay_lines([(pts, QColor(0, 0, 255), 2.0)])
    both = _array(v.grabFramebuffer())
    blue = (both[..., 2] > 200) & (both[..., 0] < 80) & (both[..., 1] < 80)
    assert red.sum() > 100 and blue.sum() > 50
    ry, rx = np.nonzero(red)
    by, bx = np.nonzero(blue)
    # Same segment on screen: same centroid, and extents that differ by the line widths.
    assert abs(rx.mean() - bx.mean()) < 2 and abs(ry.mean() - by.mean()) < 2
    assert abs(np.ptp(rx) - np.ptp(bx)) <= 5 and abs(np.ptp(ry) - np.ptp(by)) <= 5


def test_overlay_points_behind_the_camera_are_not_drawn(qtbot):
    v = _view(qtbot)
    v.setCameraPosition(distance=5, elevation=0, azimuth=0)  # the camera sits at x = 5
    behind = np.array([[20.0, 0.0, 0.0], [30.0, 1.0, 0.0]])  # beyond it, out of sight
    v.set_overlay_lines([(behind, QColor(0, 0, 0), 3.0)])
    v.set_labels([((25.0, 0.0, 0.0), "hidden")])
    assert _dark(_array(v.grabFramebuffer())) == 0  # nothing mirrored into view
    front = np.array([[-2.0, -1.0, 0.0], [-2.0, 1.0, 0.0]])
    v.set_overlay_lines([(np.vstack([behind, front]), QColor(0, 0, 0), 3.0)])
    assert _dark(_array(v.grabFramebuffer())) > 50  # the part in front still is
