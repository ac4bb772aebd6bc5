"""Export a view: the dialog (what, format, DPI or pixel size, file) and the writers; and the
posterior latents as .npz or .nwb (the CLI's ``export-latents``).

Vector and PNG figures are re-drawn with :mod:`mmgpvae_core.figures` from the same arrays the view
shows (so axes carry units and conditions keep their colors); the 3D view can also be saved as
a raster screenshot of its OpenGL scene at any size. The dialog only collects choices; the main
window's ``export_view(view, path, dpi, size)`` does the writing (and is what tests call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from mmgpvae_core import figures
from mmgpvae_core.data import DataError
from mmgpvae_gui.host import Host

# view name → menu label. "latents_3d_screenshot" is the raster grab of the GL view (PNG only).
VIEWS = {
    "elbo": "ELBO and its terms",
    "length_scales": "Length-scales",
    "reconstruction_neural": "Reconstruction (neural), current trial",
    "reconstruction_behavior": "Reconstruction (behavior), current trial",
    "latents_3d": "3D latents (vector figure, same camera)",
    "latents_3d_screenshot": "3D latents (screenshot)",
}
RASTER_ONLY = {"latents_3d_screenshot"}
# What each panel's Export… button offers.
TRAINING_VIEWS = ["elbo", "length_scales"]
RECONSTRUCTION_VIEWS = ["reconstruction_neural", "reconstruction_behavior"]
LATENT_VIEWS = ["latents_3d", "latents_3d_screenshot"]
FORMATS = {"png": "PNG image", "svg": "SVG (vector)", "pdf": "PDF (vector)"}
DEFAULT_DPI = 300
DEFAULT_SIZE = (1920, 1440)
MAX_TEXTURE = 8192  # largest 3D screenshot side, pixels (off-screen framebuffer)


class ExportError(Exception):
    """Nothing to export yet, or the file could not be written (the message says which)."""


# ---------------------------------------------------------------------------- figures
def camera_to_figure_kwargs(camera: dict[str, float]) -> dict[str, Any]:
    """GL camera (``GLViewWidget.opts`` elevation, azimuth, fov in degrees) → the keyword
    arguments of :func:`~mmgpvae_core.figures.latents_3d_figure` that give the same view.

    Both use the same angle conventions; matplotlib's focal length is ``1 / tan(fov / 2)``. The
    camera distance only zooms (the figure scales its axes to the data), so it is not needed."""
    fov = float(camera.get("fov", 60.0))
    return {
        "elev": float(camera["elevation"]),
        "azim": float(camera["azimuth"]),
        "proj_type": "persp",
        "focal_length": 1.0 / math.tan(math.radians(fov) / 2.0),
    }


def elbo_fig(history: dict[str, np.ndarray]):
    if history["elbo"].size == 0:
        raise ExportError("no training history yet: train a model first")
    return figures.elbo_figure({k: v for k, v in history.items() if k != "length_scales"})


def length_scale_fig(history: dict[str, np.ndarray], names: list[str], bin_size_s):
    ls = history["length_scales"]
    if ls.size == 0:
        raise ExportError("no length-scales yet: train a model first")
    if len(names) != ls.shape[1]:
        names = [f"latent {i + 1}" for i in range(ls.shape[1])]
    return figures.length_scale_figure(ls, bin_size_s, names, epochs=history["epoch"])


def reconstruction_fig(data: dict[str, Any] | None, modality: str):
    if data is None:
        raise ExportError(f"no {modality} reconstruction yet: load data and train a model")
    colors = figures.condition_colors(data["conditions"])
    cond = data["condition"]
    return figures.reconstruction_figure(
        data["observed"],
        data["reconstructed"],
        data["channel_names"],
        data["trial"],
        data["bin_size_s"],
        data["likelihood"],
        modality=modality,
        condition=cond,
        color=colors.get(cond) if cond is not None else None,
        time=data.get("time"),  # session seconds, for a continuous session
    )


def latents_3d_fig(data: dict[str, Any] | None, camera: dict[str, float]):
    if data is None:
        raise ExportError("no latents yet: train a model first")
    title = f"{data['subspace'].replace('_', ' ').capitalize()} latents"
    return figures.latents_3d_figure(
        data["coordinates"],
        data["conditions"],
        (0, 1, 2),
        dim_names=data["names"],
        colors=figures.condition_colors(data["conditions"]),
        title=title,
        **camera_to_figure_kwargs(camera),
    )


def figure_maker(
    view: str, training, reconstruction, latents, bin_size_s, model_config=None
) -> Callable[[], Any]:
    """What ``view`` shows, read now from the panels (in the GUI thread: ``training``,
    ``reconstruction`` and ``latents`` are the window's panels), and a function that draws it
    as a matplotlib figure (in any thread: the object API, no pyplot). ``model_config``: the
    model's, whose likelihoods the reconstruction figure names."""
    if view in ("elbo", "length_scales"):
        hist = training.history_arrays()
        if view == "elbo":
            return lambda: elbo_fig(hist)
        names = training.latent_names()
        return lambda: length_scale_fig(hist, names, bin_size_s)
    if view in ("reconstruction_neural", "reconstruction_behavior"):
        modality = view.split("_")[1]
        data = reconstruction.export_data(modality)
        if data is not None and model_config is not None:
            key = f"{modality}_likelihood"
            data["likelihood"] = getattr(model_config, key, data["likelihood"])
        return lambda: reconstruction_fig(data, modality)
    if view == "latents_3d":
        shown, camera = latents.export_latents(), latents.camera()
        return lambda: latents_3d_fig(shown, camera)
    raise ValueError(f"view: expected one of {list(VIEWS)}, found {view!r}")


def save_fig(fig, path: str | Path, dpi: int) -> Path:
    try:
        return figures.save_figure(fig, path, dpi=dpi)
    finally:
        fig.clear()


def save_gl_screenshot(view, path: str | Path, size: tuple[int, int]) -> Path:
    """Render the 3D view (:class:`mmgpvae_gui.gl_view.OffscreenGLView`) at ``size`` =
    (width, height) pixels and save it as PNG (the scene is rendered again at that size, not
    scaled; labels keep their size relative to the view)."""
    w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise ExportError(f"screenshot size {w}×{h}: both must be at least 1 pixel")
    if max(w, h) > MAX_TEXTURE:
        raise ExportError(f"screenshot size {w}×{h}: at most {MAX_TEXTURE} pixels a side")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ExportError(f"{path.name}: a screenshot is saved as .png")
    try:
        img = view.render_image(w, h, label_scale=h / max(view.height(), 1))
    except RuntimeError as exc:
        raise ExportError(str(exc)) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    if not img.save(str(path), "PNG"):
        raise ExportError(f"cannot write {path}")
    return path


# ---------------------------------------------------------------------------- latents
LATENT_FILTERS = {".nwb": "NWB for pynwb / pynapple (*.nwb)", ".npz": "NumPy arrays (*.npz)"}


def ask_latents_path(parent: QWidget, start_dir: str) -> str | None:
    """The file to export the latents to (a save dialog: .nwb or .npz), or None if cancelled.
    A name without either extension gets the one of the chosen filter."""
    path, chosen = QFileDialog.getSaveFileName(
        parent,
        "Export latents",
        str(Path(start_dir) / "latents.nwb"),
        ";;".join(LATENT_FILTERS.values()),
    )
    if not path:
        return None
    if Path(path).suffix.lower() not in LATENT_FILTERS:
        path += next((s for s, f in LATENT_FILTERS.items() if f == chosen), ".nwb")
    return path


def write_latents(model, path: str | Path) -> Path:
    """The posterior latents of ``model`` (a fitted MMGPVAE) to ``path``, .npz or .nwb — what
    ``mmgpvae export-latents`` writes; for a continuous session, as ``--continuous`` does: one
    row per bin on the session clock, stitched across windows."""
    from mmgpvae_core.continuous import is_continuous
    from mmgpvae_core.project.export import export_continuous, export_latents

    if model.neural is not None and is_continuous(model.neural):
        return export_continuous(model, path)
    return export_latents(model, path)


# ---------------------------------------------------------------------------- the commands
class Exporter:
    """File ▸ Export and the panels' Export… buttons: what a window shows, as figures or a
    screenshot, and the model's latents as files. It reads ``session`` and ``panels``
    (training, reconstruction, latent) and works through the window's ``host``
    (:class:`~mmgpvae_gui.host.Host`: ``live`` runs the writing off the GUI thread with the
    window live, ``is_busy`` says whether another file is being read or written, ``report``
    shows an error); ``done(path)`` follows each file written."""

    def __init__(self, session, panels, redraw, host: Host, done) -> None:
        self.session, self.panels, self.redraw, self.host = session, panels, redraw, host
        self._live, self._is_busy, self._report, self._done = (
            host.live, host.is_busy, host.report, done
        )

    def view(
        self, view: str, path: str | Path, dpi: int = DEFAULT_DPI,
        size: tuple[int, int] = DEFAULT_SIZE,
    ) -> Path:
        """Write ``view`` (a key of :data:`VIEWS`) to ``path``; the format comes from the suffix
        (png, svg, pdf). Figures are re-drawn from the arrays the view shows;
        "latents_3d_screenshot" renders the OpenGL scene at ``size`` (width, height). Raises
        :class:`ExportError` when there is nothing to export."""
        path = Path(path)
        self.redraw.flush()  # export what the views show with the newest data
        training, reconstruction, latents = self.panels
        if view == "latents_3d_screenshot":
            if latents.export_latents() is None:
                raise ExportError("no latents yet: train a model first")
            return save_gl_screenshot(latents.view, path, size)
        if path.suffix.lower().lstrip(".") not in FORMATS:
            raise ExportError(f"{path.name}: use a .png, .svg or .pdf file name")
        s = self.session
        make = figure_maker(
            view, training, reconstruction, latents,
            None if s.neural is None else s.neural.bin_size_s,
            None if s.model is None else s.model.model_config,
        )
        if self._is_busy():
            raise ExportError("busy with another file: try again when it is done")
        return self._live(f"Exporting {path.name}…", lambda: save_fig(make(), path, dpi))

    def dialog(self, parent: QWidget, views: list[str]) -> None:
        """Ask what to export (among ``views``) and where, then write it."""
        gl = self.panels[2].view
        start = self.host.settings().value("recent/export_dir", str(Path.home()))
        dialog = ExportDialog(views, start, (2 * gl.width(), 2 * gl.height()), parent)
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            self.chosen(dialog.choice())

    def chosen(self, choice: ExportChoice) -> bool:
        """Write what the export dialog chose; say why on failure."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            path = self.view(choice.view, choice.path, choice.dpi, choice.size)
        except ExportError as exc:
            self._report("Nothing to export", str(exc))
            return False
        except Exception as exc:  # a bad path or a full disk must never kill the app
            self._report("Cannot export", f"{choice.path}: {exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self._written(path)
        return True

    def latents(self, path: str | Path) -> bool:
        """Write the model's posterior latents to ``path`` (.nwb or .npz, the file
        ``mmgpvae export-latents`` writes); say why on failure."""
        if refused(self.session.why_not_export_latents(), self._report, self._is_busy):
            return False
        path, model = Path(path), self.session.model
        try:
            self._live(f"Exporting {path.name}…", lambda: write_latents(model, path))
        except Exception as exc:
            self._report("Cannot export the latents", file_error_text(path, exc))
            return False
        self._written(path)
        return True

    def _written(self, path: Path) -> None:
        self.host.settings().setValue("recent/export_dir", str(path.resolve().parent))
        self._done(path)


def refused(problem: tuple[str, str] | None, report, is_busy) -> bool:
    """True when a file command cannot run now: a ``problem`` (title, text) from the session is
    reported; while another file is read or written (``is_busy()``) it waits silently."""
    if problem is not None:
        report(*problem)
        return True
    return is_busy()


def file_error_text(path: str | Path, exc: Exception) -> str:
    """The message for a file that could not be read or written: a DataError names the file
    and field itself; any other error is prefixed with the path."""
    return str(exc) if isinstance(exc, DataError) else f"{path}: {exc}"


# ---------------------------------------------------------------------------- the dialog
@dataclass(frozen=True)
class ExportChoice:
    view: str
    path: str
    dpi: int
    size: tuple[int, int]


class ExportDialog(QDialog):
    """Choose a view (among ``views``), a format, DPI (PNG) or pixel size (screenshot) and a
    file. ``choice()`` returns what was chosen; the dialog writes nothing itself."""

    def __init__(
        self,
        views: list[str],
        start_dir: str,
        view_size: tuple[int, int] = DEFAULT_SIZE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export view")
        form = QFormLayout(self)
        self.view_combo = QComboBox()
        for v in views:
            self.view_combo.addItem(VIEWS[v], v)
        form.addRow("View:", self.view_combo)
        self.format_combo = QComboBox()
        form.addRow("Format:", self.format_combo)
        self.dpi_spin = QSpinBox(minimum=50, maximum=1200, value=DEFAULT_DPI, singleStep=50)
        self.dpi_spin.setSuffix(" dpi")
        self.dpi_spin.setToolTip("Resolution of the PNG figure (and of raster parts of vectors)")
        form.addRow("Resolution:", self.dpi_spin)
        size_row = QHBoxLayout()
        self.width_spin = QSpinBox(minimum=16, maximum=16384, value=view_size[0])
        self.height_spin = QSpinBox(minimum=16, maximum=16384, value=view_size[1])
        for s in (self.width_spin, self.height_spin):
            s.setSuffix(" px")
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        self._size_label = QLabel("Size:")
        form.addRow(self._size_label, size_row)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setMinimumWidth(380)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form.addRow("File:", path_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._save = buttons.button(QDialogButtonBox.StandardButton.Save)
        self._start_dir = start_dir
        self.view_combo.currentIndexChanged.connect(self._on_view_combo_changed)
        self.format_combo.currentIndexChanged.connect(self._on_format_combo_changed)
        self.path_edit.textChanged.connect(self._on_path_edit_changed)
        self._on_view_combo_changed()

    def view(self) -> str:
        return self.view_combo.currentData()

    def fmt(self) -> str:
        return self.format_combo.currentData()

    def choice(self) -> ExportChoice:
        return ExportChoice(
            self.view(),
            self.path_edit.text().strip(),
            self.dpi_spin.value(),
            (self.width_spin.value(), self.height_spin.value()),
        )

    def _default_path(self) -> str:
        return str(Path(self._start_dir) / f"{self.view()}.{self.fmt()}")

    def _on_view_combo_changed(self, _i: int = 0) -> None:
        raster = self.view() in RASTER_ONLY
        current = self.fmt()
        self.format_combo.blockSignals(True)
        self.format_combo.clear()
        for key, label in FORMATS.items():
            if not raster or key == "png":
                self.format_combo.addItem(label, key)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(current)))
        self.format_combo.blockSignals(False)
        self._on_format_combo_changed()

    def _on_format_combo_changed(self, _i: int = 0) -> None:
        raster = self.view() in RASTER_ONLY
        self.dpi_spin.setEnabled(not raster)
        for w in (self.width_spin, self.height_spin, self._size_label):
            w.setEnabled(raster)
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(f".{self.fmt()}")))
            self._start_dir = str(Path(text).parent)
        else:
            self.path_edit.setText(self._default_path())

    def _on_path_edit_changed(self, text: str) -> None:
        self._save.setEnabled(bool(text.strip()))

    def _on_browse_clicked(self) -> None:
        fmt = self.fmt()
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path_edit.text(), f"{FORMATS[fmt]} (*.{fmt})"
        )
        if path:
            self.path_edit.setText(str(Path(path).with_suffix(f".{fmt}")))
