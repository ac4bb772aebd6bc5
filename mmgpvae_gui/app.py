"""Entry point of ``mmgpvae-gui``: ``mmgpvae-gui [--demo | --digits] [PROJECT.mmgp]``."""

from __future__ import annotations

import argparse
import sys

from mmgpvae_gui.host import DEMO_DIR, demo_dir, settings

__all__ = ["DEMO_DIR", "create_application", "demo_dir", "main", "settings"]  # kept here too


def create_application(settings_dir: str | None = None):
    """The QApplication as the app runs it (names for QSettings, shared OpenGL contexts, the
    plot style); ``settings_dir`` keeps settings out of the user's (benchmarks, screenshots)."""
    from PySide6.QtCore import QCoreApplication, QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from mmgpvae_gui.style import configure_pyqtgraph

    QCoreApplication.setOrganizationName("MMGPVAE")
    QCoreApplication.setApplicationName("MMGPVAE Studio")
    if settings_dir is not None:
        fmt, scope = QSettings.Format.NativeFormat, QSettings.Scope.UserScope
        QSettings.setPath(fmt, scope, settings_dir)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mmgpvae-gui", description="MM-GPVAE Studio")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo data set")
    parser.add_argument(
        "--digits", action="store_true", help="open the rotating-digit demo (simulated)"
    )
    parser.add_argument("project", nargs="?", help="a .mmgp project to open")
    parser.add_argument("--quit-after", type=int, default=0, help=argparse.SUPPRESS)  # smoke tests
    args = parser.parse_args(argv)

    from PySide6.QtCore import QTimer

    app = create_application()

    from mmgpvae_gui.main_window import MainWindow
    from mmgpvae_gui.session import Session

    win = MainWindow(Session())
    win.show()

    def start() -> None:
        # After a crash, the autosaved session is offered first; what the command line asked
        # for opens only if it was not restored (not inside the question's event loop).
        if not args.quit_after and win.offer_restore():
            return
        if args.project:
            win.open_project(args.project)
        elif args.digits:
            win.open_digit_demo()
        elif args.demo:
            win.open_demo()

    QTimer.singleShot(0, start)
    if args.quit_after:
        win._confirm = lambda question: True  # a smoke test: no modal question at close
        QTimer.singleShot(args.quit_after, win.close)
    code = app.exec()
    if args.quit_after and win.last_error:  # a smoke test: an error shown is a failure
        print(f"mmgpvae-gui: error shown: {win.last_error}", file=sys.stderr)
        return code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())
