"""Page-fault and CPU-time counters: the bench's measurement of them, and their section in
benchmarks/cpu_noise.py (outside the default report)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.rows import n_sweep_row
from tests.test_parallel import benchmark_module

_faults = benchmark_module("cpu_page_faults")
ON_GPU, cpu_time_fits = _faults.ON_GPU, _faults.cpu_time_fits
figure_page_faults, page_fault_section = _faults.figure_page_faults, _faults.page_fault_section
PER_CALL_FIELDS, CpuCounters = _faults.PER_CALL_FIELDS, _faults.CpuCounters
counters_per_call, cpu_counters = _faults.counters_per_call, _faults.cpu_counters

NS = (64, 128, 256, 512)


@pytest.mark.skipif(sys.platform == "win32", reason="getrusage is POSIX")
def test_counters_count_the_pages_of_fresh_memory() -> None:
    # 64 MiB written once: fresh pages the OS must fault in, one per 4 KiB page, or one per
    # 2 MiB huge page where the kernel backs the block with them; never none.
    nbytes = 64 * 2**20
    before = cpu_counters()
    block = np.ones(nbytes // 8)
    counters = counters_per_call(before, calls=2)
    assert block.sum() == nbytes // 8
    assert counters["page_faults_per_call"] * 2 >= nbytes // (2 * 2**20)


@pytest.mark.skipif(sys.platform == "win32", reason="getrusage is POSIX")
def test_user_time_counts_work_in_user_mode() -> None:
    # ~0.1 s of pure Python arithmetic: user time, no system calls, no fresh memory. No bound
    # on how much time (that would depend on the machine), only that it shows up, as user time.
    before = cpu_counters()
    assert sum(i * i for i in range(2_000_000)) > 0
    counters = counters_per_call(before, calls=1)
    assert counters["cpu_user_s_per_call"] > 0
    assert counters["cpu_user_s_per_call"] > counters["cpu_sys_s_per_call"]


@pytest.mark.skipif(sys.platform == "win32", reason="getrusage is POSIX")
def test_counters_per_call_divide_each_counter_by_the_calls() -> None:
    # A snapshot set 1000 faults, 3 s user and 1 s system time back: per call over 2 calls that
    # is 500, 1.5 s and 0.5 s, plus half of the (µs) CPU time between the two snapshots.
    now = cpu_counters()
    before = CpuCounters(now.page_faults - 1000, now.user_s - 3.0, now.sys_s - 1.0)
    counters = counters_per_call(before, calls=2)
    assert list(counters) == list(PER_CALL_FIELDS)
    assert counters["page_faults_per_call"] == pytest.approx(500, abs=100)
    assert counters["cpu_user_s_per_call"] == pytest.approx(1.5, abs=0.25)
    assert counters["cpu_sys_s_per_call"] == pytest.approx(0.5, abs=0.25)


def test_counters_are_none_where_not_measurable() -> None:
    assert counters_per_call(None, calls=5) == dict.fromkeys(PER_CALL_FIELDS)
    assert counters_per_call(cpu_counters(), calls=0) == dict.fromkeys(PER_CALL_FIELDS)


def _row(alg: str, n: int, user_slope: float, sys_slope: float, faults: float | None) -> dict:
    """A schema-complete n-sweep row whose per-step user and system CPU times follow power
    laws; the wall time is their sum over 2 threads."""
    T = 2 * n if alg == "hybrid" else 2
    user, sys_ = 1e-9 * n**user_slope * T, 1e-8 * n**sys_slope * T
    return n_sweep_row(
        alg,
        n,
        T=T,
        time_median_s=(user + sys_) / 2,
        time_per_step_s=(user + sys_) / 2 / T,
        mem_temp_size_in_bytes=4 * 4 * n**3,
        page_faults_per_call=faults,
        cpu_user_s_per_call=user,
        cpu_sys_s_per_call=sys_,
    )


def test_user_and_system_exponents_are_fitted_apart() -> None:
    rows = [_row("hybrid", n, 3.0, 2.0, 4 * n**3 / 1024) for n in NS]
    rows += [_row("rtrl", n, 4.0, 3.0, 4 * n**3 / 1024) for n in NS]
    fits = cpu_time_fits(rows)
    assert fits["hybrid"]["user"].slope == pytest.approx(3.0)
    assert fits["hybrid"]["sys"].slope == pytest.approx(2.0)
    assert fits["rtrl"]["user"].slope == pytest.approx(4.0)
    assert fits["rtrl"]["sys"].slope == pytest.approx(3.0)
    # the wall time mixes both, so its exponent lies between them
    assert 3.0 < fits["rtrl"]["wall"].slope < 4.0


def test_section_lists_each_fit_range_config_with_its_fault_ratio() -> None:
    # n = 64 lies below the fit range (top two octaves of 64…512) and is not listed; every
    # call faults its whole scratch in (ratio 1), except n = 128 (none: reused pages).
    faults = {64: 0.0, 128: 0.0, 256: 4 * 4 * 256**3 / 4096, 512: 4 * 4 * 512**3 / 4096}
    rows = [_row("hybrid", n, 3.0, 2.0, faults[n]) for n in NS]
    text = page_fault_section(rows)
    lines = [line for line in text.splitlines() if line.startswith("| hybrid")]
    assert [line.split(" | ")[1] for line in lines[:3]] == ["128", "256", "512"]
    ratios = [line.split(" | ")[4] for line in lines[:3]]
    assert ratios == ["0", "1", "1"]
    assert "| hybrid (h = S) | 3 |" in text and "3.00 ± " in text and "2.00 ± " in text


def test_section_says_when_counters_were_not_recorded() -> None:
    rows = [_row("rtrl", n, 4.0, 3.0, None) | {"cpu_user_s_per_call": None} for n in NS]
    assert "Not recorded" in page_fault_section(rows)


def test_a_fit_over_a_narrower_range_says_so() -> None:
    # no system time at n = 64 and 128 (pages reused, no faults): that fit keeps 256…512
    rows = [_row("rtrl", n, 4.0, 3.0, 0.0) | {"cpu_sys_s_per_call": 0.0} for n in NS[:2]]
    rows += [_row("rtrl", n, 4.0, 3.0, 4 * n**3 / 1024) for n in NS[2:]]
    line = next(x for x in page_fault_section(rows).splitlines() if x.startswith("| RTRL | 4 |"))
    assert "3.00 ± nan (n = 256…512)" in line and line.endswith("| n = 128…512 |")


def test_figure_is_written_with_and_without_counters(tmp_path) -> None:
    rows = [_row("hybrid", n, 3.0, 2.0, 4 * n**3 / 1024) for n in NS]
    assert figure_page_faults(rows, tmp_path).stat().st_size > 0
    old = [r | {"cpu_user_s_per_call": None} for r in rows]
    (tmp_path / "old").mkdir()
    assert figure_page_faults(old, tmp_path / "old").exists()


def test_gpu_rows_get_no_page_fault_table(tmp_path) -> None:
    """On a GPU the scratch is device memory: the section says so instead of fitting the
    host's CPU times, and mixed rows keep only the CPU ones."""
    rows = [_row("hybrid", n, 3.0, 2.0, 4 * n**3 / 1024) for n in NS]
    on_gpu = [r | {"device": "gpu"} for r in rows]
    assert page_fault_section(on_gpu) == ON_GPU
    assert figure_page_faults(on_gpu, tmp_path).exists()
    mixed = rows + [r | {"device": "gpu", "cpu_sys_s_per_call": 1.0} for r in rows]
    assert page_fault_section(mixed) == page_fault_section(rows)
