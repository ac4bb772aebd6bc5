"""The app's training worker on CUDA (``pytest -m gpu``; skipped without a CUDA device)."""

from __future__ import annotations

import pytest
import torch

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.synthetic.simulate import simulate

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_the_training_worker_fits_on_cuda(qtbot):
    from mmgpvae_gui.worker import TrainingWorker

    data = simulate(n_trials=20, n_time=40, n_neurons=30, seed=1)
    model = MMGPVAE(2, 1, 1, epochs=3, device="cuda")
    worker = TrainingWorker(model, data.neural, data.behavior, 3)
    outcomes, failures = [], []
    worker.succeeded.connect(outcomes.append)
    worker.failed.connect(failures.append)
    with qtbot.waitSignal(worker.finished, timeout=120000):
        worker.start()
    assert not failures and outcomes and outcomes[0].status == "max_epochs"
    assert next(model.module_.parameters()).device.type == "cuda"
