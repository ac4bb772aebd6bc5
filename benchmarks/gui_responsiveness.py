"""GUI responsiveness during a fit on the demo data.

A QTimer fires every 10 ms on the GUI thread and records how late each turn of the event loop
came; the longest gap must stay under 50 ms while the worker trains (and computes snapshots for
the live views), on 2 CPU cores. By default the user also scrubs trials at 10 Hz meanwhile
(``--scrub-hz 0``: only watch). Needs a display (Xvfb) for the 3D view. Prints JSON: the longest
and 99th-percentile gaps and the five worst (when in the fit, at which epoch); ``--profile`` dumps
a cProfile of the GUI thread.

    DISPLAY=:99 python benchmarks/gui_responsiveness.py --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)

TICK_MS = 10
LIMIT_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--trials", type=int, default=100, help="demo trials to fit (all: 100)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--limit-ms", type=float, default=LIMIT_MS)
    parser.add_argument(
        "--scrub-hz",
        type=float,
        default=10.0,
        help="trial steps per second during the fit (0: none)",
    )
    parser.add_argument(
        "--task",
        choices=("fit", "sweep"),
        default="fit",
        help="what runs in the background: a fit (default) or a model-selection sweep "
        "(shared 1-2 x private 0-1 x 0-1, 2 folds, --epochs per fit, worker processes on the "
        "same cores; the sweep tab is shown, no scrubbing)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the GUI thread during the fit, stats to FILE"
    )
    ttf.add_smoke_argument(
        parser,
        "2 epochs on 12 trials (a sweep: 1 x 1 x 0 in the worker, 1 epoch); exits 0 whatever "
        "the gaps (a busy test machine)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.trials = (1, 12) if args.task == "sweep" else (2, 12)

    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)
    import torch

    torch.set_num_threads(args.cores)

    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    from mmgpvae_core.loaders import load_pair
    from mmgpvae_gui.app import create_application

    app = create_application(settings_dir="/tmp/mmgpvae-b")
    from mmgpvae_gui.app import demo_dir
    from mmgpvae_gui.main_window import MainWindow

    win = MainWindow()
    win._confirm = lambda question: True  # no one to answer "discard the unsaved model?" at quit
    win.resize(1600, 1000)
    win.show()
    neural, behavior = load_pair(demo_dir() / "neural.h5", demo_dir() / "behavior.h5")
    keep = np.arange(min(args.trials, neural.n_trials))
    win.set_datasets(neural.subset(keep), behavior.subset(keep))
    win.model_panel.epochs_spin.setValue(args.epochs)

    clock = QElapsedTimer()
    gaps: list[float] = []
    last = [0.0]

    where: list[tuple[float, int]] = []  # (time in the fit, s; epochs shown) of each gap

    panel = win.model_selection_panel
    sweep = args.task == "sweep"

    def busy() -> bool:
        return panel.is_running if sweep else win.is_training

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if busy():
            gaps.append(now - last[0])
            where.append((now / 1000.0, win.training_panel.n_epochs_shown))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    snapshots = []
    win.snapshot_shown.connect(snapshots.append)
    # Scrub trials while training, as a user would: the views redraw during the fit.
    scrub = QTimer()
    scrub.setInterval(int(1000 / args.scrub_hz) if args.scrub_hz > 0 else 100)
    scrub.timeout.connect(lambda: win.reconstruction_panel.step(1, wrap=True))
    result: dict = {}

    def finished(status: str) -> None:
        timer.stop()
        scrub.stop()
        late = np.asarray(gaps) - TICK_MS
        result.update(
            task=args.task,
            status=status,
            epochs=len(win.model.history) if win.model is not None else None,
            fit_s=round(time.perf_counter() - t0[0], 2),
            snapshots=len(snapshots),
            ticks=len(gaps),
            max_gap_ms=round(float(np.max(gaps)), 2),
            p99_gap_ms=round(float(np.percentile(gaps, 99)), 2),
            max_lateness_ms=round(float(late.max()), 2),
            worst_gaps=[
                {"ms": round(gaps[i], 1), "at_s": round(where[i][0], 2), "epoch": where[i][1]}
                for i in np.argsort(gaps)[::-1][:5]
            ],
            cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            scrub_hz=0.0 if sweep else args.scrub_hz,
            limit_ms=args.limit_ms,
        )
        app.quit()

    if sweep:
        win.tabs.setCurrentWidget(panel)
        panel.shared_edit.setText("1" if args.smoke else "1-2")
        panel.private_neural_edit.setText("1" if args.smoke else "0-1")
        panel.private_behavior_edit.setText("0" if args.smoke else "0-1")
        if args.smoke:
            win.jobs.sweep.n_jobs = 1  # no worker processes
        panel.folds_spin.setValue(2)
        panel.epochs_spin.setValue(args.epochs)
        panel.sweep_finished.connect(lambda r: finished("cancelled" if r.cancelled else "done"))
    else:
        win.training_finished.connect(finished)
    t0 = [0.0]

    def start() -> None:
        clock.start()
        last[0] = 0.0
        t0[0] = time.perf_counter()
        timer.start()
        if sweep:
            panel.start()
            return
        if args.scrub_hz > 0:
            scrub.start()
        win.start_training()

    QTimer.singleShot(500, start)
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    app.exec()
    if args.profile:
        prof.disable()
        prof.dump_stats(args.profile)
    result["passed"] = result.get("max_gap_ms", 1e9) < args.limit_ms
    print(json.dumps(result, indent=2))
    if args.smoke:  # it ran to the end; the gaps of a busy test machine are not the benchmark's
        return 0 if result.get("status") in ("max_epochs", "converged", "done") else 1
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
