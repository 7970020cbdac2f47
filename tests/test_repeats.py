"""Several runs of one code version: splitting, per-config medians, per-run and pooled fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradalgos.plots import make_report
from gradalgos.plots.scaling import scaling_fits
from gradalgos.plots.tables import baseline_table, exponent_table
from tests.rows import n_sweep_row
from tests.test_parallel import benchmark_module

cpu_repeats, cpu_noise = benchmark_module("cpu_repeats"), benchmark_module("cpu_noise")
median_rows, run_spread, split_runs = (
    cpu_repeats.median_rows,
    cpu_repeats.run_spread,
    cpu_repeats.split_runs,
)

NS = (64, 128, 256, 512)


def _row(alg: str, n: int, seconds: float | None, status: str = "ok") -> dict:
    """A schema-complete row of the n sweep taking ``seconds`` per step."""
    call = None if seconds is None else seconds * 2 * n
    return n_sweep_row(
        alg,
        n,
        T=2 * n,
        status=status,
        time_per_step_s=seconds,
        time_median_s=call,
        time_min_s=call,
        compile_s=0.1,
        code_version="v",
        date="2026-11-25T00:00:00+00:00",
        command="python -m gradalgos.bench",
        device="cpu",
        label=f"n: {alg} n={n}",
    )


def _power_law(alg: str, slope: float, scale: float = 1.0) -> list[dict]:
    return [_row(alg, n, scale * 1e-9 * n**slope) for n in NS]


def _text(report: Path) -> str:
    """REPORT.md and the DETAILS.md beside it (the long tables live there)."""
    return report.read_text() + (report.parent / "DETAILS.md").read_text()


def test_split_runs_takes_the_rth_measurement_of_each_config() -> None:
    first = _power_law("rtrl", 4.0) + _power_law("hybrid", 3.0)
    second = _power_law("hybrid", 2.5)  # a partial rerun: only the hybrid
    runs = split_runs(first + second)
    assert [len(r) for r in runs] == [8, 4]
    assert {r["algorithm"] for r in runs[1]} == {"hybrid"}
    assert runs[1] == second


def test_split_runs_follows_run_ids() -> None:
    # Run a measures every n, run b re-measures n = 512 only, run c every n again. By order
    # alone, "run 1" would mix b's n = 512 with c's other points; run ids keep them apart.
    a = [{**r, "run_id": "a"} for r in _power_law("hybrid", 3.0)]
    b = [{**_row("hybrid", 512, 1.0), "run_id": "b"}]
    c = [{**r, "run_id": "c"} for r in _power_law("hybrid", 2.0)]
    assert split_runs(a + b + c) == [a, b, c]
    spread = run_spread(a + b + c)["hybrid"]
    assert spread.per_run == pytest.approx((3.0, 2.0), abs=1e-9)  # b: one point, no fit


def test_baseline_ratios_divide_times_of_one_run() -> None:
    def timed(alg: str, n: int, seconds: float, run: str) -> dict:
        return {**_row(alg, n, seconds), "run_id": run}

    rows = [
        timed("jax-scan", 64, 1.0, "a"),
        timed("bptt", 64, 2.0, "a"),
        timed("jax-scan", 64, 3.0, "b"),
        timed("bptt", 64, 12.0, "b"),
        timed("torch", 64, 5.0, "c"),  # no baseline in run c: no torch ratio at all
    ]
    text = baseline_table(rows)
    header, _, line = text.strip().splitlines()
    assert header.split(" | ")[2:4] == ["runs", "BPTT / baseline"]
    # baseline: median of 1 and 3; BPTT: median of the ratios 2 and 4 (not 12 / 1 or 2 / 3).
    assert line.split(" | ")[1:] == ["2", "2", "3", "— |"]


def test_exponent_table_says_when_points_come_from_several_runs() -> None:
    one = [{**r, "run_id": "a"} for r in _power_law("rtrl", 4.0)]
    fits = {"time/step vs n": scaling_fits(one, "n", "n", "time_per_step_s")}
    assert "n = 128…512 (3 pts) |" in exponent_table(one, fits)
    outside = [{**one[0], "run_id": "b"}, *one[1:]]  # n = 64 is below the fit range
    assert "n = 128…512 (3 pts) |" in exponent_table(outside, fits)
    mixed = [*one[:2], *({**r, "run_id": "b"} for r in one[2:])]
    assert "n = 128…512 (3 pts, from 2 runs) |" in exponent_table(mixed, fits)


def test_per_run_fits_and_pooled_fit_recover_known_slopes() -> None:
    # Three runs of the hybrid with slopes 2.6, 3.0, 3.4: each run's fit recovers its own
    # slope; the per-config median over the runs is the middle run's time, slope 3.0.
    rows = [*_power_law("hybrid", 2.6), *_power_law("hybrid", 3.0), *_power_law("hybrid", 3.4)]
    spread = run_spread(rows)["hybrid"]
    assert spread.runs == 3
    assert spread.per_run == pytest.approx((2.6, 3.0, 3.4), abs=1e-9)
    assert spread.pooled is not None
    assert spread.pooled.slope == pytest.approx(3.0, abs=1e-9)


def test_median_rows_ignore_failures_and_count_runs() -> None:
    rows = [_row("rtrl", 64, 1.0), _row("rtrl", 64, 3.0), _row("rtrl", 64, None, "failed")]
    rows += [_row("rtrl", 64, 2.0)]
    (median,) = median_rows(rows)
    assert median["time_per_step_s"] == 2.0
    assert median["runs"] == 3


def test_report_shows_the_run_to_run_spread(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    rerun = [{**r, "command": "python -m gradalgos.bench --force"} for r in _power_law("rtrl", 4.1)]
    rows = [*_power_law("rtrl", 3.7), *rerun]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = _text(make_report(results))
    # The header names both runs' commands; the CPU page's section fits each run apart.
    assert "`python -m gradalgos.bench`; `python -m gradalgos.bench --force`" in text
    page = cpu_noise.write(results, tmp_path).read_text()
    section = page.split("## Run-to-run spread")[1].split("\n## ")[0]
    assert "Up to 2 runs" in section
    assert "3.70 4.10" in section
    assert "- runs: no run ids recorded" in text
    # With run ids the header counts the runs, and each run is fitted apart by its id.
    rows = [{**r, "run_id": "b" if r in rerun else "a"} for r in rows]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = _text(make_report(results))
    assert "- runs: 2 (run ids `a`, `b`)" in text
    page = cpu_noise.write(results, tmp_path).read_text()
    assert "3.70 4.10" in page.split("## Run-to-run spread")[1]
    # The median of two runs is their mean; the pooled slope is numpy's fit of those medians
    # over the top two octaves (n = 128…512).
    medians = [np.median([1e-9 * n**3.7, 1e-9 * n**4.1]) for n in NS[1:]]
    expected = np.polyfit(np.log(NS[1:]), np.log(medians), 1)[0]
    assert f"{expected:.3g}" in section


def test_report_with_one_run_says_how_to_add_runs(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in _power_law("rtrl", 4.0)))
    page = cpu_noise.write(results, tmp_path).read_text()
    section = page.split("## Run-to-run spread")[1].split("\n## ")[0]
    assert "--force" in section
