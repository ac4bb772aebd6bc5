"""The main window: composes the panels, menus and status bar, owns the data, the model and the
training thread. Panels never reach into each other; the window wires their signals."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTemporaryDir, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.checkpoint import CHECKPOINT_EVERY_S
from mmgpvae_core.config import ConfigError
from mmgpvae_core.data import DataError, Dataset, check_pair
from mmgpvae_core.loaders import load_dataset
from mmgpvae_core.loaders.checks import data_warnings
from mmgpvae_core.project import read_project
from mmgpvae_core.training import EpochReport, FitOutcome, preload_lazy_imports
from mmgpvae_gui import export
from mmgpvae_gui.app import DEMO_DIR
from mmgpvae_gui.autosave import Autosave, describe, orphans
from mmgpvae_gui.background import collect_garbage_in_gui_thread
from mmgpvae_gui.busy import BusyIndicator, run_live
from mmgpvae_gui.compat import make_none_immortal
from mmgpvae_gui.panels.data_panel import DataPanel
from mmgpvae_gui.panels.latent_panel import LatentPanel
from mmgpvae_gui.panels.model_panel import ModelPanel
from mmgpvae_gui.panels.model_selection_panel import ModelSelectionPanel
from mmgpvae_gui.panels.reconstruction_panel import ReconstructionPanel
from mmgpvae_gui.panels.training_panel import TrainingPanel
from mmgpvae_gui.redraw import RedrawQueue
from mmgpvae_gui.style import SUBSPACE_LABELS
from mmgpvae_gui.worker import Snapshot, TrainingWorker

DATA_FILTER = (
    "Recordings (*.h5 *.hdf5 *.nwb *.npz *.npy *.mat *.csv *.slp);;All files (*)"
)
PROJECT_FILTER = "MM-GPVAE projects (*.mmgp)"
MAX_RECENT = 8
SPLIT_KEYS = ("shared", "private_neural", "private_behavior")

make_none_immortal()


def settings() -> QSettings:
    return QSettings("MMGPVAE", "MMGPVAE Studio")


class MainWindow(QMainWindow):
    """Public methods are what the menus call (and what tests drive)."""

    training_started = Signal()
    training_finished = Signal(str)  # outcome status: max_epochs, converged, cancelled, failed
    snapshot_shown = Signal(int)  # epoch
    paused_changed = Signal(bool)  # the worker is (no longer) blocked between epochs
    project_saved = Signal(str)
    error_shown = Signal(str)
    exported = Signal(str)  # path written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        collect_garbage_in_gui_thread()  # never in a training or loading thread
        self.autosave = Autosave()  # the session, for a restart after a crash (autosave.py)
        self.autosave_every_s = CHECKPOINT_EVERY_S
        preload_lazy_imports()  # not in the worker's first epoch, where it would stall the GUI
        self.setWindowTitle("MM-GPVAE Studio")
        self.setAcceptDrops(True)
        self._neural: Dataset | None = None
        self._behavior: Dataset | None = None
        self._model: MMGPVAE | None = None
        self._worker: TrainingWorker | None = None
        self._paused = False
        self._worker_paused = False
        self._close_when_stopped = False
        self._close_when_idle = False
        self._project_path: Path | None = None
        self._error_box: QMessageBox | None = None
        self.last_error = ""
        self.last_data_warnings: list[str] = []
        self.last_snapshot: Snapshot | None = None

        self.data_panel = DataPanel()
        self.model_panel = ModelPanel()
        # The views redraw through one queue: one plot per event-loop turn (redraw.py).
        self.redraw_queue = RedrawQueue(parent=self)
        self.training_panel = TrainingPanel(redraw=self.redraw_queue)
        self.reconstruction_panel = ReconstructionPanel(redraw=self.redraw_queue)
        self.latent_panel = LatentPanel(redraw=self.redraw_queue)
        # The sweep's fits live for the session, so a chosen row can be opened like a project.
        self._sweep_dir = QTemporaryDir()
        self.model_selection_panel = ModelSelectionPanel(
            self._sweep_data,
            self._sweep_model_kwargs,
            save_dir=self._sweep_dir.path() if self._sweep_dir.isValid() else None,
            redraw=self.redraw_queue,
        )

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(self.data_panel)
        lv.addWidget(self.model_panel)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.reconstruction_panel)
        bottom.addWidget(self.latent_panel)
        bottom.setSizes([700, 500])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.training_panel)
        right.addWidget(bottom)
        right.setSizes([330, 620])
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(right, "Training and views")
        self.tabs.addTab(self.model_selection_panel, "Model selection")
        self.tabs.setTabToolTip(
            1, "Cross-validate latent splits, then load the chosen fit (or its split)"
        )
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(scroll)
        main.addWidget(self.tabs)
        main.setStretchFactor(1, 1)
        main.setSizes([320, 1280])
        self.setCentralWidget(main)

        self._data_status = QLabel("no data")
        self._model_status = QLabel("no model")
        self._busy = BusyIndicator(self.statusBar())
        self.statusBar().addPermanentWidget(self._data_status)
        self.statusBar().addPermanentWidget(self._model_status)

        self.data_panel.open_requested.connect(self._on_data_open_requested)
        self.training_panel.train_clicked.connect(self.start_training)
        self.training_panel.pause_clicked.connect(self.toggle_pause)
        self.training_panel.stop_clicked.connect(self.stop_training)
        self.training_panel.reset_clicked.connect(self._on_training_reset_clicked)
        self.reconstruction_panel.trial_changed.connect(self._on_reconstruction_trial_changed)
        self.training_panel.export_requested.connect(self._on_training_export_requested)
        self.reconstruction_panel.export_requested.connect(self._on_reconstruction_export_requested)
        self.latent_panel.export_requested.connect(self._on_latent_export_requested)
        self.model_selection_panel.fit_chosen.connect(self._on_model_selection_fit_chosen)

        self._build_menus()
        s = settings()
        self.model_panel.restore_settings(s)
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1600, 1000)
        self._update_state()

    # ================================================================ menus
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        a.setStatusTip(tip)
        a.setToolTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(
            m,
            "Open &neural file…",
            lambda: self._on_data_open_requested("neural"),
            QKeySequence.StandardKey.Open,
            "Load the neural recording",
        )
        self._action(
            m,
            "Open &behavior file…",
            lambda: self._on_data_open_requested("behavior"),
            "Ctrl+B",
            "Load the behavior recording",
        )
        self._action(
            m,
            "Open &project…",
            self._on_file_open_project,
            "Ctrl+Shift+O",
            "Reopen a saved .mmgp project",
        )
        self._recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        self._action(
            m,
            "Open &demo data set",
            self.open_demo,
            None,
            "Simulated spikes and keypoints with known latents",
        )
        self._action(
            m,
            "Open rotating-&digit demo",
            self.open_digit_demo,
            None,
            "The paper's experiment: a handwritten digit rotated by a shared latent, "
            "with Poisson spikes",
        )
        m.addSeparator()
        self.save_action = self._action(
            m,
            "&Save project",
            self._on_file_save,
            QKeySequence.StandardKey.Save,
            "Save the .mmgp project",
        )
        self._action(
            m,
            "Save project &as…",
            self._on_file_save_as,
            "Ctrl+Shift+S",
            "Save the .mmgp project under a new name",
        )
        m.addSeparator()
        e = m.addMenu("&Export")
        for view, label in export.VIEWS.items():
            self._action(
                e,
                f"{label}…",
                lambda _=False, v=view: self.open_export_dialog([v]),
                None,
                "Save as PNG (chosen DPI), SVG or PDF"
                if view not in export.RASTER_ONLY
                else "Save the 3D view as a PNG screenshot of any size",
            )
        e.addSeparator()
        self._action(
            e,
            "Export &latents…",
            self._on_export_latents_triggered,
            None,
            "Posterior latents and variances as .nwb (pynwb, pynapple) or .npz",
        )
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Quit")

        t = self.menuBar().addMenu("&Training")
        self.train_action = self._action(
            t,
            "Train / pause / resume",
            self._on_space_pressed,
            Qt.Key.Key_Space,
            "Start, pause or resume training",
        )
        self._action(t, "Stop", self.stop_training, "Ctrl+.", "Stop after the current epoch")
        self._action(t, "New model", self.reset_model, None, "Forget the trained model")
        t.addSeparator()
        self._action(
            t,
            "&Model selection…",
            lambda: self.tabs.setCurrentWidget(self.model_selection_panel),
            "Ctrl+M",
            "Cross-validate latent splits and load the best fit",
        )

        h = self.menuBar().addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", self._on_help_shortcuts, None, "")
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self._recent_menu.clear()
        paths = self.recent_projects()
        for p in paths:
            a = self._recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_project(p))
        self._recent_menu.setEnabled(bool(paths))

    def recent_projects(self) -> list[str]:
        v = settings().value("recent/projects", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])]

    def _add_recent(self, path: Path) -> None:
        paths = [str(path)] + [p for p in self.recent_projects() if p != str(path)]
        settings().setValue("recent/projects", paths[:MAX_RECENT])
        self._refresh_recent_menu()

    # ================================================================ state
    @property
    def is_training(self) -> bool:
        return self._worker is not None

    @property
    def model(self) -> MMGPVAE | None:
        return self._model

    def _update_state(self) -> None:
        if self.is_training:
            state = "paused" if self._paused else "running"
            if self._worker is not None and self._worker.stop_requested:
                state = "stopping"
        else:
            state = "ready" if self._neural is not None else "empty"
        self.training_panel.set_state(state)
        self.model_panel.setEnabled(not self.is_training)
        self.model_panel.set_model_locked(self._model is not None)
        self.data_panel.setEnabled(not self.is_training)
        self.save_action.setEnabled(
            self._model is not None and (not self.is_training or self._paused)
        )
        if self._neural is None:
            self._data_status.setText("no data")
        else:
            b = "" if self._behavior is None else f" + behavior {self._behavior.n_channels} ch"
            self._data_status.setText(
                f"{self._neural.n_trials} trials · neural {self._neural.n_channels} ch{b}"
            )
        if self._model is None:
            self._model_status.setText("no model")
        else:
            self._model_status.setText(f"model: {len(self._model.history)} epochs trained")

    def _show_error(self, title: str, text: str) -> None:
        """A clear message; never a traceback. Non-blocking (the event loop keeps running)."""
        self.last_error = text
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._error_box = box
        self.error_shown.emit(text)

    def _show_file_error(self, title: str, path: str | Path, exc: Exception) -> None:
        """The dialog for a file that could not be read or written: a DataError names the file
        and field itself; any other error is prefixed with the path."""
        self._show_error(title, str(exc) if isinstance(exc, DataError) else f"{path}: {exc}")

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "MM-GPVAE Studio", question)
        return answer == QMessageBox.StandardButton.Yes

    # ================================================================ data
    def _live(self, text: str, fn):
        """``fn()`` off the GUI thread, the window repainting and a busy bar moving meanwhile;
        menus and panels take no input until it returns (busy.py)."""
        # The actions too: on macOS their shortcuts work with the (native) menu bar disabled.
        block = (self.menuBar(), self.centralWidget(), *self.findChildren(QAction))
        self._busy.begin(text, block=block)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            return run_live(fn)
        finally:
            QApplication.restoreOverrideCursor()
            self._busy.end()
            self._update_state()  # what may be enabled now (a fit may have ended meanwhile)
            if self._close_when_idle:
                self._close_when_idle = False
                QTimer.singleShot(0, self.close)

    def open_data_file(self, path: str | Path, modality: str) -> bool:
        """Load ``path`` as the neural or behavior modality; on bad data, say why and keep the
        previous data."""
        if self.is_training:
            self._show_error("Busy", "stop training before loading data")
            return False
        if self._busy.active:
            return False
        notes: list[str] = []  # what the reader dropped or overrode (DataWarning), one line each

        def read() -> Dataset:
            with data_warnings(notes.append):
                return load_dataset(path)

        try:
            ds = self._live(f"Reading {Path(path).name}…", read)
            other = self._behavior if modality == "neural" else self._neural
            if other is not None:
                pair = (ds, other) if modality == "neural" else (other, ds)
                check_pair(*pair)
        except Exception as exc:  # an unreadable file must never kill the app
            self._show_file_error(f"Cannot load the {modality} file", path, exc)
            return False
        settings().setValue("recent/data_dir", str(Path(path).resolve().parent))
        self.model_panel.follow_data(modality, ds)  # its likelihood box follows the file
        if modality == "neural":
            self.set_datasets(ds, self._behavior)
        else:
            self.set_datasets(self._neural, ds)
        self.last_data_warnings = notes
        if notes:
            text = f"Loaded {modality} data; note: " + " · ".join(notes)
            self.statusBar().showMessage(text, 20000)
            self.statusBar().setToolTip("\n".join(notes))
        else:
            self.statusBar().showMessage(f"Loaded {modality} data from {path}", 5000)
        return True

    def set_datasets(self, neural: Dataset | None, behavior: Dataset | None) -> None:
        """New data: any trained model is dropped (it was fitted to other data)."""
        self._neural, self._behavior = neural, behavior
        self._model = None
        self._project_path = None
        self.last_snapshot = None
        self.data_panel.set_summary("neural", None if neural is None else neural.summary())
        self.data_panel.set_summary("behavior", None if behavior is None else behavior.summary())
        kw = self.model_panel.model_kwargs()
        self.reconstruction_panel.set_data(
            neural, behavior, kw["neural_likelihood"], kw["behavior_likelihood"]
        )
        self.latent_panel.clear()
        self.training_panel.set_history(MMGPVAE().history)
        self.setWindowTitle("MM-GPVAE Studio")
        self._update_state()

    def open_demo(self) -> bool:
        ok = self.open_data_file(DEMO_DIR / "neural.h5", "neural")
        return ok and self.open_data_file(DEMO_DIR / "behavior.h5", "behavior")

    def open_digit_demo(self, **options) -> None:
        """Simulate the rotating-digit session and set the model up for it."""
        from mmgpvae_core.digits import simulate_digits, suggested_model

        if self.is_training:
            self._show_error("Busy", "stop training before loading data")
            return
        if self._busy.active:
            return
        sim = self._live(
            "Simulating the rotating-digit session…", lambda: simulate_digits(**options)
        )
        self.model_panel.apply_kwargs(suggested_model())
        self.set_datasets(sim.neural, sim.behavior)
        self.statusBar().showMessage("Rotating-digit demo: 1 shared latent rotates the digit", 8000)

    # ================================================================ training
    def _latent_names(self, kw: dict) -> list[str]:
        out = [f"shared {k + 1}" for k in range(kw["shared"])]
        out += [f"private neural {k + 1}" for k in range(kw["private_neural"])]
        if self._behavior is not None:
            out += [f"private behavior {k + 1}" for k in range(kw["private_behavior"])]
        return out

    @Slot()
    def start_training(self) -> bool:
        if self.is_training or self._busy.active:
            return False
        if self._neural is None:
            self._show_error("No data", "load a neural file first (File ▸ Open neural file…)")
            return False
        kw = self.model_panel.model_kwargs()
        if self._model is None:
            try:
                self._model = MMGPVAE(**kw)
            except (ConfigError, TypeError, ValueError) as exc:
                self._show_error("Invalid settings", str(exc))
                return False
            self.training_panel.set_history(self._model.history)
        cfg = self._model.model_config
        self.training_panel.set_latent_names(self._latent_names(cfg.to_dict()))
        epochs = self.model_panel.epochs()
        # The project remembers the epochs of the latest session, as the panel shows them.
        self._model.train_config = self._model.train_config.replace(epochs=epochs)
        # What exists now (Qt, torch, the data, the model) lives as long as the app: move it
        # out of the garbage collector's sight. A full collection of it took 100–300 ms of the
        # GUI thread (or of the worker, holding the GIL) and froze the window during fits.
        gc.freeze()
        self._worker = TrainingWorker(
            self._model, self._neural, self._behavior, epochs,
            autosave_path=self.autosave.path, autosave_every_s=self.autosave_every_s,
        )
        self._worker.autosave_failed.connect(self._on_autosave_failed)
        self._worker.progressed.connect(self._on_worker_progressed)
        self._worker.snapshot_ready.connect(self._on_worker_snapshot_ready)
        self._worker.paused.connect(self._on_worker_paused)
        self._worker.succeeded.connect(self._on_worker_succeeded)
        self._worker.failed.connect(self._on_worker_failed)
        # In the GUI thread, after the training thread has been joined (background.py).
        self._worker.finished.connect(self._on_thread_finished)
        self._paused = False
        self.training_panel.begin(len(self._model.history), epochs)
        self._worker.start()
        self._update_state()
        self.statusBar().showMessage("Training…")
        self.training_started.emit()
        return True

    @Slot()
    def toggle_pause(self) -> None:
        if self._worker is None or self._busy.active:  # not while a paused model is saved
            return
        if self._paused:
            self._worker.resume()
            self._paused = False
            self._worker_paused = False  # running again now: saving must wait for a new pause
            self.statusBar().showMessage("Training…")
        else:
            self._worker.pause()
            self._paused = True
            self.statusBar().showMessage("Pausing after this epoch…")
        self._update_state()

    @Slot()
    def stop_training(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()
            self._paused = False
            self._worker_paused = False
            self.statusBar().showMessage("Stopping after this epoch…")
            self._update_state()

    def stop_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Stop training and block until the thread has finished (for shutdown and tests)."""
        if self._worker is None:
            return True
        worker = self._worker
        self.stop_training()
        return worker.wait(timeout_ms / 1000)

    @Slot()
    def reset_model(self) -> None:
        if self.is_training:
            return
        self._model = None
        self._project_path = None
        self.last_snapshot = None
        self.latent_panel.clear()
        self.reconstruction_panel.set_reconstruction({})
        self.training_panel.set_history(MMGPVAE().history)
        self._update_state()

    def _on_training_reset_clicked(self) -> None:
        self.reset_model()

    def _on_space_pressed(self) -> None:
        if self.is_training:
            self.toggle_pause()
        else:
            self.start_training()

    @Slot(object)
    def _on_worker_progressed(self, report: EpochReport) -> None:
        self.training_panel.add_report(report)
        self._model_status.setText(f"epoch {report.epoch} · ELBO {report.elbo:.1f}")

    @Slot(object)
    def _on_worker_snapshot_ready(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        self.reconstruction_panel.set_reconstruction(snap.reconstruction)
        conds = None if self._neural is None else self._neural.conditions
        self.latent_panel.set_latents(snap.latents, conds)
        self.latent_panel.set_current_trial(self.reconstruction_panel.current_trial())
        self.snapshot_shown.emit(snap.epoch)

    @Slot(bool)
    def _on_worker_paused(self, paused: bool) -> None:
        self._worker_paused = paused  # the worker is blocked now, not only asked to pause
        if paused:
            self.statusBar().showMessage("Paused")
        self.paused_changed.emit(paused)

    @Slot(object)
    def _on_worker_succeeded(self, outcome: FitOutcome) -> None:
        self._last_outcome = outcome.status
        text = {
            "converged": "converged",
            "max_epochs": "done",
            "cancelled": "stopped",
        }.get(outcome.status, outcome.status)
        self.training_panel.finish(f"{text} after {len(self._model.history)} epochs")
        self.statusBar().showMessage(outcome.message or f"Training {text}", 8000)

    @Slot(str)
    def _on_autosave_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self._last_outcome = "failed"
        self.training_panel.finish("failed — last good state kept")
        self._show_error("Training failed", message)

    @Slot()
    def _on_thread_finished(self) -> None:
        # The training thread has ended: this drops the last reference to the worker, here.
        self._worker = None
        self._paused = self._worker_paused = False
        # The heap was frozen for the fit (start_training): give it back to the collector, and
        # collect now, as the fit ends, rather than in the middle of the next one. Without this,
        # a model dropped later (New model, new data) would never be freed.
        gc.unfreeze()
        QTimer.singleShot(0, gc.collect)
        self._update_state()
        self.training_finished.emit(getattr(self, "_last_outcome", "cancelled"))
        if self._close_when_stopped:
            self.close()

    # ================================================================ projects
    def _on_file_save(self) -> None:
        if self._project_path is None:
            self._on_file_save_as()
        else:
            self.save_project(self._project_path)

    def _on_file_save_as(self) -> None:
        if self._model is None:
            self._show_error("Nothing to save", "train a model first")
            return
        start = settings().value("recent/project_dir", str(Path.home()))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, PROJECT_FILTER)
        if path:
            if not path.endswith(".mmgp"):
                path += ".mmgp"
            self.save_project(path)

    def save_project(self, path: str | Path) -> bool:
        """Write the .mmgp project (the same file the CLI writes)."""
        if self._model is None or self._model.module is None:
            self._show_error("Nothing to save", "train a model first")
            return False
        if self.is_training and not self._worker_paused:
            text = "wait for the pause (after this epoch)" if self._paused else "pause or stop"
            self._show_error("Busy", f"{text} before saving")
            return False
        if self._busy.active:
            return False
        path = Path(path)
        model = self._model
        try:
            self._live(f"Saving {path.name}…", lambda: model.save(path))
        except Exception as exc:
            self._show_error("Cannot save the project", f"{path}: {exc}")
            return False
        self._project_path = path
        settings().setValue("recent/project_dir", str(path.resolve().parent))
        self._add_recent(path.resolve())
        self.setWindowTitle(f"MM-GPVAE Studio — {path.name}")
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self.project_saved.emit(str(path))
        return True

    def _on_file_open_project(self) -> None:
        start = settings().value("recent/project_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path, remember: bool = True) -> bool:
        """Reopen a .mmgp project: data, settings, history, latents and reconstructions;
        ``remember``: list it under File ▸ Recent."""
        if self.is_training:
            self._show_error("Busy", "stop training before opening a project")
            return False
        if self._busy.active:
            return False
        path = Path(path)

        def read() -> tuple[MMGPVAE, dict]:
            try:
                model = MMGPVAE.load(path)
            except (RuntimeError, AssertionError):  # e.g. saved on a GPU this machine lacks
                model = MMGPVAE.load(path, device="cpu")
            return model, read_project(path)

        try:
            model, contents = self._live(f"Opening {path.name}…", read)
        except Exception as exc:
            self._show_file_error("Cannot open the project", path, exc)
            return False
        self.model_panel.set_from_configs(model.model_config, model.train_config)
        self.set_datasets(model.neural, model.behavior)
        self._model = model
        self._project_path = path
        post = contents["posterior"]
        latents = {k: np.asarray(post[k]["mean"]) for k in SUBSPACE_LABELS if k in post}
        self.training_panel.set_latent_names(self._latent_names(model.model_config.to_dict()))
        self.training_panel.set_history(model.history)
        self.reconstruction_panel.set_reconstruction(
            {k: np.asarray(v) for k, v in contents["reconstruction"].items()}
        )
        conds = None if model.neural is None else model.neural.conditions
        self.latent_panel.set_latents(latents, conds)
        if remember:
            self._add_recent(path.resolve())
        self.setWindowTitle(f"MM-GPVAE Studio — {path.name}")
        self._update_state()
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def offer_restore(self) -> bool:
        """After a crash: offer the newest autosaved session left behind, and reopen it (as an
        unsaved project) if the user wants it. True if a session was restored."""
        found = orphans(self.autosave.folder)
        if not found or self.is_training or self._model is not None:
            return False
        latest = found[0]
        question = (
            "MM-GPVAE Studio did not close normally last time. Restore the session it "
            f"autosaved ({describe(latest)})?\n\nNo discards it."
        )
        if not self._confirm(question):
            latest.unlink(missing_ok=True)  # only the one asked about; others come next time
            return False
        if not self.open_project(latest, remember=False):
            return False  # the dialog said why; the file stays for another try
        self.autosave.adopt(latest)  # ours now: a crash before the next fit still keeps it
        self._project_path = None  # Save asks where: the autosave folder is not a place to keep it
        self.setWindowTitle("MM-GPVAE Studio — restored session (not saved)")
        self.statusBar().showMessage(
            f"Restored the autosaved session ({describe(self.autosave.path)})", 10000
        )
        return True

    def screenshot(self) -> QPixmap:
        """The window as shown (the 3D view is an ordinary raster widget, so ``grab`` has it)."""
        return self.grab()

    # ================================================================ export
    def _bin_size_s(self) -> float | None:
        return None if self._neural is None else self._neural.bin_size_s

    def export_view(
        self,
        view: str,
        path: str | Path,
        dpi: int = export.DEFAULT_DPI,
        size: tuple[int, int] = export.DEFAULT_SIZE,
    ) -> Path:
        """Write ``view`` (a key of :data:`mmgpvae_gui.export.VIEWS`) to ``path``; the format
        comes from the suffix (png, svg, pdf). Figures are re-drawn from the arrays the view
        shows; "latents_3d_screenshot" renders the OpenGL scene at ``size`` (width, height).
        Raises :class:`~mmgpvae_gui.export.ExportError` when there is nothing to export."""
        path = Path(path)
        self.redraw_queue.flush()  # export what the views show with the newest data
        if view == "latents_3d_screenshot":
            if self.latent_panel.export_latents() is None:
                raise export.ExportError("no latents yet: train a model first")
            return export.save_gl_screenshot(self.latent_panel.view, path, size)
        if path.suffix.lower().lstrip(".") not in export.FORMATS:
            raise export.ExportError(f"{path.name}: use a .png, .svg or .pdf file name")
        # What the view shows is read here, in the GUI thread; the figure is drawn and written
        # off it (matplotlib's object API, no pyplot), the window live meanwhile.
        if view == "elbo":
            hist = self.training_panel.history_arrays()

            def make():
                return export.elbo_fig(hist)

        elif view == "length_scales":
            hist = self.training_panel.history_arrays()
            names, dt = self.training_panel.latent_names(), self._bin_size_s()

            def make():
                return export.length_scale_fig(hist, names, dt)

        elif view in ("reconstruction_neural", "reconstruction_behavior"):
            modality = view.split("_")[1]
            data = self.reconstruction_panel.export_data(modality)
            if data is not None and self._model is not None:
                data["likelihood"] = getattr(
                    self._model.model_config, f"{modality}_likelihood", data["likelihood"]
                )

            def make():
                return export.reconstruction_fig(data, modality)

        elif view == "latents_3d":
            latents, camera = self.latent_panel.export_latents(), self.latent_panel.camera()

            def make():
                return export.latents_3d_fig(latents, camera)

        else:
            raise ValueError(f"view: expected one of {list(export.VIEWS)}, found {view!r}")
        if self._busy.active:
            raise export.ExportError("busy with another file: try again when it is done")
        return self._live(f"Exporting {path.name}…", lambda: export.save_fig(make(), path, dpi))

    def open_export_dialog(self, views: list[str]) -> None:
        start = settings().value("recent/export_dir", str(Path.home()))
        view = self.latent_panel.view
        dialog = export.ExportDialog(views, start, (2 * view.width(), 2 * view.height()), self)
        if dialog.exec() != export.ExportDialog.DialogCode.Accepted:
            return
        choice = dialog.choice()
        self.export_chosen(choice)

    def export_chosen(self, choice: export.ExportChoice) -> bool:
        """Write what the export dialog chose; say why on failure."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            path = self.export_view(choice.view, choice.path, choice.dpi, choice.size)
        except export.ExportError as exc:
            self._show_error("Nothing to export", str(exc))
            return False
        except Exception as exc:  # a bad path or a full disk must never kill the app
            self._show_error("Cannot export", f"{choice.path}: {exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        settings().setValue("recent/export_dir", str(path.resolve().parent))
        self.statusBar().showMessage(f"Exported {path}", 5000)
        self.exported.emit(str(path))
        return True

    def _on_export_latents_triggered(self) -> None:
        start = settings().value("recent/export_dir", str(Path.home()))
        path = export.ask_latents_path(self, start)
        if path:
            self.export_latents(path)

    def export_latents(self, path: str | Path) -> bool:
        """Write the model's posterior latents to ``path`` (.nwb or .npz, the file
        ``mmgpvae export-latents`` writes); say why on failure."""
        if self._model is None or self._model.module is None:
            self._show_error("Nothing to export", "train a model first")
            return False
        if self.is_training and not self._worker_paused:
            self._show_error("Busy", "pause or stop training before exporting latents")
            return False
        if self._busy.active:
            return False
        path, model = Path(path), self._model
        try:
            self._live(f"Exporting {path.name}…", lambda: export.write_latents(model, path))
        except Exception as exc:
            self._show_file_error("Cannot export the latents", path, exc)
            return False
        settings().setValue("recent/export_dir", str(path.resolve().parent))
        self.statusBar().showMessage(f"Exported {path}", 5000)
        self.exported.emit(str(path))
        return True

    def _on_training_export_requested(self) -> None:
        self.open_export_dialog(export.TRAINING_VIEWS)

    def _on_reconstruction_export_requested(self) -> None:
        self.open_export_dialog(export.RECONSTRUCTION_VIEWS)

    def _on_latent_export_requested(self) -> None:
        self.open_export_dialog(export.LATENT_VIEWS)

    # ================================================================ model selection
    def _sweep_data(self) -> tuple[Dataset | None, Dataset | None]:
        return self._neural, self._behavior

    def _sweep_model_kwargs(self) -> dict:
        """The model panel's settings except the split, which the sweep varies."""
        return {k: v for k, v in self.model_panel.model_kwargs().items() if k not in SPLIT_KEYS}

    @Slot(object)
    def _on_model_selection_fit_chosen(self, row: dict) -> None:
        """Open the row's saved fit like a project; without one, set its split for Train."""
        if self.is_training:
            self._show_error("Busy", "stop training before loading a fit")
            return
        project = row.get("project") or ""
        if project and Path(project).exists():
            if self.open_project(project):
                self.tabs.setCurrentIndex(0)
                self.statusBar().showMessage(
                    f"Loaded the sweep's fit for shared={row['shared']}, "
                    f"private neural={row['private_neural']}, "
                    f"private behavior={row['private_behavior']} (its first training fold)",
                    8000,
                )
            return
        if self._model is not None and not self._confirm(
            "Forget the current model to train the chosen split?"
        ):
            return
        self.reset_model()
        self.model_panel.set_split(
            int(row["shared"]), int(row["private_neural"]), int(row["private_behavior"])
        )
        self.tabs.setCurrentIndex(0)
        self.statusBar().showMessage("Split set from the sweep: press Train to fit it", 8000)

    # ================================================================ other slots and events
    def _on_data_open_requested(self, modality: str) -> None:
        start = settings().value("recent/data_dir", str(DEMO_DIR))
        path, _ = QFileDialog.getOpenFileName(self, f"Open {modality} file", start, DATA_FILTER)
        if path:
            self.open_data_file(path, modality)

    def _on_reconstruction_trial_changed(self, i: int) -> None:
        self.latent_panel.set_current_trial(i)

    def _on_help_shortcuts(self) -> None:
        QMessageBox.information(
            self,
            "Keyboard shortcuts",
            "Ctrl+O open neural file · Ctrl+B open behavior file · Ctrl+Shift+O open project\n"
            "Ctrl+S save project · Space train / pause / resume · Ctrl+. stop\n"
            "← / → previous / next trial (reconstruction view) · Ctrl+Q quit",
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.open_paths(paths)
        event.acceptProposedAction()

    def open_paths(self, paths: list[Path]) -> None:
        """Dropped files: a project opens; data files go to the modality their name suggests,
        else neural first, then behavior."""
        for p in paths:
            name = p.name.lower()
            if p.suffix == ".mmgp":
                self.open_project(p)
            elif "behav" in name or "pose" in name:
                self.open_data_file(p, "behavior")
            elif "neur" in name or "spike" in name or self._neural is None:
                self.open_data_file(p, "neural")
            else:
                self.open_data_file(p, "behavior")

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._busy.active:  # reading or writing a file: close as soon as it is done
            self._close_when_idle = True
            self.statusBar().showMessage("Closing when the file is done…")
            event.ignore()
            return
        if self.model_selection_panel.is_running:
            self.model_selection_panel.stop_and_wait()
        if self.is_training:
            if not self._close_when_stopped and not self._confirm(
                "Training is running. Stop it and close the window?"
            ):
                event.ignore()
                return
            self._close_when_stopped = True
            self.stop_training()
            event.ignore()  # closes for real once the worker has finished its epoch
            return
        model = self._model
        unsaved = model is not None and len(model.history) > 0 and self._project_path is None
        if unsaved and not self._confirm(
            "The trained model has not been saved. Close and discard it? (No: keep the window "
            "open; File ▸ Save project… keeps it.)"
        ):
            event.ignore()
            return
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        self.model_panel.save_settings(s)
        s.sync()
        self.autosave.discard()  # a normal end: nothing to restore next time
        super().closeEvent(event)
