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

from gradalgos.bench import BenchConfig, SweepOptions, build_configs
from gradalgos.bench.affinity import PinningError, cpus_in_use, pinned
from gradalgos.bench.pool import Worker
from gradalgos.bench.sweeps import HYBRID_BLOCKS, SIZES
from gradalgos.plots import make_report
from gradalgos.plots.repeats import run_spread
from gradalgos.plots.report import FIGURES
from gradalgos.plots.tables import acceptance_table, exponent_table
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

linux = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity")


def _text(report: Path) -> str:
    """REPORT.md and the DETAILS.md beside it (the long tables live there)."""
    return report.read_text() + (report.parent / "DETAILS.md").read_text()


@linux
def test_pinned_restricts_this_thread_and_restores_it() -> None:
    before = os.sched_getaffinity(0)
    with pinned(1):
        assert os.sched_getaffinity(0) == {min(before)}
        assert cpus_in_use() == 1
    assert os.sched_getaffinity(0) == before
    with pinned(None):
        assert os.sched_getaffinity(0) == before


@linux
@pytest.mark.parametrize("cpus", [0, 10_000])
def test_pinning_to_an_impossible_count_is_a_clear_error(cpus: int) -> None:
    before = os.sched_getaffinity(0)
    expected = f"cpus={cpus}: expected 1 ≤ cpus ≤ {len(before)}"
    with pytest.raises(PinningError, match=expected), pinned(cpus):
        pass
    assert os.sched_getaffinity(0) == before


@linux
def test_worker_records_a_config_it_cannot_pin_as_failed() -> None:
    too_many = cpus_in_use() + 1
    config = BenchConfig("n-1cpu", "rtrl", "elman", 4, 2, repeats=1, cpus=too_many)
    with Worker("cpu") as worker:
        result = worker.run(config, time_limit=60)
        assert worker._proc is None  # nothing was started
    assert result["status"] == "failed"
    assert f"cpus={too_many}" in result["reason"]
    assert result["cpus_used"] is None


def test_one_cpu_sweep_configs() -> None:
    configs = build_configs(SweepOptions(sweeps=("n", "n-1cpu")))
    pinned_configs = [c for c in configs if c.sweep == "n-1cpu"]
    sizes = SIZES["default"].n_one_cpu
    assert {(c.algorithm, c.n) for c in pinned_configs} == {
        (a, n) for a in ("rtrl", "hybrid") for n in sizes
    }
    assert all(c.cpus == 1 for c in pinned_configs)
    assert all(c.cpus is None for c in configs if c.sweep == "n")
    # the same T as the n sweep, so the times per step compare
    assert all(HYBRID_BLOCKS * c.n == c.T for c in pinned_configs if c.algorithm == "hybrid")
    assert configs[-len(pinned_configs) :] == pinned_configs  # last: one worker restart
    assert "cpus=1" in pinned_configs[0].label
    assert not [c for c in build_configs(SweepOptions(device="gpu")) if c.sweep == "n-1cpu"]
    override = build_configs(SweepOptions(sweeps=("n-1cpu",), n=(4, 8)))
    assert sorted({c.n for c in override}) == [4, 8]


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
    one_cpu = {alg: f.one_cpu for alg, f in fits.items()}
    fitted = {"time/step vs n": {}, "temp bytes vs T": {}, "time/step vs n, one CPU": one_cpu}
    table = acceptance_table(every, fitted, {})
    assert (
        "hybrid (h = S) time exponent vs n, one CPU (sweep n-1cpu) = 3 ± 0.3 | 2.95 | PASS" in table
    )
    assert "RTRL time exponent vs n, one CPU (sweep n-1cpu) = 4 ± 0.3 | 4 | PASS" in table
    assert "time/step vs n, one CPU | RTRL | 4 ± " in exponent_table(
        every, {"time/step vs n, one CPU": one_cpu}
    )


def test_parallel_section_without_the_sweep_says_how_to_measure(tmp_path: Path) -> None:
    rows = [n_sweep_row("hybrid", n, time_per_step_s=1e-3 * n) for n in _NS]
    assert figure_parallel(rows, tmp_path, rows) == {}
    assert "--sweeps n n-1cpu" in parallel_section({}, rows)
    on_gpu = [{**r, "device": "gpu"} for r in rows]
    assert "Not applicable" in parallel_section({}, on_gpu)


def test_one_cpu_runs_are_fitted_apart_and_pooled() -> None:
    every = _rows("a", "hybrid", 2.8, 0.2, 1.0) + _rows("b", "hybrid", 3.0, 0.2, 1.0)
    one_cpu = run_spread(every, "n-1cpu")
    assert one_cpu["hybrid"].per_run == pytest.approx((2.8, 3.0))
    assert run_spread(every)["hybrid"].per_run == pytest.approx((2.6, 2.8))
    fitted = {"time/step vs n": {}, "temp bytes vs T": {}}
    table = acceptance_table(every, fitted, {}, spread_one_cpu=one_cpu)
    assert "hybrid (h = S) time exponent vs n, one CPU, median time of 2 runs = 3 ± 0.3" in table


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
    assert {"parallel.png", "page_faults.png"} <= {p.name for p in tmp_path.glob("*.png")}
