from __future__ import annotations

import os

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
