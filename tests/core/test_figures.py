"""Publication figures: every kind in every format is a valid file, condition colors agree across
figures, and ``mmgpvae figures`` works with no display."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from mmgpvae_core.api import MMGPVAE
from mmgpvae_core.cli import main
from mmgpvae_core.data import DataError
from mmgpvae_core.figures import (
    CONDITION_PALETTE,
    condition_colors,
    condition_mean_figure,
    elbo_figure,
    latents_2d_figure,
    latents_3d_figure,
    length_scale_figure,
    reconstruction_figure,
    reconstruction_r2,
    save_figure,
    write_figure_set,
)
from mmgpvae_core.project.file import read_project

SVG_NS = "{http://www.w3.org/2000/svg}"
FORMATS = ("png", "svg", "pdf")
# Each figure kind of the standard set, and text its SVG must show (axis labels with units).
KINDS = {
    "elbo": ["epoch", "nats per trial", "ELBO"],
    "length_scales": ["epoch", "length-scale (bins)", "length-scale (s)"],
    "latents_shared_2d": ["shared 1 (a.u.)", "shared 2 (a.u.)", "condition", "cond0"],
    "latents_shared_3d": ["shared 1 (a.u.)", "time (s)", "condition", "cond2"],
    "latents_private_neural_2d": ["time (s)", "private neural (a.u.)", "cond1"],
    "latents_private_behavior_2d": ["time (s)", "private behavior (a.u.)"],
    "condition_means": ["time (s)", "latent (a.u.)", "±2 posterior s.d.", "cond0"],
    "reconstruction_neural_trial1": ["time (s)", "channel", "spikes/s", "observed", "trial 1"],
    "reconstruction_behavior_trial1": ["time (s)", "observed", "R²", "trial 1"],
}


@pytest.fixture(scope="module")
def project(tiny_sim, tmp_path_factory):
    m = MMGPVAE(2, 1, 1, epochs=10, seed=0, device="cpu").fit(tiny_sim.neural, tiny_sim.behavior)
    path = tmp_path_factory.mktemp("figproj") / "run.mmgp"
    m.save(path)
    return path


def _env_without_display() -> dict[str, str]:
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "MPLBACKEND")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def cli_png_set(project, tmp_path_factory):
    """``mmgpvae figures --format png`` in a fresh process with no display; checks that nothing
    from Qt was imported on the way."""
    out = tmp_path_factory.mktemp("figs_cli_png")
    code = (
        "import sys; from mmgpvae_core.cli import main; rc = main(sys.argv[1:]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', "
        "'pyqtgraph', 'mmgpvae_gui')]; assert not bad, bad; sys.exit(rc)"
    )
    argv = ["figures", str(project), "--out", str(out), "--format", "png", "--trials", "1"]
    r = subprocess.run(
        [sys.executable, "-c", code, *argv],
        env=_env_without_display(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out, r


@pytest.fixture(scope="module", params=FORMATS)
def figure_set(request, project, tmp_path_factory):
    """The standard set in each format: PNG through the command line, SVG and PDF in-process."""
    fmt = request.param
    if fmt == "png":
        out, r = request.getfixturevalue("cli_png_set")
        assert r.returncode == 0, r.stderr
        paths = [Path(line.removeprefix("wrote ")) for line in r.stdout.splitlines()]
    else:
        out = tmp_path_factory.mktemp(f"figs_{fmt}")
        paths = write_figure_set(project, out, fmt=fmt, trials=[1], dpi=100)
    return fmt, out, paths


# ---------------------------------------------------------------------------- file checks
def check_png(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    rgb = img[..., :3]
    non_white = (rgb < 0.95).any(axis=-1).mean()
    assert non_white > 0.01, f"{path.name} is blank ({non_white:.1%} non-white pixels)"
    assert len(np.unique(packed_rgb(img))) > 8  # more than a flat fill
    return img


def packed_rgb(img: np.ndarray) -> np.ndarray:
    """Pixels as 0xRRGGBB integers (fast to compare and count)."""
    rgb = np.round(img[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def svg_text(path: Path) -> tuple[ET.Element, str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text"))
    return root, text


def check_pdf(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/Type /Page" in data and b"/Count 1" in data
    assert data.rstrip().endswith(b"%%EOF")


def test_each_figure_kind_is_a_valid_file(figure_set):
    fmt, out, paths = figure_set
    names = {p.name for p in paths}
    for kind, expected in KINDS.items():
        path = out / f"{kind}.{fmt}"
        assert path.name in names and path.exists(), f"missing {path.name}"
        if fmt == "png":
            check_png(path)
        elif fmt == "svg":
            root, text = svg_text(path)
            assert len(list(root.iter(f"{SVG_NS}path"))) > 5, f"{path.name}: nothing drawn"
            for s in expected:
                assert s in text, f"{path.name}: no text {s!r}"
        else:
            check_pdf(path)
    assert {"summary.json", "summary.txt"} <= names
    # Nothing else: one file per figure kind, plus the summary.
    assert len(paths) == len(KINDS) + 2


def test_neural_heatmap_is_an_image_in_vector_files(figure_set):
    fmt, out, _ = figure_set
    if fmt == "svg":
        root, _ = svg_text(out / f"reconstruction_neural_trial1.{fmt}")
        assert list(root.iter(f"{SVG_NS}image"))


def test_summary_has_config_elbo_terms_and_r2_per_channel(figure_set, tiny_sim):
    _, out, _ = figure_set
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["model"]["shared"] == 2 and s["epochs"] == 10
    assert set(s["final_elbo_terms_nats_per_trial"]) == {"elbo", "ell_neural", "ell_behavior", "kl"}
    for name, ds in (("neural", tiny_sim.neural), ("behavior", tiny_sim.behavior)):
        per = s["reconstruction_r2"][name]["per_channel"]
        assert list(per) == ds.channel_names
        assert all(v is None or v <= 1.0 for v in per.values())
    assert [e["latent"] for e in s["length_scales"]] == [
        "shared 1",
        "shared 2",
        "private neural",
        "private behavior",
    ]
    e = s["length_scales"][0]
    assert e["seconds"] == pytest.approx(e["bins"] * 0.02, rel=1e-3)
    assert s["condition_colors"] == condition_colors(tiny_sim.neural.conditions)
    text = (out / "summary.txt").read_text()
    assert "final ELBO" in text and "reconstruction R², behavior" in text


def test_reconstruction_r2():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 30, 3))
    y[0, :5, 1] = np.nan
    np.testing.assert_allclose(reconstruction_r2(y, y), 1.0)
    r2 = reconstruction_r2(y, np.zeros_like(y) + np.nanmean(y, axis=(0, 1)))
    np.testing.assert_allclose(r2, 0.0, atol=1e-12)
    assert np.isnan(reconstruction_r2(np.ones((2, 5, 1)), np.ones((2, 5, 1))))[0]


# ---------------------------------------------------------------------------- colors
def test_condition_colors_are_deterministic_and_colorblind_safe():
    a = condition_colors(["cond10", "cond2", "cond1", "cond2"])
    assert list(a) == ["cond1", "cond2", "cond10"]  # natural order
    assert a == condition_colors(["cond1", "cond10", "cond2"])  # depends on the set only
    assert list(a.values()) == list(CONDITION_PALETTE[:3])
    assert condition_colors(np.array([2, 1, 1])) == condition_colors(["1", "2"])
    many = condition_colors([f"c{i}" for i in range(12)])
    assert len(set(many.values())) == 12
    assert len(condition_colors(None)) == 1


def _hex(c) -> str:
    from matplotlib.colors import to_hex

    return to_hex(c, keep_alpha=False).upper()


def legend_colors(fig) -> dict[str, str]:
    """What the reader sees: the condition legend's label → line color."""
    (leg,) = [lg for lg in fig.legends if lg.get_title().get_text() == "condition"]
    return {t.get_text(): _hex(h.get_color()) for t, h in zip(leg.get_texts(), leg.legend_handles)}


def line_colors(fig) -> set[str]:
    return {_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()}


def test_condition_colors_match_across_figures(project):
    p = read_project(project)
    cond = p["neural"].conditions
    expected = condition_colors(cond)
    shared, private = p["posterior"]["shared"], p["posterior"]["private_neural"]
    figs = {
        "2d": latents_2d_figure(shared["mean"], cond),
        "1d": latents_2d_figure(private["mean"], cond, bin_size_s=0.02),
        "3d": latents_3d_figure(
            np.concatenate([shared["mean"], private["mean"]], -1), cond, elev=35, azim=120
        ),
        "means": condition_mean_figure(shared["mean"], shared["var"], cond, 0.02),
    }
    for name, fig in figs.items():
        assert legend_colors(fig) == expected, name
        assert line_colors(fig) <= set(expected.values()), name  # lines only in condition colors
        assert {c.upper() for c in expected.values()} <= line_colors(fig) | {
            _hex(pc.get_facecolor()[0]) for ax in fig.axes for pc in ax.collections
        }, name
    # A subset of trials keeps each condition's color when given the full set's colors.
    sub = np.flatnonzero(cond != sorted(set(cond))[0])
    fig = latents_2d_figure(shared["mean"][sub], cond[sub], colors=expected)
    assert legend_colors(fig) == {k: v for k, v in expected.items() if k in set(cond[sub])}
    # A reconstruction's trace is drawn in its trial's condition color.
    b = p["behavior"]
    fig = reconstruction_figure(
        b.data,
        p["reconstruction"]["behavior"],
        b.channel_names,
        1,
        0.02,
        modality="behavior",
        color=expected[cond[1]],
    )
    assert expected[cond[1]] in line_colors(fig)


def test_condition_colors_match_in_written_files(figure_set, tiny_sim):
    fmt, out, _ = figure_set
    colors = condition_colors(tiny_sim.neural.conditions).values()
    for kind in (
        "latents_shared_2d",
        "latents_shared_3d",
        "latents_private_neural_2d",
        "condition_means",
    ):
        path = out / f"{kind}.{fmt}"
        if fmt == "svg":  # colors as text in the file
            text = path.read_text().lower()
            assert all(c.lower() in text for c in colors), kind
        elif fmt == "png":  # each condition color is present as a pixel value
            present = np.unique(packed_rgb(check_png(path)))
            for c in colors:
                assert int(c[1:], 16) in present, (kind, c)


# ---------------------------------------------------------------------------- functions
def test_figure_functions_export_in_every_format(tmp_path, tiny_sim):
    """The functions the app calls, on plain arrays, without a project file."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 20, 3)).cumsum(1)
    cond = np.array(["a", "b"] * 3)
    hist = {
        "elbo": -np.geomspace(1e3, 1e2, 30),
        "ell_neural": -np.geomspace(9e2, 9e1, 30),
        "ell_behavior": -np.linspace(50, 10, 30),
        "kl": np.linspace(1, 5, 30),
    }
    figs = {
        "elbo": elbo_figure(hist, warmup_epochs=3),
        "ls": length_scale_figure(np.linspace(2, 4, 60).reshape(20, 3)),  # no bin size: bins only
        "l2": latents_2d_figure(z, None),  # no conditions
        "l3": latents_3d_figure(z, cond, elev=10, azim=45, proj_type="ortho"),
        "cm": condition_mean_figure(z, np.ones_like(z), cond),
        "rec": reconstruction_figure(
            rng.poisson(2, (20, 5)), np.full((20, 5), 2.0), likelihood="poisson"
        ),
    }
    for name, fig in figs.items():  # every kind in every format is covered by figure_set
        svg_text(save_figure(fig, tmp_path / f"{name}.svg"))
    check_png(save_figure(figs["l3"], tmp_path / "l3.png", dpi=50))
    check_pdf(save_figure(figs["cm"], tmp_path / "cm.pdf"))
    _, text = svg_text(tmp_path / "rec.svg")
    assert "time (bins)" in text and "spikes/bin" in text
    _, text = svg_text(tmp_path / "ls.svg")
    assert "length-scale (s)" not in text
    with pytest.raises(ValueError, match="unsupported figure format"):
        save_figure(figs["elbo"], tmp_path / "x.jpg")


def test_3d_figure_uses_the_given_camera():
    z = np.random.default_rng(0).normal(size=(2, 10, 3))
    ax = latents_3d_figure(z, elev=33, azim=-120).axes[0]
    assert (ax.elev, ax.azim) == (33, -120)


# ---------------------------------------------------------------------------- command line
def test_cli_figures_without_display(cli_png_set):
    out, r = cli_png_set
    assert r.returncode == 0, r.stderr
    written = [Path(line.removeprefix("wrote ")) for line in r.stdout.splitlines()]
    assert out / "reconstruction_behavior_trial1.png" in written
    assert all(p.exists() and p.parent == out for p in written)
    check_png(out / "elbo.png")


def test_importing_the_core_does_not_import_matplotlib():
    code = (
        "import sys, mmgpvae_core, mmgpvae_core.cli, mmgpvae_core.figures; "
        "assert 'matplotlib' not in sys.modules"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_cli_figures_bad_input_exits_2(project, tmp_path, capsys):
    assert main(["figures", str(tmp_path / "nope.mmgp"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "junk.mmgp").write_bytes(b"not hdf5")
    assert main(["figures", str(tmp_path / "junk.mmgp"), "--out", str(tmp_path)]) == 2
    assert main(["figures", str(project), "--out", str(tmp_path), "--trials", "0,999"]) == 2
    assert "999" in capsys.readouterr().err
    with pytest.raises(DataError):
        write_figure_set(tmp_path / "junk.mmgp", tmp_path)
