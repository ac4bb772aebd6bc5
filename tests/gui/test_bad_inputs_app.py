"""Every bad file of the corpus (``tests/badfiles.py``), opened in the app: one error dialog that
names the file and what was expected, and the data loaded before it still there."""

from __future__ import annotations

import torch
from badfiles import shared_corpus

LOAD_CASES = [c for c in shared_corpus() if c.when == "load"]


def test_every_bad_file_shows_one_dialog_and_keeps_the_loaded_data(loaded, monkeypatch):
    win = loaded
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(win, "_show_error", lambda title, text: shown.append((title, text)))
    neural, behavior = win.session.neural, win.session.behavior
    summaries = {m: win.data_panel.summary_text(m) for m in ("neural", "behavior")}
    problems = []
    for case in LOAD_CASES:
        shown.clear()
        if win.open_data_file(case.path, case.bad):
            problems.append(f"{case.name}: accepted")
            win.set_datasets(neural, behavior)
            continue
        texts = [text for _, text in shown]
        if len(texts) != 1:
            problems.append(f"{case.name}: {len(texts)} dialogs")
            continue
        text = texts[0]
        if case.named not in text or case.expect.lower() not in text.lower():
            problems.append(f"{case.name}: {text}")
        if "Traceback" in text:
            problems.append(f"{case.name}: a traceback in the dialog")
        if win.session.neural is not neural or win.session.behavior is not behavior:
            problems.append(f"{case.name}: the loaded data changed")
            win.set_datasets(neural, behavior)
    assert not problems, "\n".join(problems)
    assert {m: win.data_panel.summary_text(m) for m in ("neural", "behavior")} == summaries
    assert win.training_panel.train_button.isEnabled()


def test_the_dialog_itself_appears_for_an_empty_file(loaded, qtbot):
    case = next(c for c in LOAD_CASES if c.name == "empty.npz")
    with qtbot.waitSignal(loaded.error_shown, timeout=30000) as blocker:
        assert not loaded.open_data_file(case.path, "neural")
    assert "empty.npz" in blocker.args[0] and "empty file" in blocker.args[0]
    assert loaded._error_box.isVisible() and "empty.npz" in loaded._error_box.text()
    assert loaded.data_panel.summary_text("neural")["channels"] == "60"


def test_a_failed_factorisation_fails_the_fit_with_a_message(loaded, qtbot, monkeypatch, train):
    win = loaded
    assert train(qtbot, win, 1) == "max_epochs"
    good = list(win.model.history.elbo)

    def cholesky(*args, **kwargs):
        raise torch.linalg.LinAlgError("linalg.cholesky: the input is not positive-definite")

    monkeypatch.setattr(torch.linalg, "cholesky", cholesky)
    assert train(qtbot, win, 2) == "failed"
    assert "LinAlgError" in win.last_error and "last good state" in win.last_error
    assert list(win.model.history.elbo) == good
    assert win.training_panel.train_button.isEnabled()
