"""The app's state without Qt (``mmgpvae_gui/session.py``): load data with its checks, fit, save,
reopen in one read, reset, and what the window may offer at each step. No QApplication."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.data import DataError
from mmgpvae_core.loaders.generic import save_generic
from mmgpvae_gui.session import Session, device_usable, saved_device


@pytest.fixture
def files(tiny_sim, tmp_path):
    keep = np.arange(8)
    paths = {"neural": tmp_path / "neural.h5", "behavior": tmp_path / "behavior.h5"}
    save_generic(paths["neural"], tiny_sim.neural.subset(keep))
    save_generic(paths["behavior"], tiny_sim.behavior.subset(keep))
    return paths


def test_importing_the_session_loads_no_qt():
    code = "import sys, mmgpvae_gui.session; print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_empty_session_offers_only_loading():
    s = Session()
    e = s.enabled()
    assert (e.state, e.edit, e.save, e.model_locked) == ("empty", True, False, False)
    assert s.data_summary() == "no data" and s.model_summary() == "no model"
    assert s.why_not_save() == ("Nothing to save", "train a model first")
    assert not s.unsaved and not s.dirty


def test_loading_checks_the_pair_and_keeps_the_previous_data_on_error(files, tmp_path):
    s = Session()
    assert s.load_data(files["neural"], "neural") == []
    assert s.enabled().state == "ready"
    neural = s.neural
    assert s.load_data(files["behavior"], "behavior") == []
    assert s.data_summary() == "8 trials · neural 20 ch + behavior 8 ch"
    bad = tmp_path / "short.npy"
    np.save(bad, np.zeros((3, 40, 2)))  # 3 trials: does not pair with 8
    with pytest.raises(DataError):
        s.read_data(bad, "behavior")
    assert s.neural is neural and s.behavior.n_trials == 8
    with pytest.raises(ValueError):
        s.read_data(files["neural"], "spikes")


def test_a_fit_save_reopen_and_reset(files, tmp_path):
    s = Session()
    s.load_data(files["neural"], "neural")
    s.load_data(files["behavior"], "behavior")
    model = s.begin_fit(MMGPVAE(shared=1, private_neural=1, private_behavior=1, batch_size=8), 2)
    assert s.is_training and s.enabled().state == "running" and not s.enabled().edit
    assert s.busy_reason("loading data") == "stop training before loading data"
    s.request_pause(True)
    assert s.enabled().save  # a save can be asked for; it waits for the worker to block
    assert s.why_not_save()[0] == "Nothing to save"  # not fitted yet: no epoch has run
    s.worker_paused(True)
    s.request_pause(False)
    assert not s.fit.worker_paused
    s.request_stop()
    assert s.enabled().state == "stopping"
    model.fit(s.neural, s.behavior, epochs=2)  # what the worker does in its thread
    s.fit.running = True  # (as if still in the fit: paused, a save waits for the pause)
    s.request_pause(True)
    assert s.why_not_save() == ("Busy", "wait for the pause (after this epoch) before saving")
    s.worker_paused(True)
    assert s.why_not_save() is None and s.why_not_export_latents() is None
    s.request_stop()
    s.set_outcome("max_epochs")
    s.end_fit()
    assert not s.is_training and s.fit.outcome == "max_epochs"
    assert s.unsaved and s.dirty and s.model_summary() == "model: 2 epochs trained"

    path = s.save(tmp_path / "run.mmgp")
    assert s.project_path == path and not s.unsaved and not s.dirty

    other = Session()
    opened = other.open_project(path)
    assert other.model is opened.model and len(other.model.history) == 2
    assert other.neural.n_trials == 8 and other.behavior is not None
    assert other.last_snapshot is opened.snapshot and opened.snapshot.epoch == 2
    assert set(opened.snapshot.latents) == {"shared", "private_neural", "private_behavior"}
    np.testing.assert_allclose(
        opened.snapshot.latents["shared"],
        model.latent_posterior()["shared"]["mean"],
        atol=1e-4,
    )
    assert not other.unsaved and other.enabled().model_locked
    other.forget_project_path()  # a restored autosave: Save must ask where
    assert other.unsaved

    s.reset_model()
    assert s.model is None and s.project_path is None and s.neural is not None
    s.set_datasets(None, None)
    assert s.enabled().state == "empty"


def test_no_data_and_a_running_fit_refuse_what_they_must():
    s = Session()
    with pytest.raises(RuntimeError):
        s.begin_fit(MMGPVAE(), 1)
    s.neural = object()  # any data will do for the state machine
    s.begin_fit(MMGPVAE(), 1)
    with pytest.raises(RuntimeError):
        s.reset_model()
    with pytest.raises(RuntimeError):
        s.begin_fit(None, 1)


def test_a_project_saved_on_a_missing_gpu_opens_on_the_cpu(tiny_sim, tmp_path, monkeypatch):
    import h5py

    keep = np.arange(8)
    model = MMGPVAE(shared=1, private_neural=0, private_behavior=0, epochs=1, device="cpu")
    model.fit(tiny_sim.neural.subset(keep), tiny_sim.behavior.subset(keep))
    path = tmp_path / "gpu.mmgp"
    model.save(path)
    missing = "cuda:99"  # no machine here has a hundredth GPU
    if device_usable(missing):
        pytest.skip("this machine has the device")
    with h5py.File(path, "r+") as f:  # as if trained on a GPU elsewhere
        train = json.loads(f["config"].attrs["train"])
        f["config"].attrs["train"] = json.dumps({**train, "device": missing})
    assert saved_device(path) == missing and device_usable("cpu")
    opened = Session.read_project(path)
    assert opened.model.device == "cpu" and len(opened.model.history) == 1

    def broken(*args, **kwargs):  # a bug inside the reader is not taken for a missing device
        raise AssertionError("a bug")

    monkeypatch.setattr(MMGPVAE, "load", broken)
    with pytest.raises(AssertionError, match="a bug"):
        Session.read_project(path)


def test_the_session_tells_its_subscribers_what_changed(tiny_sim):
    s = Session()
    heard: list[str] = []
    s.subscribe(heard.append)
    s.set_datasets(tiny_sim.neural, tiny_sim.behavior)
    assert heard[-1] == "data" and "model" in heard  # new data drop the model
    heard.clear()
    s.begin_fit(MMGPVAE(shared=1, private_neural=0, private_behavior=0), epochs=1)
    s.request_pause(True)
    s.request_stop()
    s.end_fit("cancelled")
    assert heard == ["fit"] * 4
    heard.clear()
    s.job_started("sweep")
    assert heard == ["jobs"] and s.running_jobs == ["sweep"] and not s.enabled().sweep
    s.job_ended("sweep")
    assert s.running_jobs == [] and s.enabled().sweep
    s.unsubscribe(heard.append)
    s.reset_model()
    assert heard == ["jobs", "jobs"]


def test_latent_names_use_the_apps_words_for_the_subspaces(tiny_sim):
    from mmgpvae_gui.subspaces import LETTERS, TITLES

    s = Session()
    s.set_datasets(tiny_sim.neural, None)  # no behavior: no private behavior latents
    names = s.latent_names({"shared": 1, "private_neural": 2, "private_behavior": 1})
    assert names == ["shared 1", "private neural 1", "private neural 2"]
    assert "".join(LETTERS.values()) == "SAB" and TITLES["private_behavior"] == "Private behavior"
