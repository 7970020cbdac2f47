"""The one-CPU sweep: pinning the worker, its configs, and the report's speed-up arithmetic.

Synthetic rows only for the report (no timing is asserted); the pinning runs no JAX.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradalgos.bench import SweepOptions, build_configs
from gradalgos.bench.sweeps import HYBRID_BLOCKS
from gradalgos.plots import make_report
from gradalgos.plots.report import FIGURES
from tests.rows import n_sweep_row

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name: str) -> Any:
    """A module of benchmarks/ (the CPU diagnostics live there, outside the default path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


cpu_parallel = benchmark_module("cpu_parallel")
figure_parallel, parallel_section = cpu_parallel.figure_parallel, cpu_parallel.parallel_section
speedups = cpu_parallel.speedups
cpu_repeats = benchmark_module("cpu_repeats")
run_spread = cpu_repeats.run_spread

linux = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity")


def _text(report: Path) -> str:
    """REPORT.md and the DETAILS.md beside it (the long tables live there)."""
    return report.read_text() + (report.parent / "DETAILS.md").read_text()


@linux
def test_pinning_restricts_this_thread_to_one_cpu_and_restores_it() -> None:
    before = os.sched_getaffinity(0)
    with cpu_parallel.pinned_to_one_cpu():
        assert os.sched_getaffinity(0) == {min(before)}
    assert os.sched_getaffinity(0) == before


def test_one_cpu_configs_are_the_n_sweep_of_rtrl_and_the_hybrid() -> None:
    configs = cpu_parallel.one_cpu_configs()
    sizes = cpu_parallel.ONE_CPU_N
    assert {(c.algorithm, c.n) for c in configs} == {
        (a, n) for a in ("rtrl", "hybrid") for n in sizes
    }
    assert {c.sweep for c in configs} == {"n-1cpu"}
    # the same T as the n sweep, so the times per step compare
    n_sweep = {(c.algorithm, c.n): c.T for c in build_configs(SweepOptions(sweeps=("n",)))}
    assert all(n_sweep[c.algorithm, c.n] == c.T for c in configs)
    assert all(HYBRID_BLOCKS * c.n == c.T for c in configs if c.algorithm == "hybrid")
    assert sorted({c.n for c in cpu_parallel.one_cpu_configs((4, 8))}) == [4, 8]


# ------------------------------------------------------------------ report (synthetic rows)

_NS = (64, 128, 256, 512)


def _rows(run: str, alg: str, k: float, speedup_slope: float, scale: float) -> list[dict]:
    """Rows of one run: one-CPU time ∝ n^k, all-CPU time = one-CPU time / speed-up with
    speed-up = scale · (n/64)^speedup_slope."""
    out = []
    for n in _NS:
        one = 1e-9 * n**k
        s = scale * (n / 64) ** speedup_slope
        common = {"run_id": run, "cpus_used": 2, "host_cpus": 2}
        out.append(n_sweep_row(alg, n, time_per_step_s=one / s, key=f"{alg}-{n}", **common))
        out.append(
            n_sweep_row(
                alg, n, sweep="n-1cpu", time_per_step_s=one, key=f"1cpu-{alg}-{n}", **common
            )
        )
    return out


def test_speedups_pair_times_within_one_run_only() -> None:
    rows = _rows("a", "hybrid", 3, 0.25, 1.0) + _rows("b", "hybrid", 3, 0.25, 1.5)
    rows += [n_sweep_row("hybrid", 64, sweep="n-1cpu", time_per_step_s=1.0, run_id="c")]
    got = speedups(rows, "hybrid")
    assert list(got) == list(_NS)
    np.testing.assert_allclose(sorted(got[128]), [2**0.25, 1.5 * 2**0.25])
    assert len(got[64]) == 2  # run c measured one CPU only: no ratio


def test_parallel_fits_add_up_and_reach_the_report(tmp_path: Path) -> None:
    every = _rows("a", "rtrl", 4, 0.3, 1.2) + _rows("a", "hybrid", 2.95, 0.25, 1.1)
    fits = figure_parallel(every, tmp_path, every)
    assert (tmp_path / "parallel.png").stat().st_size > 0
    hybrid = fits["hybrid"]
    assert hybrid.one_cpu.slope == pytest.approx(2.95)
    assert hybrid.speedup.slope == pytest.approx(0.25)
    assert hybrid.all_cpus.slope == pytest.approx(hybrid.one_cpu.slope - hybrid.speedup.slope)
    assert fits["rtrl"].all_cpus.slope == pytest.approx(3.7)
    section = parallel_section(fits, every)
    assert "| hybrid (h = S) | 3 | 2.95 (n = 128…512) | 2.70 (n = 128…512) | 0.25" in section


def test_parallel_section_without_the_sweep_says_how_to_measure(tmp_path: Path) -> None:
    rows = [n_sweep_row("hybrid", n, time_per_step_s=1e-3 * n) for n in _NS]
    assert figure_parallel(rows, tmp_path, rows) == {}
    assert "cpu_parallel.py --measure" in parallel_section({}, rows)
    on_gpu = [{**r, "device": "gpu"} for r in rows]
    assert "Not applicable" in parallel_section({}, on_gpu)


def test_one_cpu_runs_are_fitted_apart_and_pooled() -> None:
    every = _rows("a", "hybrid", 2.8, 0.2, 1.0) + _rows("b", "hybrid", 3.0, 0.2, 1.0)
    one_cpu = run_spread(every, "n-1cpu")
    assert one_cpu["hybrid"].per_run == pytest.approx((2.8, 3.0))
    assert run_spread(every)["hybrid"].per_run == pytest.approx((2.6, 2.8))
    section = cpu_repeats.spread_section(every)
    assert "The same for the one-CPU sweep" in section
    assert "2.80 3.00" in section.split("one-CPU sweep")[1]


def test_cpu_diagnostics_are_outside_the_default_report(tmp_path: Path) -> None:
    """The report draws its figures only and points at benchmarks/cpu_noise.py, which writes
    CPU_NOISE.md with the one-CPU section and both CPU figures from the same rows."""
    every = _rows("a", "rtrl", 4, 0.3, 1.2) + _rows("a", "hybrid", 2.95, 0.25, 1.1)
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in every))
    text = _text(make_report(results))
    assert {p.name for p in tmp_path.glob("*.png")} == set(FIGURES)
    assert "benchmarks/cpu_noise.py" in text
    page = benchmark_module("cpu_noise").write(results, tmp_path).read_text()
    assert "| hybrid (h = S) | 3 | 2.95 (n = 128…512) | 2.70 (n = 128…512) | 0.25" in page
    assert "## Run-to-run spread" in page and "## Achieved rate" in page
    cpu_figures = {"parallel.png", "page_faults.png", "rate_vs_n.png"}
    assert cpu_figures <= {p.name for p in tmp_path.glob("*.png")}
    assert not cpu_figures & set(FIGURES)


def test_cpu_noise_page_of_gpu_rows_has_only_the_sections_that_apply(tmp_path: Path) -> None:
    """GPU rows: no one-CPU or page-fault section (and no empty panels for them)."""
    every = [{**r, "device": "gpu"} for r in _rows("a", "hybrid", 2.95, 0.25, 1.1)]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in every))
    page = benchmark_module("cpu_noise").write(results, tmp_path).read_text()
    assert "## Achieved rate" in page
    assert "One CPU" not in page and "Page faults" not in page
    assert not (tmp_path / "parallel.png").exists() and not (tmp_path / "page_faults.png").exists()
