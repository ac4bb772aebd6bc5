from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_API", "pyside6")


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
