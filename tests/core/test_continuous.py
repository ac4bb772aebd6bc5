"""Continuous sessions: latents inferred on half-overlapping windows and stitched."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.continuous import continuous_latents, hann_weights, stitch, window_starts
from mmgpvae_core.data import DataError
from mmgpvae_core.synthetic.simulate import simulate

W = 40


@pytest.fixture(scope="module")
def session(fit_session):
    sim, model = fit_session(60, n_bins=1200, window_bins=W, n_neurons=30, n_keypoints=4, seed=5)
    return sim, model, continuous_latents(model)


def test_half_overlapping_hann_weights_sum_to_one():
    w = hann_weights(W)
    np.testing.assert_allclose(w[: W // 2] + w[W // 2 :], 1.0)
    assert window_starts(100, 40, 20).tolist() == [0, 20, 40, 60]
    assert window_starts(110, 40, 20).tolist() == [0, 20, 40, 60, 70]  # the last one flush
    # Windows cut from one signal stitch back to that signal, and their variances to theirs.
    signal = np.random.default_rng(0).normal(size=(110, 2))
    starts = window_starts(110, 40, 20)
    means = np.stack([signal[s : s + 40] for s in starts])
    m, v = stitch(means, np.full(means.shape, 0.3), starts, 110)
    np.testing.assert_allclose(m, signal)
    np.testing.assert_allclose(v, 0.3)


def test_time_covers_the_session_one_row_per_bin(session):
    sim, model, lat = session
    n = sim.truth["time"].size
    np.testing.assert_allclose(lat["time"], sim.truth["time"])
    assert lat["time"][0] == pytest.approx(0.5 * sim.neural.bin_size_s)
    for name, d in (("shared", 2), ("private_neural", 1), ("private_behavior", 1)):
        assert lat[name].shape == (n, d) and lat[f"{name}_var"].shape == (n, d)
        assert np.all(lat[f"{name}_var"] > 0)


def test_stitched_latents_equal_the_windows_own_away_from_edges(session):
    sim, model, lat = session
    per_window = model.latent_posterior()["shared"]["mean"]  # (windows, W, 2), disjoint
    stitched = lat["shared"].reshape(per_window.shape)
    middle = slice(W // 2 - 2, W // 2 + 2)  # where the neighbours' taper is ~0
    scale = per_window.std()
    err = np.abs(stitched[:, middle] - per_window[:, middle]).max()
    assert err < 0.02 * scale


def test_no_jump_at_window_edges(session):
    sim, model, lat = session
    per_window = model.latent_posterior()["shared"]["mean"].reshape(-1, 2)
    edges = np.arange(W, per_window.shape[0], W)  # first bin of each window but the first

    def steps(z):
        d = np.linalg.norm(np.diff(z, axis=0), axis=1)  # d[i] = |z[i+1] - z[i]|
        inside = np.setdiff1d(np.arange(d.size), edges - 1)
        return d[edges - 1], np.median(d[inside])

    jump_windows, typical = steps(per_window)
    jump_stitched, typical_stitched = steps(lat["shared"])
    # Window by window, the latents jump at every edge; stitched, an edge is like any step.
    assert np.median(jump_windows) > 2 * typical
    assert np.median(jump_stitched) < 1.5 * typical_stitched
    assert np.median(jump_stitched) < 0.5 * np.median(jump_windows)


def test_stitched_latents_are_as_good_at_edges_as_in_the_middle(session):
    sim, model, lat = session
    truth = sim.truth["shared"]
    X = np.column_stack([lat["shared"], np.ones(len(truth))])
    beta, *_ = np.linalg.lstsq(X, truth, rcond=None)
    err = ((X @ beta - truth) ** 2).sum(1)
    pos = np.arange(len(truth)) % W
    near_edge = (pos < 5) | (pos >= W - 5)
    assert err[near_edge].mean() < 1.5 * err[~near_edge].mean()


def test_a_trial_structured_fit_has_no_continuous_latents():
    sim = simulate(n_trials=8, n_time=20, n_neurons=6, n_keypoints=2, seed=2)
    model = MMGPVAE(1, 1, 1, epochs=1)
    model.fit(sim.neural, sim.behavior)
    with pytest.raises(DataError, match="--window"):
        continuous_latents(model)


def test_export_latents_continuous_writes_one_row_per_bin(session, tmp_path, capsys):
    from mmgpvae_core.cli import main

    sim, model, lat = session
    run = tmp_path / "session.mmgp"
    model.save(run)
    out = tmp_path / "lat.npz"
    assert main(["export-latents", str(run), "--out", str(out), "--continuous"]) == 0
    with np.load(out) as z:
        assert z["time"].shape == sim.truth["time"].shape
        np.testing.assert_allclose(z["time"], sim.truth["time"])
        for name, d in (("shared", 2), ("private_neural", 1), ("private_behavior", 1)):
            assert z[name].shape == (z["time"].size, d) == z[f"{name}_var"].shape
        np.testing.assert_allclose(z["shared"], lat["shared"], rtol=1e-4, atol=1e-5)
    nwb = tmp_path / "lat.nwb"
    assert main(["export-latents", str(run), "--out", str(nwb), "--continuous"]) == 0
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(nwb), "r") as io:
        f = io.read()
        ts = f.processing["mmgpvae"]["shared"]
        assert ts.data.shape == (sim.truth["time"].size, 2)
        np.testing.assert_allclose(ts.get_timestamps(), sim.truth["time"], atol=1e-9)


def test_export_latents_continuous_of_a_trial_fit_is_refused(tmp_path, capsys):
    from mmgpvae_core.cli import main

    sim = simulate(n_trials=8, n_time=20, n_neurons=6, n_keypoints=2, seed=2)
    model = MMGPVAE(1, 1, 1, epochs=1)
    model.fit(sim.neural, sim.behavior)
    run = tmp_path / "trials.mmgp"
    model.save(run)
    assert main(["export-latents", str(run), "--out", str(tmp_path / "x.npz"), "--continuous"]) == 2
    err = capsys.readouterr().err
    assert err.count("mmgpvae: error:") == 1 and "--window" in err and "Traceback" not in err
