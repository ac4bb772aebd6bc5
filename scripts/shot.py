"""What the screenshot scripts share: a main window of README size on its own settings, saving
it once every queued redraw has been drawn, and saving it when a job it starts has finished."""

from __future__ import annotations

from pathlib import Path


def main_window(size: tuple[int, int] = (1600, 1000)):
    """(app, window): the application (settings in /tmp) and a shown main window."""
    from mmgpvae_gui.app import create_application

    app = create_application(settings_dir="/tmp/mmgpvae-screenshots")
    from mmgpvae_gui.main_window import MainWindow

    win = MainWindow()
    win.resize(*size)
    win.show()
    app.processEvents()
    return app, win


def save(app, win, out: Path, turns: int = 5) -> Path:
    """Draw what is queued (``turns`` event-loop turns) and save the window to ``out``."""
    for _ in range(turns):
        win.redraw_queue.flush()
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    win.screenshot().save(str(out))
    print(out)
    return out


def save_when_finished(app, win, finished, start, out: Path, note=None) -> int:
    """Run the event loop: ``start()`` the job once the window is up; when ``finished`` (a
    signal carrying the result) fires, print ``note(result)``, save the window to ``out`` and
    quit. Returns 0, the scripts' exit status."""
    from PySide6.QtCore import QTimer

    def shoot(result) -> None:
        if note is not None:
            print(note(result))
        save(app, win, out)
        app.quit()

    finished.connect(lambda result: QTimer.singleShot(800, lambda: shoot(result)))
    QTimer.singleShot(500, start)
    app.exec()
    return 0
