"""Screenshot for the README: the app scrubbing a continuous session on its clock.

Simulates a session without trials, fits it briefly on consecutive windows, opens the project
in the main window, scrubs to mid-session and saves the window.

xvfb-run -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_continuous.py [--out PNG]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/continuous_scrub.png"))
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--at", type=float, default=None, help="session time shown (s)")
    args = parser.parse_args()

    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.continuous import continuous_latents, session_time
    from mmgpvae_core.synthetic.simulate import simulate_session

    sim = simulate_session(n_bins=3000, window_bins=50, n_neurons=60, n_keypoints=4, seed=2)
    model = MMGPVAE(2, 1, 1, epochs=args.epochs, seed=0, behavior_likelihood="gaussian")
    model.fit(sim.neural, sim.behavior)
    stitched = continuous_latents(model)
    project = Path(tempfile.mkdtemp()) / "session.mmgp"
    model.save(project)

    from shot import main_window, save

    app, win = main_window()
    if not win.open_project(project, remember=False):
        return 1
    rp, lp = win.reconstruction_panel, win.latent_panel
    # What the window would do itself for a continuous session (see the report's hook):
    # give the latent view the session clock and the stitched latents, and link the scrubbers.
    lp.set_session_time(session_time(sim.neural), sim.neural.n_time)
    lp.set_continuous_latents(stitched)
    rp.view_changed.connect(lp.set_view)
    lp.view_changed.connect(rp.set_view)
    rp.scrubber.set_width(2)
    t_mid = args.at if args.at is not None else float(stitched["time"][-1]) / 2
    rp.set_session_time(t_mid)
    save(app, win, args.out)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
