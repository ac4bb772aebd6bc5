"""The app on an hour-long session: open its project, then scrub it — does the window stall?

Writes the spikes session of ``scale.py`` (500 units × ``--minutes`` at 20 ms + 20 pose
channels), fits it for ``--epochs`` on ``--window``-second windows and saves the project; then
opens the project in the main window and scrubs the reconstruction view through the session.
A 10 ms timer in the GUI thread records every gap between its ticks: the longest gap is the
longest the window could not repaint or take input (the event loop's stall).

    .venv/bin/python benchmarks/app_scale.py                # 60 min, ~5 min in all
    .venv/bin/python benchmarks/app_scale.py --minutes 5    # a quick check

Needs a display (Xvfb, or QT_QPA_PLATFORM=offscreen). Prints a table; ``--write`` adds it to
RESULTS.md as the section "App at scale".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402  (its session writers)
import time_to_fit as ttf  # noqa: E402  (its --smoke option)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## App at scale"


class StallMeter:
    """Gaps between the ticks of a 10 ms GUI-thread timer, during what is measured."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def reset(self) -> None:
        self.gaps, self._last = [], time.perf_counter()

    def longest_ms(self) -> float:
        return 1000 * max(self.gaps, default=0.0)


def fit_project(folder: Path, a: argparse.Namespace) -> tuple[Path, dict]:
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.loaders import load_pair

    neural_path, pose_path = scale.write_case("spikes", folder, a)
    n, b = load_pair(neural_path, pose_path, behavior_rate_hz=50.0, window_s=a.window)
    model = MMGPVAE(epochs=a.epochs, seed=0, device="cpu").fit(n, b)
    path = folder / "session.mmgp"
    model.save(path)
    return path, {"bins": n.n_trials * n.n_time, "channels": n.n_channels + b.n_channels,
                  "windows": n.n_trials}


def measure(path: Path, a: argparse.Namespace) -> dict:
    from PySide6.QtWidgets import QApplication

    from mmgpvae_gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    meter = StallMeter()
    app.processEvents()
    meter.reset()
    t0 = time.perf_counter()
    assert win.open_project(path, remember=False), win.last_error
    opened_s = time.perf_counter() - t0
    for _ in range(20):  # the first draws of the views
        app.processEvents()
        time.sleep(0.01)
    open_stall = meter.longest_ms()
    panel = win.reconstruction_panel
    assert panel.is_continuous
    length = float(panel.scrubber.view_time()[1])
    meter.reset()
    steps = []
    for t in np.linspace(2.0, a.minutes * 60 - 2.0, a.steps):
        s0 = time.perf_counter()
        panel.set_session_time(float(t))
        while panel.shown_view != panel.scrubber.view():  # every plot has drawn the new view
            app.processEvents()
        steps.append(time.perf_counter() - s0)
    scrub_stall = meter.longest_ms()
    shown = panel.obs_plot.image_item.image
    win.close()
    return {
        "open_s": opened_s, "open_stall_ms": open_stall, "scrub_steps": len(steps),
        "scrub_median_ms": 1000 * float(np.median(steps)),
        "scrub_max_ms": 1000 * float(np.max(steps)), "scrub_stall_ms": scrub_stall,
        "image": None if shown is None else tuple(shown.shape), "view_end_s": length,
    }


def report(a, facts: dict, r: dict, load0, load1) -> str:
    return "\n".join([
        SECTION, "",
        f"`benchmarks/app_scale.py --minutes {a.minutes:g} --epochs {a.epochs} --window "
        f"{a.window:g}`, run {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} logical cores, "
        f"load average {load0[0]:.2f} at the start, {load1[0]:.2f} at the end.",
        "",
        f"A session of {facts['bins']:,} bins × {facts['channels']} channels "
        f"({facts['windows']} windows), fitted and saved, opened in the main window; then the "
        f"reconstruction view scrubbed to {r['scrub_steps']} places across the session (each "
        "step waits until every plot has drawn the new view). *Stall*: the longest gap between "
        "the ticks of a 10 ms timer in the GUI thread — the longest the window could not "
        "repaint or take input.",
        "",
        "| step | wall | longest stall |",
        "|---|---:|---:|",
        f"| open the project (read, views, stitched latents) | {r['open_s']:.1f} s | "
        f"{r['open_stall_ms']:.0f} ms |",
        f"| one scrub step (median / max) | {r['scrub_median_ms']:.0f} / "
        f"{r['scrub_max_ms']:.0f} ms | {r['scrub_stall_ms']:.0f} ms |",
        "",
        f"The observed heat map shows a {r['image']} image (pooled to the view's pixels).",
        "",
    ])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--units", type=int, default=500)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--window", type=float, default=4.0)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--write", action="store_true", help=f"add '{SECTION}' to RESULTS.md")
    ttf.add_smoke_argument(p, "30 s of 10 units, 3 scrub steps, nothing written")
    a = p.parse_args()
    if a.smoke:
        a.minutes, a.units, a.epochs, a.steps, a.write = 0.5, 10, 1, 3, False
    a.rois = 0
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path, facts = fit_project(Path(tmp), a)
        print(f"project written: {facts}", flush=True)
        r = measure(path, a)
    text = report(a, facts, r, load0, os.getloadavg())
    print(text)
    if a.write:
        old = RESULTS.read_text()
        if SECTION in old:
            start = old.index(SECTION)
            nxt = old.find("\n## ", start + len(SECTION))
            old = old[:start] + (old[nxt + 1:] if nxt >= 0 else "")
        RESULTS.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
