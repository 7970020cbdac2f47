"""Several runs of one code version: splitting, per-config medians, per-run and pooled fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradalgos.plots import make_report
from gradalgos.plots.repeats import median_rows, run_spread, split_runs
from tests.rows import n_sweep_row

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


def test_split_runs_takes_the_rth_measurement_of_each_config() -> None:
    first = _power_law("rtrl", 4.0) + _power_law("hybrid", 3.0)
    second = _power_law("hybrid", 2.5)  # a partial rerun: only the hybrid
    runs = split_runs(first + second)
    assert [len(r) for r in runs] == [8, 4]
    assert {r["algorithm"] for r in runs[1]} == {"hybrid"}
    assert runs[1] == second


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
    text = make_report(results).read_text()
    # The header names both runs' commands; the section fits each run apart.
    assert "`python -m gradalgos.bench`; `python -m gradalgos.bench --force`" in text
    section = text.split("## Run-to-run spread")[1].split("\n## ")[0]
    assert "Up to 2 runs" in section
    assert "3.70 4.10" in section
    # The median of two runs is their mean; the pooled slope is numpy's fit of those medians
    # over the top two octaves (n = 128…512).
    medians = [np.median([1e-9 * n**3.7, 1e-9 * n**4.1]) for n in NS[1:]]
    expected = np.polyfit(np.log(NS[1:]), np.log(medians), 1)[0]
    assert f"{expected:.3g}" in section


def test_report_with_one_run_says_how_to_add_runs(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in _power_law("rtrl", 4.0)))
    text = make_report(results).read_text()
    section = text.split("## Run-to-run spread")[1].split("\n## ")[0]
    assert "--force" in section
