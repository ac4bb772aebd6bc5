"""benchmarks/kernels.py runs (``--smoke``) and writes nothing in that mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "kernels.py"


def test_the_kernel_benchmark_runs_in_smoke_mode_and_writes_no_results(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_kernels", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    written = []
    monkeypatch.setattr(bench, "replace_section", lambda *a: written.append(a))
    assert bench.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert bench.SECTION in out
    assert "| OU | matern12 |" in out and "| RBF | rbf |" in out
    assert written == []
