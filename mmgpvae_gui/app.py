"""Entry point of ``mmgpvae-gui``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1] / "resources" / "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mmgpvae-gui", description="MM-GPVAE Studio")
    parser.add_argument("--demo", action="store_true", help="open the bundled demo data set")
    parser.add_argument("project", nargs="?", help="a .mmgp project to open")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = QMainWindow()
    win.setWindowTitle("MM-GPVAE Studio")
    win.setCentralWidget(QLabel("MM-GPVAE Studio"))
    win.resize(1200, 800)
    win.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
