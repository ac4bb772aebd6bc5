"""A session that trains is autosaved; after a crash the next start offers to restore it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import pytest

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
    win.autosave_every_s = 0.2
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
        path = folder / f"session-{child.pid}-1.mmgp"
        deadline = time.monotonic() + 120
        seen: list[int] = []
        while time.monotonic() < deadline and child.poll() is None:
            n = _epochs_in(path)
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
    assert window._project_path is None  # Save asks where to keep it
    assert orphans(folder) == [] and window.autosave.path.exists()  # adopted
    assert train(qtbot, window, 2) == "max_epochs"  # and it trains on from there
    assert len(window.model.history) == saved + 2


def test_declining_the_restore_discards_the_autosave(window, _autosave_in_tmp, tmp_path):
    folder = _autosave_in_tmp
    folder.mkdir(parents=True)
    orphan = folder / f"session-{_dead_pid()}-1.mmgp"
    orphan.write_bytes(b"not looked at")
    window._confirm = lambda q: False
    assert not window.offer_restore()
    assert not orphan.exists() and window.model is None


def test_a_normal_close_leaves_no_autosave(loaded, qtbot, train):
    win = loaded
    win.autosave_every_s = 0.0  # only the end-of-fit save
    assert train(qtbot, win, 2) == "max_epochs"
    assert _epochs_in(win.autosave.path) == 2
    # Another running window's autosave is no orphan.
    assert orphans(win.autosave.folder) == []
    win.close()
    assert not win.autosave.path.exists()


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
