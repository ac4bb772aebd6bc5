"""Every bad input answers exit code 2 (1 for a training failure) and one message naming the file,
the field and what was expected; never a traceback. The files come from ``tests/badfiles.py``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from badfiles import BadCase, shared_corpus

from mmgpvae_core.cli import main

CASES = shared_corpus()
LOAD_CASES = [c for c in CASES if c.when == "load"]
#: the library churn a reader may warn about is not a problem of the file
_TOLERATED = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _error_line(err: str, case: BadCase) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("mmgpvae: error:")]
    assert len(lines) == 1, err
    line = lines[0]
    assert case.named in line, line
    assert case.expect.lower() in line.lower(), line
    return line


def _run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    noisy = [str(w.message) for w in caught if not issubclass(w.category, _TOLERATED)]
    assert not noisy, noisy  # e.g. a ComplexWarning: something was silently changed
    return code, capsys.readouterr().err


def test_the_corpus_covers_every_kind_once():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 90


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fit_refuses_a_bad_input_with_one_clear_line(case, tmp_path, capsys):
    out = tmp_path / "run.mmgp"
    code, err = _run_in_process(case.fit_argv(out), capsys)
    assert code == case.code, err
    _error_line(err, case)
    assert not out.exists()


@pytest.mark.parametrize("case", LOAD_CASES, ids=str)
def test_inspect_refuses_a_bad_file_with_one_clear_line(case, capsys):
    code, err = _run_in_process(case.inspect_argv(), capsys)
    assert code == 2, err
    _error_line(err, case)


def _case(name: str) -> BadCase:
    return next(c for c in CASES if c.name == name)


@pytest.mark.parametrize(
    "name", ["empty.npz", "empty.npy", "empty.mat", "pickled.npz", "huge.h5", "complex.npz"]
)
def test_a_real_process_prints_no_traceback(name):
    """The known failures, through a real interpreter: stderr is the one error line."""
    case = _case(name)
    r = subprocess.run(
        [sys.executable, "-m", "mmgpvae_core.cli", *case.inspect_argv()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    _error_line(r.stderr, case)
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""


def test_a_real_fit_refuses_values_that_overflow_float32(tmp_path):
    case = _case("huge_values.npz")
    r = subprocess.run(
        [sys.executable, "-m", "mmgpvae_core.cli", *case.fit_argv(tmp_path / "run.mmgp")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    line = _error_line(r.stderr, case)
    assert "1e+308" in line
    assert not (tmp_path / "run.mmgp").exists()


def test_a_reader_that_closes_early_ends_the_output_quietly(tmp_path):
    """``mmgpvae inspect FILE | head``: no BrokenPipeError traceback, exit 141 (or 0)."""
    path = tmp_path / "many_conditions.npz"
    n = 20000  # one JSON line per condition label: far more than a pipe buffer holds
    np.savez(path, data=np.ones((n, 2, 1)), conditions=np.arange(n))
    p = subprocess.Popen(
        [sys.executable, "-m", "mmgpvae_core.cli", "inspect", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = p.stdout.read(200)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.stderr.close()
    code = p.wait(timeout=60)
    assert head.startswith(b"{")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code in (0, 141)


# ---------------------------------------------------------------------------- training failures
def _good_pair():
    folder = CASES[0].neural.parent
    return folder / "good_neural.npz", folder / "good_behavior.npz"


def _cholesky_fails_after(monkeypatch, calls: int) -> None:
    real = torch.linalg.cholesky
    count = {"n": 0}

    def cholesky(a, *args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise torch.linalg.LinAlgError(
                "linalg.cholesky: The factorization could not be completed because the input "
                "is not positive-definite (the leading minor of order 1 is not positive-definite)."
            )
        return real(a, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "cholesky", cholesky)


def test_a_failed_factorisation_ends_the_fit_with_the_last_good_state(monkeypatch):
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.loaders import load_pair
    from mmgpvae_core.training import TrainingFailed

    neural, behavior = load_pair(*_good_pair())
    model = MMGPVAE(1, 1, 1, epochs=1, device="cpu", seed=0)
    model.fit(neural, behavior)
    good = {k: v.clone() for k, v in model.module.state_dict().items()}
    _cholesky_fails_after(monkeypatch, 0)
    with pytest.raises(TrainingFailed, match="numerical error.*LinAlgError.*last good state"):
        model.partial_fit(neural, behavior, epochs=2)
    assert len(model.history) == 1
    for k, v in model.module.state_dict().items():
        torch.testing.assert_close(v, good[k])


def test_the_cli_answers_1_for_a_training_failure(monkeypatch, tmp_path, capsys):
    neural, behavior = _good_pair()
    _cholesky_fails_after(monkeypatch, 0)
    out = tmp_path / "run.mmgp"
    argv = ["fit", "--neural", str(neural), "--behavior", str(behavior), "--out", str(out)]
    code = main([*argv, "--epochs", "2", "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    assert "training failed" in err and "LinAlgError" in err


# ---------------------------------------------------------------------------- empty latent groups
@pytest.mark.parametrize("split", [(0, 1, 0), (2, 1, 0), (1, 0, 1), (0, 0, 2)])
def test_empty_latent_groups_initialise_without_warnings(split):
    """A sweep over zero-dimensional subspaces printed torch's "Initializing zero-element
    tensors is a no-op" for every fit."""
    from mmgpvae_core.api import MMGPVAE

    rng = np.random.default_rng(0)
    neural = rng.poisson(2.0, size=(4, 12, 3)).astype(float)
    behavior = rng.normal(size=(4, 12, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MMGPVAE(*split, epochs=1, device="cpu").fit(neural, behavior)
    assert not [w for w in caught if "zero-element" in str(w.message)]


# ---------------------------------------------------------------------------- the shared checks
def test_an_hdf5_array_larger_than_free_memory_is_refused_before_reading(tmp_path, monkeypatch):
    import h5py

    from mmgpvae_core.data import DataError
    from mmgpvae_core.loaders import checks, load_dataset

    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros((4, 64, 32))  # 64 KiB
    monkeypatch.setattr(checks, "available_memory", lambda: 16 * 1024)
    with pytest.raises(DataError) as e:
        load_dataset(path)
    assert str(e.value) == (
        f"{path}: field 'data': shape (4, 64, 32) of float64 needs 64.0 KiB of memory, more than "
        "the 16.0 KiB available; expected an array that fits in memory (split the file, or keep "
        "fewer trials, channels or samples)"
    )
    monkeypatch.setattr(checks, "available_memory", lambda: None)  # unknown: read it
    assert load_dataset(path).data.shape == (4, 64, 32)


def test_an_unforeseen_reader_failure_still_names_the_file(tmp_path, monkeypatch):
    import mmgpvae_core.loaders as loaders
    from mmgpvae_core.data import DataError

    path = tmp_path / "odd.npz"
    np.savez(path, data=np.ones((2, 3, 4)))

    def broken(*args, **kwargs):
        raise IndexError("index 3 is out of bounds")

    monkeypatch.setattr(loaders, "read_generic", broken)
    with pytest.raises(
        DataError,
        match=r"odd\.npz: field '-': could not be read as a generic "
        r"file \(IndexError: index 3",
    ):
        loaders.load_dataset(path)

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.00 TiB")

    monkeypatch.setattr(loaders, "read_generic", no_memory)
    with pytest.raises(DataError, match=r"odd\.npz: field '-': does not fit in memory"):
        loaders.load_dataset(path)
