from __future__ import annotations

import faulthandler
import os
import sys

import pytest

os.environ.setdefault("QT_API", "pyside6")
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning threads made
# training steps up to 100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread avoids OpenMP oversubscription
    yield
    torch.set_num_threads(n)


def _fit_session(epochs: int, **simulation):
    """(sim, model): a continuous simulated session (``simulate_session(**simulation)``, in
    windows), and a 2 + 1 + 1 model with a Gaussian behavior likelihood fitted to it."""
    from mmgpvae_core.api import MMGPVAE
    from mmgpvae_core.synthetic.simulate import simulate_session

    sim = simulate_session(**simulation)
    model = MMGPVAE(2, 1, 1, epochs=epochs, seed=0, behavior_likelihood="gaussian")
    model.fit(sim.neural, sim.behavior)
    return sim, model


@pytest.fixture(scope="session")
def fit_session():
    """``fit_session(epochs, **simulation)``: a fitted continuous session, (sim, model)."""
    return _fit_session


def _crash_report_file(config):
    """The stream pytest's faulthandler plugin writes crash tracebacks to (a dup of stderr)."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key

        return config.stash[fault_handler_stderr_fd_key]
    except (ImportError, KeyError):
        return sys.__stderr__


@pytest.fixture(autouse=True)
def _crashes_print_a_traceback(request):
    """Re-arm faulthandler after every test: ``ray.init()`` replaces its SIGSEGV handler and
    ``ray.shutdown()`` resets it to the default, after which a crash printed nothing. (Enabling
    an enabled faulthandler installs nothing: disable it first.)"""
    yield
    faulthandler.disable()
    faulthandler.enable(file=_crash_report_file(request.config), all_threads=True)
