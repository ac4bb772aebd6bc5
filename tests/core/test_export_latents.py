"""export-latents: NPZ as it always was, and NWB that pynwb, pynapple and nwbinspector read."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.project.export import SUBSPACES, collect_latents, export_latents
from mmgpvae_core.synthetic.simulate import simulate

pynwb = pytest.importorskip("pynwb")

NPZ_KEYS = {
    "shared", "shared_var", "private_neural", "private_neural_var", "private_behavior",
    "private_behavior_var", "conditions", "bin_size_s",
}
START = datetime(2024, 3, 5, 14, 30, tzinfo=timezone.utc)
# An NWB session: 40 s at 25 Hz, six trials of unequal length with gaps between them.
RATE, DURATION = 25.0, 40.0
TRIALS = [(1.0, 4.0, "left"), (5.5, 9.1, "right"), (11.0, 14.0, "left"),
          (16.2, 19.0, "right"), (22.0, 26.4, "left"), (30.0, 33.0, "right")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-epoch fit of a tiny simulation (a trial tensor: no session clock), saved."""
    sim = simulate(n_trials=8, n_time=24, n_neurons=10, n_keypoints=3, seed=5)
    sim.neural.data[1, 18:] = np.nan  # a shorter trial (NaN padding at its end)
    sim.behavior.data[1, 18:] = np.nan
    model = MMGPVAE(2, 1, 1, epochs=2, seed=0, device="cpu").fit(sim.neural, sim.behavior)
    path = tmp_path_factory.mktemp("run") / "run.mmgp"
    model.save(path)
    return model, path


def _series(nwb):
    mod = nwb.processing["mmgpvae"]
    return mod, {name: mod[name] for name in mod.data_interfaces}


def _per_trial(times, trials):
    """For each trial row (start, stop, index) the timestamps that fall in it."""
    return [times[(times >= s) & (times <= e)] for s, e in zip(trials["start_time"], trials["stop_time"])]


def test_npz_keys_are_unchanged_and_model_and_project_agree(run, tmp_path, capsys):
    model, path = run
    out = tmp_path / "latents.npz"
    assert main(["export-latents", str(path), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with np.load(out) as z:
        assert set(z.files) == NPZ_KEYS
        assert z["shared"].shape == (8, 24, 2) and z["private_behavior_var"].shape == (8, 24, 1)
        assert np.isnan(z["shared"][1, 18:]).all() and np.isfinite(z["shared"][1, :18]).all()
        assert float(z["bin_size_s"]) == pytest.approx(0.02)
        from_project = {k: z[k] for k in z.files}
    from_model = collect_latents(model).arrays  # the app exports the model in memory
    for k in SUBSPACES:
        np.testing.assert_allclose(from_model[k], from_project[k], rtol=1e-5, atol=1e-6, equal_nan=True)


def test_nwb_holds_each_subspace_its_variances_and_the_trials(run, tmp_path):
    _, path = run
    out = tmp_path / "latents.nwb"
    assert main(["export-latents", str(path), "--out", str(out)]) == 0
    lat = collect_latents(path).arrays
    lengths = np.array([24, 24 - 6] + [24] * 6)
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        mod, series = _series(nwb)
        assert set(series) == {f"{s}{v}" for s in SUBSPACES for v in ("", "_var")}
        trials = nwb.trials.to_dataframe()
        assert len(trials) == 8 and list(trials.columns) == ["start_time", "stop_time", "condition", "trial_index"]
        about = json.loads(mod.description)
        assert about["model"]["shared"] == 2 and about["shape"]["n_time"] == 24
        assert "laid end to end" in about["trial_times"] and "no NWB file" in nwb.notes
        for name, dims in (("shared", 2), ("private_neural", 1), ("private_behavior", 1)):
            mean, var = series[name], series[f"{name}_var"]
            assert mean.data.shape == var.data.shape == (lengths.sum(), dims)
            assert var.unit == "a.u.^2" and (var.data[:] > 0).all()
            t = np.asarray(mean.get_timestamps()[:])
            np.testing.assert_array_equal(t, var.get_timestamps()[:])
            assert (np.diff(t) > 0).all()
            for k, in_trial in enumerate(_per_trial(t, trials)):
                i = int(trials["trial_index"].iloc[k])
                assert len(in_trial) == lengths[i]  # every bin of the trial, inside its interval
            # Samples are the trials' bins in time order: the NPZ's values, padding left out.
            order = trials["trial_index"].to_numpy()
            expect = np.concatenate([lat[name][i, : lengths[i]] for i in order])
            np.testing.assert_allclose(mean.data[:], expect)
            expect_var = np.concatenate([lat[f"{name}_var"][i, : lengths[i]] for i in order])
            np.testing.assert_allclose(var.data[:], expect_var)
        assert list(trials["condition"]) == [str(c) for c in lat["conditions"][order]]


def _write_session(path, with_subject=True):
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.file import Subject
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    rng = np.random.default_rng(0)
    n = int(DURATION * RATE)
    t = np.arange(n) / RATE
    z = np.stack([np.sin(2 * np.pi * t / 3.0), np.cos(2 * np.pi * t / 5.0)], axis=1)
    subject = Subject(subject_id="m7", species="Mus musculus", sex="F", age="P90D") if with_subject else None
    nwb = pynwb.NWBFile(
        session_description="head-fixed mouse, two stimuli",
        identifier="session-m7-2024-03-05",
        session_start_time=START,
        lab="Test lab",
        institution="Test institute",
        experimenter=["Doe, Jane"],
        subject=subject,
    )
    dev = nwb.create_device("scope")
    plane = nwb.create_imaging_plane(
        name="plane", optical_channel=OpticalChannel(name="ch", description="green", emission_lambda=500.0),
        description="p", device=dev, excitation_lambda=900.0, indicator="GCaMP", location="V1",
    )
    ophys = nwb.create_processing_module("ophys", "ophys")
    img_seg = ImageSegmentation()
    ophys.add(img_seg)
    seg = img_seg.create_plane_segmentation(name="PlaneSegmentation", description="seg", imaging_plane=plane)
    for _ in range(6):
        seg.add_roi(image_mask=np.ones((4, 4)))
    rois = seg.create_roi_table_region("rois", region=list(range(6)))
    fluo = Fluorescence()
    ophys.add(fluo)
    traces = z @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(n, 6))
    fluo.create_roi_response_series(name="RoiResponseSeries", data=traces, rois=rois, unit="a.u.", rate=RATE, starting_time=0.0)
    behavior = nwb.create_processing_module("behavior", "behavior")
    xy = z @ rng.normal(size=(2, 2)) + 0.1 * rng.normal(size=(n, 2))
    behavior.add(Position(spatial_series=SpatialSeries(name="ball", data=xy, reference_frame="origin", rate=RATE, starting_time=0.0)))
    nwb.add_trial_column("condition", "stimulus")
    for s, e, c in TRIALS:
        nwb.add_trial(start_time=s, stop_time=e, condition=c)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture(scope="module")
def session_run(tmp_path_factory):
    """A 2-epoch CLI fit of an NWB session cut on its own trials table."""
    d = tmp_path_factory.mktemp("session")
    src = _write_session(d / "session.nwb")
    run = d / "run.mmgp"
    assert main([
        "fit", "--neural", str(src), "--neural-likelihood", "gaussian", "--behavior", str(src),
        "--behavior-likelihood", "gaussian", "--shared", "1", "--private-neural", "1",
        "--private-behavior", "1", "--bin-size", "0.08", "--epochs", "2", "--seed", "0",
        "--device", "cpu", "--quiet", "--out", str(run),
    ]) == 0
    return src, run


def test_nwb_of_an_nwb_session_keeps_its_clock_and_metadata(session_run, tmp_path):
    src, run = session_run
    out = export_latents(run, tmp_path / "latents.nwb")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        assert nwb.session_start_time == START
        assert nwb.identifier == "session-m7-2024-03-05-mmgpvae-latents"
        assert nwb.session_id == "session-m7-2024-03-05"
        assert nwb.subject.subject_id == "m7" and nwb.lab == "Test lab"
        trials = nwb.trials.to_dataframe()
        np.testing.assert_allclose(trials[["start_time", "stop_time"]].to_numpy(), [t[:2] for t in TRIALS])
        assert list(trials["condition"]) == [t[2] for t in TRIALS]
        _, series = _series(nwb)
        t = np.asarray(series["shared"].get_timestamps()[:])
        assert len(t) == series["shared"].data.shape[0] == series["shared_var"].data.shape[0]
        for (s, e, _), in_trial in zip(TRIALS, _per_trial(t, trials)):
            # The bin centres of the trial in session seconds: start + (b + 0.5) * 0.08.
            np.testing.assert_allclose(in_trial, s + (np.arange(int((e - s) / 0.08 + 1e-6)) + 0.5) * 0.08)
        assert sum(len(x) for x in _per_trial(t, trials)) == len(t)  # no sample outside a trial

    # Source gone: the export still works and says what it could not copy.
    moved = src.rename(src.with_name("elsewhere.nwb"))
    try:
        again = export_latents(run, tmp_path / "again.nwb")
    finally:
        moved.rename(src)
    with pynwb.NWBHDF5IO(str(again), "r") as io:
        nwb = io.read()
        assert "was not found" in nwb.notes and str(src) in nwb.notes
        assert nwb.trials["start_time"][0] == 1.0  # the trial times were kept in the project


def test_nwbinspector_finds_no_error(run, session_run, tmp_path):
    nwbinspector = pytest.importorskip("nwbinspector")
    serious = {nwbinspector.Importance.ERROR, nwbinspector.Importance.PYNWB_VALIDATION,
               nwbinspector.Importance.CRITICAL}
    from_session = export_latents(session_run[1], tmp_path / "session_latents.nwb")
    found = [m for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(from_session)) if m.importance in serious]
    assert found == []
    # Without a source session there is no subject to copy: that is the one complaint left.
    from_tensor = export_latents(run[1], tmp_path / "latents.nwb")
    found = [m.check_function_name for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(from_tensor))
             if m.importance in serious]
    assert found == ["check_subject_exists"]


def test_pynapple_reads_the_latents_and_trials(session_run, tmp_path):
    nap = pytest.importorskip("pynapple")
    out = export_latents(session_run[1], tmp_path / "latents.nwb")
    data = nap.load_file(str(out))
    shared, trials = data["shared"], data["trials"]
    assert isinstance(shared, nap.TsdFrame) and shared.shape[1] == 1
    assert isinstance(trials, nap.IntervalSet) and len(trials) == len(TRIALS)
    assert len(shared.restrict(trials)) == len(shared)
    assert data["private_neural_var"].shape == data["private_neural"].shape


def test_unknown_extension_exits_2(run, tmp_path, capsys):
    assert main(["export-latents", str(run[1]), "--out", str(tmp_path / "latents.csv")]) == 2
    assert "expected .npz or .nwb" in capsys.readouterr().err
