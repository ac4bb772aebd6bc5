"""Screenshot of the Model selection view after a small sweep of the demo data (spike counts:
each split with a linear and an MLP neural read-out), for the README.

xvfb-run -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_sweep.py \
    [--shared 0-3] [--epochs 40] [--out docs/screenshots/model_selection.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots/model_selection.png")
    parser.add_argument("--shared", default="0-3")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1, help="sweep processes (1: in the worker)")
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    sys.path.insert(0, str(ROOT / "scripts"))
    from shot import main_window, save

    app, win = main_window()
    win.open_demo()
    win.jobs.sweep.n_jobs = args.jobs
    panel = win.model_selection_panel
    win.tabs.setCurrentWidget(panel)
    panel.shared_edit.setText(args.shared)
    panel.private_neural_edit.setText("1")
    panel.private_behavior_edit.setText("1")
    panel.folds_spin.setValue(2)
    panel.epochs_spin.setValue(args.epochs)

    def shoot(result) -> None:
        print(result.best_line(), "—", result.reason)
        save(app, win, args.out)
        app.quit()

    panel.sweep_finished.connect(lambda result: QTimer.singleShot(800, lambda: shoot(result)))
    QTimer.singleShot(500, panel.start)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
