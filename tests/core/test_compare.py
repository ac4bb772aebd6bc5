"""``mmgpvae compare``: the baselines, the held-out comparison, its CSV, last line and plot."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from real_s1 import S1, needs_s1

from mmgpvae_core.cli import main
from mmgpvae_core.compare import (
    COLUMNS,
    GLM,
    CompareSettings,
    Wiener,
    plot_compare,
    run_compare,
    summary_line,
    write_csv,
)
from mmgpvae_core.compare.baselines import Bayes, lagged, poisson_glm, window_sums
from mmgpvae_core.synthetic.simulate import simulate, simulate_session

LAST_LINE = re.compile(
    r"^behavior_from_neural r2: mmgpvae=(\S+) wiener=(\S+) wiener_causal=(\S+) \| "
    r"neural_from_behavior (bits_per_spike|r2): mmgpvae=(\S+) glm=(\S+)$"
)


def test_lagged_features_shift_within_each_segment_only():
    a = np.arange(1.0, 5.0)[:, None]  # one channel, 4 bins
    b = np.arange(10.0, 13.0)[:, None]
    X = lagged([a, b], range(-1, 2))
    # columns: x[t-1], x[t], x[t+1]; zero beyond each segment's ends (no leak from a into b)
    assert X[:4].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0]]
    assert X[4:].tolist() == [[0, 10, 11], [10, 11, 12], [11, 12, 0]]


def test_poisson_glm_is_scikit_learns_poisson_regressor():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    Y = rng.poisson(np.exp(X @ rng.normal(0, 0.4, size=(5, 3)) - 1.0)).astype(float)
    Y[:10, 1] = np.nan  # missing bins are left out of that neuron's fit
    theta = poisson_glm(X, Y, 1e-2)
    for j in range(3):
        ok = ~np.isnan(Y[:, j])
        ref = PoissonRegressor(alpha=1e-2, tol=1e-10, max_iter=1000).fit(X[ok], Y[ok, j])
        # both minimise the same smooth convex objective to ~1e-8: the optima agree to 1e-5
        np.testing.assert_allclose(theta[:-1, j], ref.coef_, atol=1e-5)
        np.testing.assert_allclose(theta[-1, j], ref.intercept_, atol=1e-5)


def test_wiener_recovers_a_lagged_filter_and_the_causal_one_ignores_the_future():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 3))
    y = (x[:-2, 0] + 0.5 * x[2:, 1])[:, None]  # y[t] = x0[t] + 0.5 x1[t + 2]
    x = x[:-2]
    full = Wiener(lags=3).fit([x], [y])
    assert full.alpha > 0
    pred = full.predict([x])[0]
    assert 1 - np.var(y - pred) / np.var(y) > 0.99
    causal = Wiener(lags=3, causal=True).fit([x], [y])
    changed = x.copy()
    changed[1500:] = 0.0  # the future of bin 1499 changes; its past does not
    before = causal.predict([x])[0][1499]
    after = causal.predict([changed])[0][1499]
    np.testing.assert_allclose(before, after)


def test_window_sums_stay_within_each_segment():
    a, b = np.ones((4, 1)), 10 * np.ones((3, 1))
    sums, lengths = window_sums([a, b], 1)
    assert sums[:, 0].tolist() == [2, 3, 3, 2, 20, 30, 20]
    assert lengths.tolist() == [2, 3, 3, 2, 2, 3, 2]


def test_bayes_decodes_place_cells_where_a_linear_filter_cannot():
    """2-D position in an open field from 30 place cells (Gaussian fields, Poisson counts): the
    position is a nonlinear function of the rates; Bayes' rule decodes it, ridge does less well."""
    rng = np.random.default_rng(4)
    n = 6000
    steps = rng.normal(0, 0.03, size=(n, 2))
    pos = np.empty((n, 2))
    pos[0] = 0.5
    for t in range(1, n):  # a random walk reflected inside the unit square
        pos[t] = pos[t - 1] + steps[t]
        pos[t] = np.abs(pos[t])
        pos[t] = 1 - np.abs(1 - pos[t])
    centres = rng.uniform(0, 1, size=(30, 2))
    rate = 2.0 * np.exp(-((pos[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * 0.12**2))
    counts = rng.poisson(rate).astype(float)
    tr, te = slice(0, 4800), slice(4800, n)
    bayes = Bayes(lags=2).fit([counts[tr]], [pos[tr]]).predict([counts[te]])[0]
    ridge = Wiener(lags=2).fit([counts[tr]], [pos[tr]]).predict([counts[te]])[0]

    def r2(p):
        return 1 - ((p - pos[te]) ** 2).sum() / ((pos[te] - pos[te].mean(0)) ** 2).sum()

    assert bayes.shape == pos[te].shape
    assert r2(bayes) > 0.8  # 0.96 with these draws (ridge 0.76)
    assert r2(bayes) > r2(ridge) + 0.05


def test_glm_predicts_rates_from_behavior():
    rng = np.random.default_rng(2)
    b = rng.normal(size=(2000, 2))
    counts = rng.poisson(np.exp(0.8 * b[:, :1] - 0.5 + 0.3 * b[:, 1:] ** 2)).astype(float)
    glm = GLM(lags=1, counts=True).fit([b], [counts])
    rate = glm.predict([b])[0]
    assert rate.shape == counts.shape and (rate > 0).all()
    assert np.corrcoef(rate[:, 0], np.exp(0.8 * b[:, 0] + 0.3 * b[:, 1] ** 2))[0, 1] > 0.95


@pytest.fixture(scope="module")
def session_result():
    sim = simulate_session(n_bins=1500, window_bins=50, n_neurons=20, n_keypoints=2, seed=3)
    settings = CompareSettings(
        test_fraction=0.2, lags=3, seeds=2,
        model_kwargs=dict(shared=2, private_neural=1, private_behavior=1, epochs=15, device="cpu"),
    )
    lines: list[str] = []
    return sim, run_compare(sim.neural, sim.behavior, settings, report=lines.append), lines


def test_compare_scores_every_method_on_the_held_out_end_of_a_session(session_result, tmp_path):
    sim, result, lines = session_result
    assert result.folds_kind == "blocked" and "1 window(s) left unused" in result.folds_description
    assert any("seed 1" in line for line in lines)  # two seeds fitted
    by = {(r["method"], r["direction"], r["channel"], r["metric"]): r for r in result.rows}
    for name in sim.behavior.channel_names + ["all"]:
        for m in ("mmgpvae", "wiener", "wiener_causal", "bayes"):  # bayes: counts only
            assert np.isfinite(by[(m, "behavior_from_neural", name, "r2")]["value"])
            assert by[(m, "behavior_from_neural", name, "mae")]["value"] > 0
    for m in ("mmgpvae", "glm"):
        assert np.isfinite(by[(m, "neural_from_behavior", "all", "bits_per_spike")]["value"])
    assert by[("mmgpvae", "behavior_from_neural", "all", "r2")]["n_fits"] == 2
    assert by[("wiener", "behavior_from_neural", "all", "r2")]["sd"] == 0.0
    # the simulated behavior is a function of the latents the neurons carry: decodable
    assert by[("wiener", "behavior_from_neural", "all", "r2")]["value"] > 0.3
    assert LAST_LINE.match(summary_line(result))
    out = write_csv(result, tmp_path / "c.csv")
    rows = list(csv.DictReader(open(out)))
    assert tuple(rows[0]) == COLUMNS and {r["folds"] for r in rows} == {"blocked"}
    png = plot_compare(result, tmp_path / "c.png")
    assert png.stat().st_size > 10_000


def test_compare_cli_on_trials_holds_out_stratified_folds(tmp_path, capsys):
    from mmgpvae_core.synthetic.simulate import write_simulation

    paths = write_simulation(tmp_path / "sim", simulate(n_trials=12, n_time=30, n_neurons=8, n_keypoints=2, seed=5))
    code = main([
        "compare", "--neural", str(paths["neural"]), "--behavior", str(paths["behavior"]),
        "--folds", "2", "--lags", "2", "--epochs", "3", "--device", "cpu", "--quiet",
        "--out", str(tmp_path / "c.csv"),
    ])
    out, err = capsys.readouterr()
    assert code == 0
    assert "2 stratified folds" in err
    assert LAST_LINE.match(out.strip().splitlines()[-1])
    assert {r["folds"] for r in csv.DictReader(open(tmp_path / "c.csv"))} == {"stratified"}


def test_compare_without_behavior_exits_2(tmp_path, capsys):
    from mmgpvae_core.synthetic.simulate import write_simulation

    paths = write_simulation(tmp_path / "sim", simulate(n_trials=6, n_time=20, n_neurons=4, n_keypoints=1, seed=5))
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--neural", str(paths["neural"]), "--out", str(tmp_path / "c.csv")])
    assert exc.value.code == 2 and "--behavior" in capsys.readouterr().err


@needs_s1
def test_compare_on_the_real_s1_session_writes_every_column(tmp_path, capsys):
    import scipy.io

    m = scipy.io.loadmat(S1)
    n = 20 * 60 * 4  # the first 4 minutes (50 ms bins): the suite's budget, the same code path
    np.savez(tmp_path / "neural.npz", data=m["spikes"][:n].astype(float), rate_hz=20.0)
    np.savez(tmp_path / "behavior.npz", data=np.hstack([m["pos"], m["vel"]])[:n], rate_hz=20.0,
             channel_names=np.array(["pos_x", "pos_y", "vel_x", "vel_y"]))
    code = main([
        "compare", "--neural", str(tmp_path / "neural.npz"), "--behavior",
        str(tmp_path / "behavior.npz"), "--window", "5", "--shared", "2", "--epochs", "5",
        "--device", "cpu", "--quiet", "--out", str(tmp_path / "c.csv"),
        "--plot", str(tmp_path / "c.png"),
    ])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 blocked held-out split" in err
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert tuple(rows[0]) == COLUMNS
    got = {(r["method"], r["direction"], r["channel"], r["metric"]) for r in rows}
    for ch in ("pos_x", "pos_y", "vel_x", "vel_y", "all"):
        for m_ in ("mmgpvae", "wiener", "wiener_causal"):
            assert {(m_, "behavior_from_neural", ch, "r2"), (m_, "behavior_from_neural", ch, "mae")} <= got
    assert ("glm", "neural_from_behavior", "all", "bits_per_spike") in got
    wiener = [float(r["value"]) for r in rows if r["method"] == "wiener" and r["channel"] == "vel_x"
              and r["metric"] == "r2"]
    assert wiener[0] > 0.4  # hand velocity is decodable from area 2 (0.7 on the whole session)
    assert LAST_LINE.match(out.strip().splitlines()[-1])
    assert (tmp_path / "c.png").stat().st_size > 10_000
