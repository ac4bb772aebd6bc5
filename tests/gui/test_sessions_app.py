"""Several sessions in the app: add a session, a manifest, train them together, show each,
save and reopen."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.synthetic.simulate import simulate_sessions, write_simulation


@pytest.fixture(scope="module")
def session_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    sims = simulate_sessions(n_neurons=(12, 20), n_trials=8, n_time=30, seed=4)
    paths = [write_simulation(root / name, s) for name, s in zip(("a", "b"), sims)]
    manifest = root / "sessions.csv"
    manifest.write_text(
        "name,neural,behavior\n"
        + "".join(f"{n},{n}/neural.h5,{n}/behavior.h5\n" for n in ("a", "b"))
    )
    return paths, manifest


def test_a_session_added_to_the_loaded_one_trains_with_it_and_each_is_shown(
    window, qtbot, session_files, train, tmp_path
):
    win = window
    (a, b), _ = session_files
    assert win.files.open_data_file(a["neural"], "neural")
    assert win.files.open_data_file(a["behavior"], "behavior")
    box = win.data_panel.sessions
    assert not box.list.isVisibleTo(win) and box.names() == []
    assert win.add_session(b["neural"], b["behavior"])
    assert len(box.names()) == 2 and box.list.isVisibleTo(win)
    assert win.session.neural.n_channels == 12  # the first is shown
    win.model_panel.set_split(2, 1, 1)
    assert train(qtbot, win, 2) == "max_epochs"
    assert win.model.is_multi_session and win.model.session_names == box.names()
    box.list.setCurrentRow(1)  # the views show the second session
    assert win.session.chosen == 1 and win.session.neural.n_channels == 20
    snap = win.session.last_snapshot
    assert snap is not None and snap.reconstruction["neural"].shape == (8, 30, 20)
    assert win.data_panel.summary_text("neural")["channels"] == "20"
    path = tmp_path / "two.mmgp"
    win.session.save(path)
    win.session.reset_model()
    assert win.files.open_project(path)
    assert box.names() == win.model.session_names and len(box.names()) == 2
    shared = [win.model.transform(session=k)["shared"] for k in range(2)]
    assert all(np.isfinite(z).all() for z in shared)


def test_a_manifest_replaces_the_data_and_a_mismatch_is_refused(window, session_files):
    win = window
    (a, b), manifest = session_files
    assert win.open_manifest(manifest)
    assert win.data_panel.sessions.names() == ["a", "b"]
    errors = []
    win.error_shown.connect(errors.append)
    bad = manifest.parent / "bad.csv"
    bad.write_text("name,neural\na,a/neural.h5\n")
    assert not win.open_manifest(bad)
    assert errors and "behavior" in errors[-1]
    assert win.data_panel.sessions.names() == ["a", "b"]  # kept


def test_the_latent_view_overlays_every_session_in_one_space(window, qtbot, session_files, tmp_path):
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.loaders import load_dataset

    (a, b), _ = session_files
    data = [(load_dataset(p["neural"]), load_dataset(p["behavior"])) for p in (a, b)]
    model = MMGPVAE(2, 1, 1, epochs=2).fit(
        [n for n, _ in data], [bb for _, bb in data], names=["a", "b"]
    )
    model.save(tmp_path / "two.mmgp")
    win = window
    assert win.files.open_project(tmp_path / "two.mmgp")
    panel = win.latent_panel
    assert panel.all_sessions_box.isVisibleTo(win) and not panel.all_sessions_box.isChecked()
    assert panel._latents["shared"].shape[0] == 8  # the chosen session's trials
    panel.all_sessions_box.setChecked(True)
    assert panel._latents["shared"].shape[0] == 16  # both sessions, one space
    assert set(panel._conditions) == {"a", "b"} and "Sessions" in panel.legend.text()
    panel.all_sessions_box.setChecked(False)
    assert panel._latents["shared"].shape[0] == 8
