"""A session that trains is autosaved; after a crash the next start offers to restore it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_gui.autosave import orphans

CRASHING_APP = textwrap.dedent(
    """
    import sys
    from mmgpvae_gui.app import create_application
    app = create_application()
    from mmgpvae_gui.main_window import MainWindow
    win = MainWindow()
    win.show()
    assert win.open_data_file(sys.argv[1], "neural")
    assert win.open_data_file(sys.argv[2], "behavior")
    win.model_panel.batch_size.setValue(int(sys.argv[3]))
    win.model_panel.epochs_spin.setValue(100000)
    win.training.autosave_every_s = 0.2
    assert win.start_training()
    print("training", flush=True)
    app.exec()
    """
)


def _epochs_in(path) -> int:
    try:
        with h5py.File(path, "r") as f:
            return len(f["history/epoch"])
    except (OSError, KeyError):
        return 0


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_app_leaves_a_session_that_the_next_start_restores(
    window, qtbot, demo_files, n_trials, _autosave_in_tmp, train
):
    folder = _autosave_in_tmp
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_APP, str(demo_files["neural"]),
         str(demo_files["behavior"]), str(n_trials)],
        env={**os.environ, "MMGPVAE_AUTOSAVE_DIR": str(folder)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        seen: list[int] = []
        path = None
        while time.monotonic() < deadline and child.poll() is None:
            path = next(iter(folder.glob(f"session-{child.pid}-*.mmgp")), None)
            n = 0 if path is None else _epochs_in(path)
            if n and (not seen or n > seen[-1]):
                seen.append(n)
            if len(seen) >= 2:  # autosaved twice while training
                break
            time.sleep(0.05)
        assert len(seen) >= 2, child.communicate(timeout=5) if child.poll() is not None else seen
        os.kill(child.pid, signal.SIGKILL)  # a crash: no chance to clean up
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    saved = _epochs_in(path)
    assert saved >= seen[-1]
    assert orphans(folder) == [path]
    asked = []
    window._confirm = lambda q: asked.append(q) or True
    assert window.offer_restore()
    assert asked and "did not close normally" in asked[0] and f"{saved} epochs" in asked[0]
    assert len(window.model.history) == saved
    assert window.model.neural.n_trials == n_trials
    assert window.training_panel.n_epochs_shown == saved
    assert window.session.project_path is None  # Save asks where to keep it
    assert orphans(folder) == [] and window.autosave.path.exists()  # adopted
    assert train(qtbot, window, 2) == "max_epochs"  # and it trains on from there
    assert len(window.model.history) == saved + 2


def test_declining_the_restore_discards_only_that_autosave(window, _autosave_in_tmp):
    folder = _autosave_in_tmp
    folder.mkdir(parents=True)
    older = folder / f"session-{_dead_pid()}-a1.mmgp"
    older.write_bytes(b"not looked at")
    os.utime(older, (time.time() - 60, time.time() - 60))
    # A file named with this very pid but not written by this process: a pid reused after a
    # crash (as in a container) must not hide it.
    newest = folder / f"session-{os.getpid()}-b2.mmgp"
    newest.write_bytes(b"not looked at")
    assert orphans(folder) == [newest, older]
    asked = []
    window._confirm = lambda q: asked.append(q) or False
    assert not window.offer_restore()
    assert not newest.exists() and older.exists() and window.model is None
    assert len(asked) == 1  # one question; the older session is offered at the next start


def test_a_normal_close_leaves_no_autosave(loaded, qtbot, train):
    win = loaded
    win.training.autosave_every_s = 0.0  # only the end-of-fit save
    assert train(qtbot, win, 2) == "max_epochs"
    assert _epochs_in(win.autosave.path) == 2
    # Another running window's autosave is no orphan.
    assert orphans(win.autosave.folder) == []
    asked = []
    win._confirm = lambda q: asked.append(q) or False  # keep the window: nothing is lost
    win.close()
    assert win.isVisible() and win.autosave.path.exists()
    assert asked and "not been saved" in asked[0]
    assert win.save_project(win.autosave.folder.parent / "kept.mmgp")
    win.close()  # saved: closes without a question
    assert not win.isVisible() and len(asked) == 1
    assert not win.autosave.path.exists()


def test_the_end_of_fit_save_reuses_the_final_snapshot_inference(
    loaded, qtbot, train, monkeypatch
):
    """Inference over a long session costs seconds: the end of a fit runs it once, for the
    final picture and the autosave both, and the file holds what the window shows."""
    win = loaded
    win.training.autosave_every_s = 0.0  # only the end-of-fit save
    calls = []
    real_infer = MMGPVAE.infer
    monkeypatch.setattr(
        MMGPVAE, "infer", lambda self, *a, **k: calls.append(1) or real_infer(self, *a, **k)
    )
    snapshots = []
    win.training.snapshot_ready.connect(snapshots.append)
    assert train(qtbot, win, 3) == "max_epochs"
    assert snapshots and len(calls) == len(snapshots)  # no second pass for the autosave
    final = snapshots[-1]
    assert final.epoch == 3
    with h5py.File(win.autosave.path, "r") as f:
        for name, latents in final.latents.items():
            np.testing.assert_array_equal(f[f"posterior/{name}/mean"][()], latents)


@pytest.mark.skipif(sys.platform == "win32", reason="pid liveness via os.kill(pid, 0)")
def test_autosaves_of_running_processes_are_not_offered(window, _autosave_in_tmp):
    folder = _autosave_in_tmp
    folder.mkdir(parents=True)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (folder / f"session-{alive.pid}-1.mmgp").write_bytes(b"x")
        assert orphans(folder) == []
        assert not window.offer_restore()
    finally:
        alive.kill()
        alive.wait()
