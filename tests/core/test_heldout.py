"""Held-out evaluation: splits, co-smoothing, cross-modal prediction, bits/spike."""

from __future__ import annotations

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.evaluation.heldout import (
    PREDICTIVE_TERMS,
    bits_per_spike,
    blocked_kfold_splits,
    blocked_test_split,
    channel_groups,
    cosmooth,
    evaluate,
    kfold_splits,
    predict,
    r2_per_channel,
    session_folds,
    session_test_split,
    train_val_split,
)
from mmgpvae_core.synthetic.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(n_trials=30, n_time=40, n_neurons=20, n_keypoints=4, seed=3)


@pytest.fixture(scope="module")
def fitted(sim):
    train, val = train_val_split(sim.neural.n_trials, 0.3, sim.neural.conditions, seed=0)
    model = MMGPVAE(2, 1, 1, seed=0, device="cpu")
    model.fit(sim.neural.subset(train), sim.behavior.subset(train), epochs=40)
    return model, train, val


def test_kfold_is_a_seeded_stratified_partition():
    cond = np.array(["a"] * 12 + ["b"] * 6)
    folds = kfold_splits(18, 3, cond, seed=1)
    val = np.concatenate([v for _, v in folds])
    assert sorted(val.tolist()) == list(range(18))  # every trial validated once
    for train, v in folds:
        assert not set(train) & set(v)
        assert (cond[v] == "a").sum() == 4 and (cond[v] == "b").sum() == 2
    again = kfold_splits(18, 3, cond, seed=1)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    other = kfold_splits(18, 3, cond, seed=2)
    assert any((a[1] != b[1]).any() for a, b in zip(folds, other))
    with pytest.raises(ValueError):
        kfold_splits(5, 1)


def test_train_val_split_stratified():
    cond = np.repeat(["x", "y", "z"], 8)
    train, val = train_val_split(24, 0.25, cond, seed=0)
    assert len(val) == 6 and len(train) == 18 and not set(train) & set(val)
    assert all((cond[val] == c).sum() == 2 for c in "xyz")


def test_blocked_folds_keep_validation_windows_away_from_training():
    folds = blocked_kfold_splits(20, 4, gap=1)
    val = np.concatenate([v for _, v in folds])
    assert sorted(val.tolist()) == list(range(20))  # every window validated once
    for train, v in folds:
        assert (np.diff(v) == 1).all()  # one contiguous block
        # no validation window touches a training window: one unused window on each side
        assert np.abs(train[:, None] - v[None, :]).min() >= 2
        assert len(train) + len(v) == 20 - (v[0] > 0) - (v[-1] < 19)
    train, v = blocked_test_split(20, 0.2, gap=1)
    assert v.tolist() == [16, 17, 18, 19] and train.tolist() == list(range(15))
    with pytest.raises(ValueError):
        blocked_kfold_splits(3, 3, gap=1)  # the middle block leaves no training window


def test_session_folds_are_blocked_for_windows_and_stratified_for_trials():
    sess = simulate(n_trials=12, n_time=10, n_neurons=3, n_keypoints=1, seed=0).neural
    assert session_folds(sess, 3).kind == "stratified"
    sess.preprocessing["trials"] = {"source": "windows", "window_s": 1.0}
    folds = session_folds(sess, 3)
    assert folds.kind == "blocked" and len(folds) == 3 and "blocked" in folds.describe()
    test = session_test_split(sess, 0.25)
    assert test.kind == "blocked" and list(test)[0][1].tolist() == [9, 10, 11]


def test_channel_groups_cover_each_channel_once():
    groups = channel_groups(10, 4, seed=0)
    assert sorted(np.concatenate(groups).tolist()) == list(range(10))


def test_metrics_on_known_values():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(5, 10, 3))
    assert np.allclose(r2_per_channel(y, y), 1.0)
    assert np.all(r2_per_channel(y, np.zeros_like(y) + y.mean((0, 1))) <= 1e-12)
    rates = np.full((4, 50, 2), 2.0)
    counts = rng.poisson(rates).astype(float)
    mean_rate = np.broadcast_to(counts.mean((0, 1)), counts.shape)
    assert bits_per_spike(counts, mean_rate) == pytest.approx(0.0, abs=1e-9)
    rates2 = rng.uniform(0.5, 4, (4, 50, 2))
    counts2 = rng.poisson(rates2).astype(float)
    assert bits_per_spike(counts2, rates2) > 0.0  # the true rates beat the mean rate


def test_masking_a_neuron_hides_it(fitted, sim):
    """Co-smoothing must not see the neuron it predicts: its prediction is unchanged when the
    neuron's own counts are scrambled."""
    model, _, val = fitted
    y = sim.neural.subset(val).data
    b = sim.behavior.subset(val).data
    a = cosmooth(model, "neural", y, b, n_groups=4, seed=0)
    y2 = y.copy()
    y2[..., 0] = y2[::-1, ::-1, 0] + 3
    a2 = cosmooth(model, "neural", y2, b, n_groups=4, seed=0)
    assert np.allclose(a["mean"][..., 0], a2["mean"][..., 0])


def test_cross_modal_prediction_from_either_modality(fitted, sim):
    model, _, val = fitted
    yn, yb = sim.neural.subset(val).data, sim.behavior.subset(val).data
    from_n = predict(model, yn, None, targets={"behavior": yb})
    from_b = predict(model, None, yb, targets={"neural": yn})
    assert from_n["behavior"]["mean"].shape == yb.shape
    assert from_b["neural"]["mean"].shape == yn.shape
    assert np.isfinite(from_n["behavior"]["log_prob"]).all()
    assert (from_b["neural"]["mean"] > 0).all()


def test_evaluate_reports_everything_and_beats_chance(fitted, sim):
    model, _, val = fitted
    ev = evaluate(model, sim.neural.subset(val), sim.behavior.subset(val))
    for k in (
        *PREDICTIVE_TERMS,
        "cosmooth_bps",
        "r2_behavior_from_neural",
        "bps_neural_from_behavior",
        "heldout_elbo",
        "heldout_kl",
        "score",
    ):
        assert np.isfinite(ev[k]), k
    assert ev["score_per_trial"].shape == (len(val),)
    assert ev["score"] == pytest.approx(sum(ev[k] for k in PREDICTIVE_TERMS))
    assert ev["r2_behavior_channels"].shape == (sim.behavior.n_channels,)
    assert ev["cosmooth_bps"] > 0.0  # held-out neurons better than their mean rates
    assert ev["r2_behavior_from_neural"] > 0.0


def test_evaluate_neural_only_model(sim):
    model = MMGPVAE(2, 0, 0, seed=0, device="cpu").fit(sim.neural.subset(np.arange(20)), epochs=3)
    ev = evaluate(model, sim.neural.subset(np.arange(20, 30)))
    assert "cross_behavior" not in ev and np.isfinite(ev["score"])
