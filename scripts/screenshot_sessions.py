"""Screenshot for the README: the app holding three sessions of one task (different neurons),
fitted together, showing the second.

Simulates the sessions, fits them briefly as one model, opens the project in the main window,
chooses the second session and saves the window.

xvfb-run -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_sessions.py [--out PNG]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots/sessions.png"))
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument(
        "--all", action="store_true", help="tick All sessions in the latent view"
    )
    args = parser.parse_args()

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.synthetic.simulate import simulate_sessions

    sims = simulate_sessions(n_neurons=(30, 45, 60), n_trials=30, n_time=60, seed=1)
    model = MMGPVAE(2, 1, 1, epochs=args.epochs, seed=0)
    model.fit([s.neural for s in sims], [s.behavior for s in sims], names=["day1", "day2", "day3"])
    project = Path(tempfile.mkdtemp()) / "sessions.mmgp"
    model.save(project)

    from shot import main_window, save

    app, win = main_window()
    if not win.open_project(project, remember=False):
        return 1
    win.data_panel.sessions.list.setCurrentRow(1)
    if args.all:
        win.latent_panel.all_sessions_box.setChecked(True)
    save(app, win, args.out)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
