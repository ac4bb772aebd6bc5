"""Checkpoints of a fit in progress: a killed fit resumes, a killed write leaves a good file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.project.checkpoint import Checkpointer, FitState, interrupted_fit
from mmgpvae_core.project.file import read_project, write_project
from mmgpvae_core.synthetic.simulate import simulate, write_simulation
from mmgpvae_core.training import EpochReport

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


def _report(epoch: int, n_epochs: int = 100, beta: float = 1.0) -> EpochReport:
    return EpochReport(epoch, n_epochs, -1.0, 0.0, 0.0, 1.0, beta, np.ones(2), 0.1 * epoch)


class _FakeModel:
    def __init__(self) -> None:
        self.saves: list[tuple[str, FitState]] = []

    def save(self, path, *, outcome, fit_state) -> None:
        self.saves.append((outcome.status, fit_state))


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _tmp_files(folder: Path) -> list[Path]:
    return sorted({*folder.glob("*.tmp"), *folder.glob(".*.tmp")})


# ---------------------------------------------------------------------------- Checkpointer
def test_checkpointer_saves_once_per_interval_of_its_clock_and_records_the_fit_in_progress():
    model, clock = _FakeModel(), _Clock()
    ckpt = Checkpointer(model, "run.mmgp", every_s=60.0, clock=clock)  # type: ignore[arg-type]
    assert ckpt.save() is False  # no epoch yet: nothing in progress to save
    clock.t += 59.0
    assert ckpt(_report(1, beta=0.1)) is False
    clock.t += 1.0
    assert ckpt(_report(2, beta=0.2)) is True
    clock.t += 30.0
    assert ckpt(_report(3, beta=0.3)) is False
    clock.t += 30.0
    assert ckpt(_report(4, beta=1.0)) is True
    assert [s for s, _ in model.saves] == ["running", "running"]
    # Warm-up over 10 epochs (beta = epoch / 10) of a fit from epoch 0 to 100; 0 once it is over.
    assert model.saves[0][1] == FitState(2, 0, 100, 10)
    assert model.saves[1][1] == FitState(4, 0, 100, 0)
    assert ckpt.save("interrupted") is True and model.saves[-1][0] == "interrupted"
    # A second fit with the same Checkpointer is a new session (no warm-up: beta 1).
    clock.t += 60.0
    assert ckpt(_report(5, n_epochs=20)) is True
    assert model.saves[-1][1] == FitState(5, 4, 20, 0)


def test_checkpoints_that_take_long_to_write_are_written_less_often():
    """A save that takes 30 s (large data): the next one waits 4 × 30 s, not 60 s, so at most
    a fifth of the fit goes to checkpoints."""
    clock = _Clock()

    class Slow(_FakeModel):
        def save(self, path, *, outcome, fit_state) -> None:
            clock.t += 30.0
            super().save(path, outcome=outcome, fit_state=fit_state)

    model = Slow()
    ckpt = Checkpointer(model, "run.mmgp", every_s=60.0, clock=clock)  # type: ignore[arg-type]
    clock.t += 60.0
    assert ckpt(_report(1)) is True
    clock.t += 60.0
    assert ckpt(_report(2)) is False
    clock.t += 59.0
    assert ckpt(_report(3)) is False
    clock.t += 1.0
    assert ckpt(_report(4)) is True and len(model.saves) == 2


def test_checkpointer_with_no_interval_saves_only_when_asked():
    model, clock = _FakeModel(), _Clock()
    ckpt = Checkpointer(model, "run.mmgp", every_s=0, clock=clock)  # type: ignore[arg-type]
    for e in range(1, 5):
        clock.t += 1000.0
        assert ckpt(_report(e)) is False
    assert ckpt.save() is True and model.saves[0][1].epoch == 4


def test_checkpointer_continuing_an_interrupted_fit_keeps_its_start_and_warmup():
    model, clock = _FakeModel(), _Clock()
    resumes = FitState(epoch=30, session_start_epoch=0, target_epoch=500, warmup_epochs=50)
    ckpt = Checkpointer(model, "r", 1.0, clock, resumes=resumes)  # type: ignore[arg-type]
    assert ckpt.state == resumes  # before its first epoch it would save what it continues
    clock.t += 1.0
    assert ckpt(_report(31, n_epochs=500, beta=31 / 50))
    assert model.saves[-1][1] == FitState(31, 0, 500, 50)


def test_checkpointer_reports_write_errors_and_training_goes_on():
    class Full(_FakeModel):
        def save(self, *a, **k):
            raise OSError(28, "No space left on device")

    errors: list[OSError] = []
    clock = _Clock()
    ckpt = Checkpointer(Full(), "r", 1.0, clock, on_error=errors.append)  # type: ignore[arg-type]
    clock.t += 1.0
    assert ckpt(_report(1)) is False and len(errors) == 1
    assert ckpt(_report(2)) is False and len(errors) == 1  # the next try waits an interval
    strict = Checkpointer(Full(), "r", 1.0, clock)  # type: ignore[arg-type]
    clock.t += 1.0
    with pytest.raises(OSError):
        strict(_report(3))


def test_fit_continues_the_kl_warmup_of_an_interrupted_fit(tiny_sim):
    m = MMGPVAE(1, 1, 1, epochs=2, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    betas: list[float] = []
    m.partial_fit(m.neural, m.behavior, epochs=3, warmup=(0, 8), on_epoch=lambda r: betas.append(r.beta))
    assert betas == [3 / 8, 4 / 8, 5 / 8]
    betas.clear()
    m.partial_fit(m.neural, m.behavior, epochs=1, on_epoch=lambda r: betas.append(r.beta))
    assert betas == [1.0]  # a plain resume starts at full KL weight, as before


# ---------------------------------------------------------------------------- atomic writes
_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from mmgpvae_core.project.file import write_project

    class Stall:  # reached while the temporary file is half written
        def __array__(self, dtype=None, copy=None):
            print("mid-write", flush=True)
            time.sleep(60)

    target, stall = sys.argv[1], sys.argv[2] == "stall"
    big = np.random.default_rng(0).normal(size=400_000)
    for n in range(10**6):
        state = {"w": big + n}
        if stall and n == 2:
            state["z"] = Stall()
        write_project(target, {"config": {}, "state": state, "outcome": {"generation": n}})
        print(f"wrote {n}", flush=True)
    """
)


def _writer(target: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), mode], stdout=subprocess.PIPE, text=True
    )


def test_a_kill_during_a_write_leaves_the_previous_project_and_the_next_write_cleans_up(tmp_path):
    target = tmp_path / "run.mmgp"
    proc = _writer(target, "stall")
    lines = [proc.stdout.readline().strip() for _ in range(3)]  # type: ignore[union-attr]
    assert lines == ["wrote 0", "wrote 1", "mid-write"]
    stale = _tmp_files(tmp_path)
    assert [p.name.split(".")[1:4] for p in stale] == [["run", "mmgp", str(proc.pid)]]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_project(target)["outcome"]["generation"] == 1  # the last complete write
    assert _tmp_files(tmp_path) == stale  # a kill cleans nothing up ...
    alive = tmp_path / f".run.mmgp.{os.getppid()}.live.tmp"  # ... a live writer's file stays
    alive.write_bytes(b"")
    write_project(target, {"config": {}, "outcome": {"generation": 3}})
    assert _tmp_files(tmp_path) == [alive]  # ... the next write removes the dead one's
    assert read_project(target)["outcome"]["generation"] == 3


def test_kills_at_random_times_always_leave_a_readable_project(tmp_path):
    target = tmp_path / "run.mmgp"
    rng = np.random.default_rng(0)
    for _ in range(3):
        proc = _writer(target, "loop")
        assert proc.stdout.readline().startswith("wrote")  # type: ignore[union-attr]
        time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        p = read_project(target)
        assert p["state"]["w"].shape == (400_000,)
    write_project(target, {"config": {}, "outcome": {"generation": -1}})
    assert _tmp_files(tmp_path) == []


# ---------------------------------------------------------------------------- the CLI
def _wait_for_checkpoints(
    run: Path, proc: subprocess.Popen, log: Path, n: int, timeout: float = 60.0
) -> list[int]:
    """Epochs of the checkpoints seen until the checkpoint has been rewritten ``n`` times."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seen) <= n:
        assert proc.poll() is None, f"the fit ended before it was killed: {log.read_text()}"
        assert time.monotonic() < deadline, f"checkpoints seen: {seen}"
        if run.exists():
            state = interrupted_fit(run)
            assert state is not None
            if not seen or state.epoch > seen[-1]:
                seen.append(state.epoch)
        time.sleep(0.05)
    return seen


def test_a_fit_killed_after_some_checkpoints_resumes_from_the_last_one(tmp_path):
    sim = simulate(n_trials=8, n_time=24, n_neurons=8, n_keypoints=2, seed=5)
    paths = write_simulation(tmp_path / "data", sim)
    run = tmp_path / "run.mmgp"
    log_path = tmp_path / "fit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mmgpvae_core.cli", "fit",
            "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"]),
            "--shared", "1", "--out", str(run), "--epochs", "100000", "--batch-size", "4",
            "--checkpoint-every", "0.2", "--device", "cpu", "--quiet",
        ],
        stdout=log, stderr=log, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        seen = _wait_for_checkpoints(run, proc, log_path, n=2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert seen == sorted(set(seen)) and len(seen) >= 3
    # What a kill in the middle of a write leaves behind (the writer's pid is gone now).
    (tmp_path / f".run.mmgp.{proc.pid}.killed.tmp").write_bytes(b"half a project")

    checkpoint = MMGPVAE.load(run, device="cpu")
    state = checkpoint.fit_state
    e = len(checkpoint.history)
    assert state == FitState(e, 0, 100_000, 10_000)  # still warming up: 10% of 100000 epochs
    assert checkpoint.outcome is not None and checkpoint.outcome.status == "running"
    assert checkpoint.history.epoch == list(range(1, e + 1))

    torch.manual_seed(0)
    assert main(["fit", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert _tmp_files(tmp_path) == []
    resumed = MMGPVAE.load(run, device="cpu")
    assert resumed.history.epoch == list(range(1, e + 4))
    assert resumed.history.elbo[:e] == checkpoint.history.elbo
    assert resumed.fit_state is None and interrupted_fit(run) is None
    assert resumed.outcome is not None and resumed.outcome.status in ("max_epochs", "converged")
    # The resume trained from the checkpoint's weights and optimizer, with the warm-up going on:
    # the same three epochs from the checkpoint give the same weights.
    torch.manual_seed(0)
    checkpoint.partial_fit(checkpoint.neural, checkpoint.behavior, epochs=3, warmup=state.warmup)
    want, got = checkpoint.module.state_dict(), resumed.module.state_dict()
    for k in want:
        torch.testing.assert_close(got[k], want[k], msg=k)


def test_an_interrupted_fit_resumed_without_epochs_goes_on_to_its_target(tmp_path, tiny_sim):
    run = tmp_path / "run.mmgp"
    m = MMGPVAE(1, 1, 1, epochs=9, seed=0, device="cpu", patience=1000)
    ckpt = Checkpointer(m, run, every_s=0)

    def killed_after_4(r: EpochReport) -> None:
        ckpt(r)
        if r.epoch == 4:
            ckpt.save()
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this is written

    with pytest.raises(KeyboardInterrupt):
        m.fit(tiny_sim.neural, tiny_sim.behavior, on_epoch=killed_after_4)
    assert interrupted_fit(run) == FitState(4, 0, 9, 0)
    assert main(["fit", "--resume", str(run), "--quiet", "--checkpoint-every", "0"]) == 0
    p = read_project(run)
    assert p["history"]["epoch"].tolist() == list(range(1, 10)) and p["fit_state"] is None
    assert p["outcome"]["status"] == "max_epochs"


def test_an_unwritable_out_keeps_the_fit_in_a_rescue_file(tmp_path, capsys, monkeypatch):
    import tempfile

    from mmgpvae_core import cli
    from mmgpvae_core.synthetic.simulate import simulate, write_simulation

    paths = write_simulation(tmp_path / "sim", simulate(n_trials=6, n_time=12, n_neurons=5,
                                                       n_keypoints=2, seed=1))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "not_a_folder"
    out.write_text("a file where a folder should be")
    code = cli.main([
        "fit", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"]),
        "--epochs", "2", "--checkpoint-every", "0", "--quiet", "--out", str(out / "run.mmgp"),
    ])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    rescued = tmp_path / "run.rescued.mmgp"
    assert str(rescued) in err and rescued.exists()
