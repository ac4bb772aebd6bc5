"""Screenshots of the main window for the README: during and after a fit on the demo data.

xvfb-run -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--during", type=int, default=25, help="epoch of the 'during' shot")
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    from mmgpvae_gui.app import create_application

    app = create_application(settings_dir="/tmp/mmgpvae-screenshots")
    from mmgpvae_gui.main_window import MainWindow

    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    win.open_demo()
    win.model_panel.epochs_spin.setValue(args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    shots: dict[str, Path] = {}

    def shoot(name: str) -> None:
        win.redraw_queue.flush()
        app.processEvents()
        path = args.out / f"main_window_{name}.png"
        win.screenshot().save(str(path))
        shots[name] = path

    def on_epoch(_report) -> None:
        if "during_training" not in shots and win.training_panel.n_epochs_shown >= args.during:
            shoot("during_training")

    def on_finished(_status: str) -> None:
        win.reconstruction_panel.set_trial(3)
        QTimer.singleShot(800, lambda: (shoot("after_training"), app.quit()))

    win.training_finished.connect(on_finished)
    win.snapshot_shown.connect(on_epoch)
    QTimer.singleShot(500, win.start_training)
    app.exec()
    for p in shots.values():
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
