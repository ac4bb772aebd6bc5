"""The main window: composes the panels, the menus (``actions.py``) and the status bar, and
shows the :class:`~mmgpvae_gui.session.Session`, which holds the data, the model, the project
and the fit. Its parts do the work: ``files.Files`` opens and saves, ``jobs.Jobs`` runs fits,
sweeps, controls and comparisons, ``export.Exporter`` writes views and latents. Panels never
reach into each other, nor start work; the window wires their signals."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTemporaryDir, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.data import Dataset
from mmgpvae_core.sweep import format_value, swept
from mmgpvae_core.training import EpochReport, FitOutcome, TrainingHistory
from mmgpvae_gui import actions, export, layout
from mmgpvae_gui.actions import ACTIONS, RecentProjects, build_menus
from mmgpvae_gui.autosave import Autosave, describe
from mmgpvae_gui.background import collect_garbage_in_gui_thread
from mmgpvae_gui.busy import BusyIndicator
from mmgpvae_gui.compat import make_none_immortal
from mmgpvae_gui.files import Files
from mmgpvae_gui.host import DEMO_DIR, settings
from mmgpvae_gui.jobs import OUTCOME_WORDS, Jobs, TrainingControl, connect_view
from mmgpvae_gui.panels.data_panel import DataPanel
from mmgpvae_gui.panels.latent_panel import LatentPanel
from mmgpvae_gui.panels.model_panel import ModelPanel
from mmgpvae_gui.panels.model_selection_panel import ModelSelectionPanel
from mmgpvae_gui.panels.reconstruction_panel import ReconstructionPanel
from mmgpvae_gui.panels.training_panel import TrainingPanel
from mmgpvae_gui.redraw import RedrawQueue
from mmgpvae_gui.session import (
    Loaded,
    Opened,
    Session,
    Snapshot,
    all_session_latents,
    data_summary,
)
from mmgpvae_gui.session_clock import SessionClock
from mmgpvae_gui.subspaces import split_of
from mmgpvae_gui.worker import TrainingWorker

__all__ = ["MainWindow", "WindowHost"]
TITLE = "MM-GPVAE Studio"
CHOSEN_FIT = {  # what Model selection's "use this fit" did (files.open_chosen_fit)
    "opened": "Loaded the sweep's fit for shared={}, private neural={}, private behavior={} "
    "(its first training fold)",
    "split": "Split set from the sweep (shared={}, private neural={}, private behavior={}{}): "
    "press Train to fit it",
}

make_none_immortal()


class WindowHost:
    """The window as its parts' :class:`~mmgpvae_gui.host.Host`: each call looked up on the window
    when made (tests replace ``_confirm`` and ``_show_error``)."""

    demo_dir = DEMO_DIR

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    def live(self, text: str, fn):
        return self._window._live(text, fn)

    def is_busy(self) -> bool:
        return self._window.busy.active

    def report(self, title: str, text: str) -> None:
        self._window._show_error(title, text)

    def confirm(self, question: str) -> bool:
        return self._window._confirm(question)

    @staticmethod
    def settings():
        return settings()


class MainWindow(QMainWindow):
    """Public methods and attributes are what the menus call (and what tests drive): the file
    commands are those of ``files`` (``open_data_file``, ``open_project``, ``save_project``,
    ``open_paths``), the export commands those of ``exporter``."""

    training_started = Signal()
    training_finished = Signal(str)  # outcome status: max_epochs, converged, cancelled, failed
    snapshot_shown = Signal(int)  # epoch
    paused_changed = Signal(bool)  # the worker is (no longer) blocked between epochs
    project_saved = Signal(str)
    error_shown = Signal(str)
    exported = Signal(str)  # path written

    session_changed = Signal(str)  # what changed: the session's word, in the GUI thread

    def __init__(self, session: Session | None = None, parent: QWidget | None = None) -> None:
        """``session``: what the app knows (session.py; a new one if None); the window shows
        it, and hears from it what changed (``Session.subscribe``)."""
        super().__init__(parent)
        collect_garbage_in_gui_thread()  # never in a training or loading thread
        self.session = Session() if session is None else session
        self.autosave = Autosave()  # the session, for a restart after a crash (autosave.py)
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self._close_when_stopped = self._close_when_idle = False
        self._error_box: QMessageBox | None = None
        self.last_error = ""
        self.last_data_warnings: list[str] = []

        self.data_panel, self.model_panel = DataPanel(), ModelPanel()  # the left column
        # The views redraw through one queue: one plot per event-loop turn (redraw.py).
        self.redraw_queue = q = RedrawQueue(parent=self)
        self.training_panel = TrainingPanel(redraw=q)
        self.reconstruction_panel = ReconstructionPanel(redraw=q)
        self.latent_panel = LatentPanel(redraw=q)
        # The sweep's fits live for the session, so a chosen row can be opened like a project.
        self._sweep_dir = QTemporaryDir()
        self.model_selection_panel = ModelSelectionPanel(
            redraw=q, get_split=self._model_split,  # the Baselines section's default split
        )
        self.tabs = QTabWidget()  # "Training and views", "Model selection"
        self.setCentralWidget(layout.compose(self, self.tabs))
        self._data_status, self._model_status = QLabel("no data"), QLabel("no model")
        self.busy = BusyIndicator(self.statusBar())
        self.statusBar().addPermanentWidget(self._data_status)
        self.statusBar().addPermanentWidget(self._model_status)

        self.menu_entries = build_menus(self.menuBar(), ACTIONS, self)  # name → QAction, QMenu
        self.save_action = self.menu_entries["save"]
        self.train_action = self.menu_entries["train"]
        self.recent = RecentProjects(self.menu_entries["recent"], lambda p: self.open_project(p))
        self.host = host = WindowHost(self)  # what the window lends its parts
        self.training = t = TrainingControl(  # fits, one at a time
            self.session, lambda: (self.model_panel.model_kwargs(), self.model_panel.epochs()),
            host, self.autosave.path, parent=self,
        )
        self.jobs = Jobs(  # and the model-selection view's: a sweep, a control, a comparison
            t, self.model_panel.kwargs_but_split,
            save_dir=self._sweep_dir.path() if self._sweep_dir.isValid() else None, parent=self,
        )
        self.start_training, self.toggle_pause = t.start, t.toggle_pause
        self.stop_training, self.stop_and_wait = t.stop, self.jobs.stop_and_wait  # every job
        self.files = f = Files(self.session, self.recent, self.autosave, host, self)
        self.exporter = export.Exporter(
            self.session, (self.training_panel, self.reconstruction_panel, self.latent_panel),
            q, host, self._on_exporter_written,
        )
        self.clock = SessionClock(self.reconstruction_panel, self.latent_panel, host)
        self.open_data_file, self.open_project, self.open_paths = (
            f.open_data_file, f.open_project, f.open_paths
        )
        self.save_project, self.recent_projects = f.save_project, self.recent.paths
        self.export_view, self.export_chosen = self.exporter.view, self.exporter.chosen
        self.export_latents, self.open_demo = self.exporter.latents, f.open_demo
        self._connect()
        self.model_panel.restore_settings(settings())
        self.training_panel.set_planned_epochs(self.model_panel.epochs())
        if (geometry := settings().value("window/geometry")) is None:
            self.resize(1600, 1000)
        else:
            self.restoreGeometry(geometry)
        self._update_state()

    def _connect(self) -> None:
        tp, t, f = self.training_panel, self.training, self.files
        self.data_panel.open_requested.connect(lambda m: actions.open_data_dialog(self, m))
        self.data_panel.arrays_chosen.connect(lambda m, p, fld: f.open_data_file(p, m, fld))
        sessions = self.data_panel.sessions  # several sessions in one latent space
        sessions.add_requested.connect(lambda: actions.add_session_dialog(self))
        sessions.manifest_requested.connect(lambda: actions.open_manifest_dialog(self))
        sessions.chosen.connect(self.choose_session)
        self.latent_panel.all_sessions_toggled.connect(self._on_latent_panel_all_sessions_toggled)
        reading = self.data_panel.reading  # a rate and window length for the next files read
        reading.changed.connect(lambda m, opts: self.session.set_read_options(m, **opts))
        reading.reread_requested.connect(f.reread)
        for m in ("neural", "behavior"):
            self.session.set_read_options(m, **reading.options(m))
        tp.train_clicked.connect(t.start)
        tp.pause_clicked.connect(t.toggle_pause)
        tp.stop_clicked.connect(t.stop)
        tp.reset_clicked.connect(self.reset_model)
        self.model_panel.epochs_spin.valueChanged.connect(tp.set_planned_epochs)
        self.reconstruction_panel.trial_changed.connect(self.latent_panel.set_current_trial)
        for panel, views in (
            (tp, export.TRAINING_VIEWS),
            (self.reconstruction_panel, export.RECONSTRUCTION_VIEWS),
            (self.latent_panel, export.LATENT_VIEWS),
        ):
            panel.export_requested.connect(lambda v=views: self.open_export_dialog(v))
        msp, jobs = self.model_selection_panel, self.jobs
        msp.fit_chosen.connect(self._on_model_selection_fit_chosen)
        for job, view in ((jobs.sweep, msp), (jobs.controls, msp.controls_panel),
                          (jobs.compare, msp.compare_panel)):
            connect_view(job, view)
        # The session tells what changed (from a worker thread too: the signal queues it here).
        self.session.subscribe(self.session_changed.emit)
        self.session_changed.connect(self._update_state)
        t.started.connect(self._on_training_started)
        t.progressed.connect(self._on_training_progressed)
        t.snapshot_ready.connect(self._on_training_snapshot_ready)
        t.paused_changed.connect(self.paused_changed)
        t.succeeded.connect(self._on_training_succeeded)
        t.failed.connect(self._on_training_failed)
        t.message.connect(self.statusBar().showMessage)
        t.ended.connect(self._on_training_ended)
        f.data_loaded.connect(self._on_files_data_loaded)
        f.arrays_found.connect(self.data_panel.set_arrays)
        f.sessions_changed.connect(self._on_files_sessions_changed)
        f.project_opened.connect(self._on_files_project_opened)
        f.project_saved.connect(self._on_files_project_saved)

    # ================================================================ state
    @property
    def is_training(self) -> bool:
        return self.training.is_running

    @property
    def worker(self) -> TrainingWorker | None:  # the fit running now
        return self.training.worker

    @property
    def model(self) -> MMGPVAE | None:
        return self.session.model

    @property
    def last_snapshot(self) -> Snapshot | None:
        return self.session.last_snapshot

    def _model_split(self) -> tuple[int, int, int]:
        kw = self.model_panel.model_kwargs()
        return split_of(kw)

    @Slot(str)
    def _update_state(self, _what: str = "") -> None:
        """Show what the session allows now (panels, actions, status bar): whenever it says it
        changed, and when the busy bar gives the window back."""
        enabled = self.session.enabled()
        self.training_panel.set_state(enabled.state)
        self.model_panel.setEnabled(enabled.edit)
        self.model_panel.set_model_locked(enabled.model_locked)
        self.data_panel.setEnabled(enabled.edit)
        msp = self.model_selection_panel
        msp.set_running(not enabled.sweep)
        msp.controls_panel.set_running(not enabled.controls)
        msp.compare_panel.set_running(not enabled.compare)
        for spec in ACTIONS:
            if spec.enabled_when:
                self.menu_entries[spec.name].setEnabled(getattr(enabled, spec.enabled_when))
        self._data_status.setText(self.session.data_summary())
        self._model_status.setText(self.session.model_summary())

    def _show_error(self, title: str, text: str) -> None:
        """A clear message; never a traceback. Non-blocking (the event loop keeps running)."""
        self.last_error = text
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        ok = QMessageBox.StandardButton.Ok
        box = self._error_box = QMessageBox(QMessageBox.Icon.Warning, title, text, ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_shown.emit(text)

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, TITLE, question)
        return answer == QMessageBox.StandardButton.Yes

    def _live(self, text: str, fn):
        """``fn()`` off the GUI thread, the window repainting and a busy bar moving meanwhile;
        menus and panels take no input until it returns (background.run_live)."""
        # The actions too: on macOS their shortcuts work with the (native) menu bar disabled.
        block = (self.menuBar(), self.centralWidget(), *self.findChildren(QAction))
        try:
            return self.busy.run(text, fn, block)
        finally:
            self._update_state()  # what may be enabled now (a fit may have ended meanwhile)
            if self._close_when_idle:
                self._close_when_idle = False
                QTimer.singleShot(0, self.close)

    def screenshot(self) -> QPixmap:
        """The window as shown (the 3D view is an ordinary raster widget, so ``grab`` has it)."""
        return self.grab()

    # ================================================================ data and projects
    def set_datasets(self, neural: Dataset | None, behavior: Dataset | None) -> None:
        """New data: any trained model is dropped (it was fitted to other data)."""
        self.session.set_datasets(neural, behavior)
        self._show_data()

    def _show_data(self) -> None:
        """Show the session's data, and no model yet."""
        s = self.session
        for modality, ds in zip(("neural", "behavior"), s.datasets()):
            self.data_panel.set_summary(modality, None if ds is None else data_summary(ds))
        kw = self.model_panel.model_kwargs()
        self.reconstruction_panel.set_data(
            s.neural, s.behavior, kw["neural_likelihood"], kw["behavior_likelihood"]
        )
        self.latent_panel.clear()
        self.clock.show_data(s.neural)  # a continuous session scrubs session time
        self.training_panel.set_history(TrainingHistory())
        self.setWindowTitle(TITLE)

    # ---------------------------------------------------------------- several sessions
    def add_session(self, neural: str | Path, behavior: str | Path | None) -> bool:
        """Add a session from its files (named after the neural file) to those held."""
        from mmgpvae_gui.session import session_name

        taken = {r.name for r in self.session.recordings}
        name, k = session_name(Path(neural).parent.name + "_" + Path(neural).stem), 2
        while name in taken:
            name, k = f"{name}_{k}", k + 1
        return self.files.add_session(name, neural, behavior)

    def open_manifest(self, path: str | Path) -> bool:
        return self.files.open_manifest(path)

    @Slot()
    def _on_files_sessions_changed(self) -> None:
        s = self.session
        self.data_panel.sessions.set_sessions([r.name for r in s.recordings], s.chosen)
        self._show_data()
        self.statusBar().showMessage(
            f"{len(s.recordings)} sessions: one latent space, each its own neural read-in and "
            "read-out", 8000,
        )

    @Slot(int)
    def choose_session(self, index: int) -> None:
        """Show session ``index`` (of several) in every view; a fit in progress goes on with
        all of them and its snapshots show this one."""
        s = self.session
        if not (0 <= index < len(s.recordings)) or index == s.chosen:
            return
        snap_before = s.last_snapshot
        s.choose_session(index)
        if self.worker is not None:
            self.worker.session_index = index
        history = s.model.history if s.model is not None else TrainingHistory()
        self._show_data()
        self.training_panel.set_history(history)
        if s.last_snapshot is not None and s.last_snapshot is not snap_before:
            self._show_snapshot(s.last_snapshot)
        self.data_panel.sessions.set_sessions([r.name for r in s.recordings], index)

    @Slot(object)
    def _on_files_data_loaded(self, loaded: Loaded) -> None:
        self.model_panel.follow_data(loaded.modality, loaded.dataset)  # likelihood follows it
        self.data_panel.sessions.set_sessions([])  # a file opened: one session again
        self._show_data()
        self.last_data_warnings = notes = loaded.notes
        bar = self.statusBar()
        if notes:
            bar.showMessage(f"Loaded {loaded.modality} data; note: " + " · ".join(notes), 20000)
            bar.setToolTip("\n".join(notes))
        else:
            bar.showMessage(f"Loaded {loaded.modality} data from {loaded.path}", 5000)

    def open_digit_demo(self, **options) -> None:
        """Simulate the rotating-digit session and set the model up for it."""
        from mmgpvae_core.synthetic.digits import simulate_digits, suggested_model

        text = "Simulating the rotating-digit session…"
        if (sim := self.files.simulate(text, lambda: simulate_digits(**options))) is None:
            return
        self.model_panel.apply_kwargs(suggested_model())
        self.set_datasets(sim.neural, sim.behavior)
        self.statusBar().showMessage("Rotating-digit demo: 1 shared latent rotates the digit", 8000)

    @Slot(object)
    def _on_files_project_opened(self, opened: Opened) -> None:
        model = opened.model
        self.model_panel.set_from_configs(model.model_config, model.train_config)
        sources = self.session.sources  # the project's files, as they were read
        if sources:
            window = next((o["window_s"] for _, o in sources.values() if "window_s" in o), None)
            rates = {m: o.get("rate_hz") for m, (_, o) in sources.items()}
            self.data_panel.reading.set_options(rates, window)
        self._show_data()
        self.data_panel.sessions.set_sessions(
            [r.name for r in self.session.recordings], self.session.chosen
        )
        names = self.session.latent_names(model.model_config.to_dict())
        self.training_panel.set_latent_names(names)
        self.training_panel.set_history(model.history)
        if opened.snapshot is not None:
            self._show_snapshot(opened.snapshot)
        self.clock.show_model(model)
        self.setWindowTitle(f"{TITLE} — {opened.path.name}")
        self.statusBar().showMessage(f"Opened {opened.path}", 5000)

    @Slot(object)
    def _on_files_project_saved(self, path: Path) -> None:
        self.setWindowTitle(f"{TITLE} — {path.name}")
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self.project_saved.emit(str(path))

    def offer_restore(self) -> bool:
        """After a crash: offer the newest autosaved session left behind, and reopen it (as an
        unsaved project) if the user wants it. True if a session was restored."""
        if not self.files.offer_restore():
            return False
        self.setWindowTitle(f"{TITLE} — restored session (not saved)")
        restored = f"Restored the autosaved session ({describe(self.autosave.path)})"
        self.statusBar().showMessage(restored, 10000)
        return True

    # ================================================================ training
    @Slot()
    def reset_model(self) -> None:
        if self.is_training:
            return
        self.session.reset_model()
        self.latent_panel.clear()
        self.reconstruction_panel.set_reconstruction({})
        self.training_panel.set_history(TrainingHistory())

    @Slot(object, bool, int)
    def _on_training_started(self, model: MMGPVAE, new: bool, epochs: int) -> None:
        if new:
            self.training_panel.set_history(model.history)
        names = self.session.latent_names(model.model_config.to_dict())
        self.training_panel.set_latent_names(names)
        self.training_panel.begin(len(model.history), epochs)
        self.training_started.emit()

    def _show_snapshot(self, snap: Snapshot) -> None:
        self.reconstruction_panel.set_reconstruction(snap.reconstruction)
        model = self.session.model
        self.latent_panel.offer_all_sessions(model is not None and model.is_multi_session)
        self._show_latents(snap)

    @Slot(bool)
    def _on_latent_panel_all_sessions_toggled(self, _checked: bool) -> None:
        self._show_latents(self.session.last_snapshot)

    def _show_latents(self, snap: Snapshot | None) -> None:
        """The latent view: the chosen session's latents by condition, or, with All sessions
        ticked (a model of several sessions, not while it trains), every session's in their
        one space, by session."""
        s, panel = self.session, self.latent_panel
        model = s.model
        every = panel.all_sessions_box.isChecked() and model is not None and (
            model.is_multi_session and not self.is_training
        )
        if every:
            latents, labels = self._live("Inferring every session's latents…",
                                         lambda: all_session_latents(model))
            panel.set_latents(latents, labels)
        elif snap is not None:
            neural = s.neural
            panel.set_latents(snap.latents, None if neural is None else neural.conditions)

    @Slot(object)
    def _on_training_progressed(self, report: EpochReport) -> None:
        self.training_panel.add_report(report)
        self._model_status.setText(f"epoch {report.epoch} · ELBO {report.elbo:.1f}")

    @Slot(object)
    def _on_training_snapshot_ready(self, snap: Snapshot) -> None:
        self._show_snapshot(snap)
        self.latent_panel.set_current_trial(self.reconstruction_panel.current_trial())
        self.snapshot_shown.emit(snap.epoch)

    @Slot(object)
    def _on_training_succeeded(self, outcome: FitOutcome) -> None:
        text = OUTCOME_WORDS.get(outcome.status, outcome.status)
        self.training_panel.finish(f"{text} after {self.session.epochs_trained} epochs")

    @Slot(str)
    def _on_training_failed(self, message: str) -> None:
        self.training_panel.finish("failed — last good state kept")
        self._show_error("Training failed", message)

    @Slot(str)
    def _on_training_ended(self, status: str) -> None:
        self.training_finished.emit(status)
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.close()
        else:  # after this slot: stitching runs through the busy indicator
            QTimer.singleShot(0, self._stitch_session_latents)

    def _stitch_session_latents(self) -> None:
        if not (self.is_training or self.busy.active or self._close_when_idle):
            self.clock.show_model(self.session.model)

    # ================================================================ export
    def open_export_dialog(self, views: list[str]) -> None:
        self.exporter.dialog(self, views)

    def _on_exporter_written(self, path: Path) -> None:
        self.statusBar().showMessage(f"Exported {path}", 5000)
        self.exported.emit(str(path))

    # ================================================================ model selection
    def show_model_selection(self) -> None:
        self.tabs.setCurrentWidget(self.model_selection_panel)

    @Slot(object)
    def _on_model_selection_fit_chosen(self, row: dict) -> None:
        """Open the row's saved fit like a project; without one, set its split and the options
        the sweep tried (its neural read-out, ...) for Train."""
        split = list(split_of(row))
        if (done := self.files.open_chosen_fit(row)) is None:
            return
        if done == "split":
            self.reset_model()
            self.model_panel.set_split(*split)
            self.model_panel.apply_kwargs(dict(swept(row)))
        self.tabs.setCurrentIndex(0)
        options = "".join(f", {k}={format_value(v)}" for k, v in swept(row))
        self.statusBar().showMessage(CHOSEN_FIT[done].format(*split, options), 8000)

    # ================================================================ events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        self.open_paths([Path(u.toLocalFile()) for u in urls if u.isLocalFile()])
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask first (training, then an unsaved model), then stop every job (``jobs``): a
        declined close leaves the sweep, the control, the comparison and the fit running."""
        if self.busy.active:  # reading or writing a file: close as soon as it is done
            self._close_when_idle = True
            self.statusBar().showMessage("Closing when the file is done…")
            event.ignore()
            return
        if self.is_training:
            if not self._close_when_stopped and not self._confirm(
                "Training is running. Stop it and close the window?"
            ):
                event.ignore()
                return
            self._close_when_stopped = True
            self.jobs.stop_panel_jobs_and_wait()
            self.stop_training()
            event.ignore()  # closes for real once the worker has finished its epoch
            return
        if self.session.unsaved and not self._confirm(
            "The trained model has not been saved. Close and discard it? (No: keep the window "
            "open; File ▸ Save project… keeps it.)"
        ):
            event.ignore()
            return
        if self.jobs.running():
            self.jobs.stop_and_wait()
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        self.model_panel.save_settings(s)
        s.sync()
        self.autosave.discard()  # a normal end: nothing to restore next time
        super().closeEvent(event)
