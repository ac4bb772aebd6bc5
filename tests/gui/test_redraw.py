"""The redraw queue: one view per event-loop turn, newest state, bounded rate."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from mmgpvae_gui.redraw import RedrawQueue


def _turn_counter(qtbot):
    """A 0-ms timer counts event-loop turns (it fires once per turn)."""
    turns = [0]
    t = QTimer()
    t.setInterval(0)
    t.timeout.connect(lambda: turns.__setitem__(0, turns[0] + 1))
    t.start()
    return turns, t


def test_jobs_run_in_order_one_per_turn(qtbot):
    q = RedrawQueue(gap_ms=5)
    turns, timer = _turn_counter(qtbot)
    ran: list[tuple[str, int]] = []
    for key in ("a", "b", "c"):
        q.request(key, lambda k=key: ran.append((k, turns[0])))
    qtbot.waitUntil(lambda: len(ran) == 3, timeout=30000)
    timer.stop()
    assert [k for k, _ in ran] == ["a", "b", "c"]
    assert ran[0][1] < ran[1][1] < ran[2][1]  # the event loop turned between two jobs
    assert q.pending() == [] and q.jobs_run == 3


def test_a_waiting_job_keeps_its_place_and_draws_the_newest_state(qtbot):
    q = RedrawQueue(gap_ms=5)
    ran: list[str] = []
    q.request("a", lambda: ran.append("a1"))
    q.request("b", lambda: ran.append("b"))
    q.request("a", lambda: ran.append("a2"))  # replaces a1, stays first
    assert q.pending() == ["a", "b"]
    qtbot.waitUntil(lambda: len(ran) == 2, timeout=30000)
    assert ran == ["a2", "b"]


def test_a_view_is_not_redrawn_more_often_than_its_minimum_interval(qtbot):
    q = RedrawQueue(gap_ms=1)
    stamps: list[float] = []

    def job():
        stamps.append(time.perf_counter())
        if len(stamps) < 4:
            q.request("v", job, min_interval_ms=60)

    q.request("v", job, min_interval_ms=60)
    qtbot.waitUntil(lambda: len(stamps) == 4, timeout=30000)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(gaps) >= 0.055


def test_flush_runs_everything_now_and_cancel_drops_a_job(qtbot):
    q = RedrawQueue()
    ran: list[str] = []
    for key in ("a", "b", "c"):
        q.request(key, lambda k=key: ran.append(k))
    q.cancel("b")
    q.flush()
    assert ran == ["a", "c"] and q.pending() == []


def test_a_failing_job_does_not_stop_the_queue(qtbot):
    q = RedrawQueue(gap_ms=1)
    ran: list[str] = []

    def bad():
        raise RuntimeError("boom")

    q.request("bad", bad)
    q.request("good", lambda: ran.append("good"))
    with qtbot.captureExceptions() as errors:
        qtbot.waitUntil(lambda: ran == ["good"], timeout=30000)
    assert len(errors) == 1 and "boom" in str(errors[0][1])
