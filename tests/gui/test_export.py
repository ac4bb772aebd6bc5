"""Export… from every view: PNG (chosen DPI), SVG and PDF re-drawn from the view's arrays, and
the 3D view as a screenshot of any size or a vector figure from the same camera."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtGui import QImage

from mmgpvae_gui import export

FIGURE_VIEWS = [v for v in export.VIEWS if v not in export.RASTER_ONLY]
SVG_NS = "{http://www.w3.org/2000/svg}"


def _check_png(path, size=None):
    img = QImage(str(path))
    assert not img.isNull(), f"{path} does not decode"
    if size is not None:
        assert (img.width(), img.height()) == size
    # Not blank: more than one color, and something other than the white background.
    rgb = img.convertToFormat(QImage.Format.Format_RGB32)
    px = np.frombuffer(rgb.constBits(), np.uint32, rgb.width() * rgb.height())[::7] & 0xFFFFFF
    assert len(np.unique(px)) > 2 and np.any(px != 0xFFFFFF)
    return img


def _check_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert len(root.findall(f".//{SVG_NS}path")) > 0


def _check_pdf(path):
    assert path.read_bytes()[:5] == b"%PDF-"


@pytest.fixture
def trained(loaded, qtbot, train):
    win = loaded
    win.model_panel.set_split(2, 1, 1)
    assert train(qtbot, win, 3) == "max_epochs"
    qtbot.waitUntil(lambda: win.last_snapshot is not None, timeout=30000)
    win.reconstruction_panel.set_trial(4)
    return win


def test_every_view_exports_to_png_svg_and_pdf(trained, qtbot, tmp_path, monkeypatch):
    win = trained
    for view in FIGURE_VIEWS:
        for fmt in ("png", "svg", "pdf"):
            path = win.export_view(view, tmp_path / f"{view}.{fmt}", dpi=80)
            assert path.exists()
            {"png": _check_png, "svg": _check_svg, "pdf": _check_pdf}[fmt](path)
    # The chosen DPI sets the PNG's pixel size.
    low = QImage(str(tmp_path / "elbo.png"))
    high = QImage(str(win.export_view("elbo", tmp_path / "elbo_160.png", dpi=160)))
    assert abs(high.width() - 2 * low.width()) <= 2

    # The 3D view: a screenshot at the requested size ...
    lp = win.latent_panel
    qtbot.waitUntil(lambda: lp.drawn_coordinates() is not None, timeout=30000)
    shot = win.export_view("latents_3d_screenshot", tmp_path / "shot.png", size=(640, 360))
    _check_png(shot, size=(640, 360))
    big = win.export_view("latents_3d_screenshot", tmp_path / "big.png", size=(1500, 1100))
    _check_png(big, size=(1500, 1100))

    # ... and a vector figure seen from the GL camera's angles.
    lp.view.setCameraPosition(elevation=35.0, azimuth=120.0, distance=30.0)
    seen = {}
    original = export.figures.latents_3d_figure

    def spy(*args, **kwargs):
        fig = original(*args, **kwargs)
        ax = next(a for a in fig.axes if a.name == "3d")
        seen.update(elev=ax.elev, azim=ax.azim, focal=ax._focal_length, dims=args[0].shape)
        return fig

    monkeypatch.setattr(export.figures, "latents_3d_figure", spy)
    _check_svg(win.export_view("latents_3d", tmp_path / "latents.svg"))
    assert seen["elev"] == pytest.approx(lp.view.opts["elevation"]) == 35.0
    assert seen["azim"] == pytest.approx(lp.view.opts["azimuth"]) == 120.0
    assert seen["focal"] == pytest.approx(1 / np.tan(np.radians(lp.view.opts["fov"]) / 2))
    assert seen["dims"][2] == 3


def test_export_dialog_choices_and_nothing_to_export(window, qtbot, tmp_path):
    dialog = export.ExportDialog(export.LATENT_VIEWS, str(tmp_path), (800, 600), window)
    qtbot.addWidget(dialog)
    assert dialog.view() == "latents_3d"
    assert [dialog.format_combo.itemData(i) for i in range(dialog.format_combo.count())] == [
        "png",
        "svg",
        "pdf",
    ]
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("pdf"))
    assert dialog.choice().path.endswith("latents_3d.pdf")
    assert not dialog.width_spin.isEnabled()
    dialog.view_combo.setCurrentIndex(1)  # the screenshot: PNG only, a pixel size, no DPI
    assert dialog.format_combo.count() == 1 and dialog.fmt() == "png"
    assert dialog.width_spin.isEnabled() and not dialog.dpi_spin.isEnabled()
    choice = dialog.choice()
    assert choice.view == "latents_3d_screenshot" and choice.size == (800, 600)
    assert choice.path.endswith(".png")
    # With no model, the window says so instead of writing an empty file.
    with qtbot.waitSignal(window.error_shown, timeout=30000):
        assert not window.export_chosen(choice)
    assert not (tmp_path / "latents_3d_screenshot.png").exists()
    # The File ▸ Export submenu lists every view, then the latents (as .nwb or .npz).
    file_menu = window.menuBar().actions()[0].menu()
    sub = next(a.menu() for a in file_menu.actions() if a.menu() and "Export" in a.text())
    entries = [a.text() for a in sub.actions() if not a.isSeparator()]
    assert entries == [f"{label}…" for label in export.VIEWS.values()] + ["Export &latents…"]
