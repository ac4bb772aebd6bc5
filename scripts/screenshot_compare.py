"""Screenshot of the Baselines tab (Model selection) on the real S1 session, for the README: the
data read as the CLI reads them (spikes; pos, vel; 20 Hz; 5 s windows), the split 2 + 1 + 0, the
comparison with the Wiener filters and the GLM on the last 20 % of the session.

xvfb-run -s "-screen 0 1920x1200x24" .venv/bin/python scripts/screenshot_compare.py \
    [--epochs 150] [--out docs/screenshots/compare.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
S1 = ROOT.parent / "shared/real-samples/paired/s1_area2_reaching.mat"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots/compare.png")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--data", type=Path, default=S1)
    args = parser.parse_args()

    from PySide6.QtWidgets import QSplitter

    from mmgpvae_core.compare import format_table

    sys.path.insert(0, str(ROOT / "scripts"))
    from shot import main_window, save_when_finished

    app, win = main_window()
    reading = win.data_panel.reading
    for modality in ("neural", "behavior"):
        reading.rate_spins[modality].setValue(20)
    reading.window_spin.setValue(5)
    if not (win.open_data_file(args.data, "neural", "spikes")
            and win.open_data_file(args.data, "behavior", "pos,vel")):
        print(f"cannot read {args.data}: {win.last_error}", file=sys.stderr)
        return 1
    for spin, value in ((win.model_panel.shared, 2), (win.model_panel.private_neural, 1),
                        (win.model_panel.private_behavior, 0)):
        spin.setValue(value)
    panel = win.model_selection_panel
    win.tabs.setCurrentWidget(panel)
    panel.side_tabs.setCurrentWidget(panel.compare_panel)
    panel.findChild(QSplitter).setSizes([560, 720])  # as a user drags the divider
    compare = panel.compare_panel
    compare.epochs_spin.setValue(args.epochs)
    return save_when_finished(app, win, compare.finished, compare.start, args.out, format_table)


if __name__ == "__main__":
    sys.exit(main())
