"""The crossover figure: directional crossings, honest notes, RTRL memory extended linearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradalgos.plots.crossover import crossing, figure_crossover
from tests.rows import n_sweep_row

HYBRID = "hybrid faster than RTRL for n >"
BPTT_NO_T = "BPTT temp bytes exceed RTRL's for T > (n = ?)"
BPTT = "BPTT temp bytes exceed RTRL's for T > (n = 64)"
NO_T_SWEEP = (None, "none: no data")


def _time_rows(alg: str, ns: list[int], seconds: list[float]) -> list[dict]:
    """Rows of the n sweep taking ``seconds`` per step at ``ns``."""
    return [n_sweep_row(alg, n, time_per_step_s=s) for n, s in zip(ns, seconds, strict=True)]


def _mem_rows(alg: str, Ts: list[int], nbytes: list[float]) -> list[dict]:
    """Rows of the T sweep (n = 64) with ``nbytes`` XLA temp bytes at ``Ts``."""
    return [
        n_sweep_row(alg, 64, key=f"{alg}-T-{T}", sweep="T", T=T, mem_temp_size_in_bytes=b)
        for T, b in zip(Ts, nbytes, strict=True)
    ]


# --- crossing -----------------------------------------------------------------------------


def test_crossing_interpolates_log_ratio_in_log_x() -> None:
    # log(a/b) = +ln 2 at x = 1 and −ln 2 at x = 4: zero half-way in log x, at x = 2.
    assert crossing(np.array([1.0, 4.0]), np.array([2.0, 1.0]), np.array([1.0, 2.0])) == (
        pytest.approx(2.0)
    )
    # log(a/b) = ln 2, ln 2, −ln 4: zero one third of the way from x = 100 to 1000 in log x.
    x = np.array([10.0, 100.0, 1000.0])
    a, b = np.ones(3), np.array([0.5, 0.5, 4.0])
    assert crossing(x, a, b) == pytest.approx(100 * 10 ** (1 / 3))


def test_crossing_ignores_the_other_direction() -> None:
    x = np.array([10.0, 100.0, 1000.0])
    a, b = np.ones(3), np.array([0.5, 0.5, 4.0])
    assert crossing(x, b, a) is None  # b rises above a: not "b falls below a"
    assert crossing(np.array([1.0, 4.0]), np.array([1.0, 2.0]), np.array([2.0, 1.0])) is None


def test_crossing_through_an_equal_point_and_a_touch() -> None:
    x = np.array([1.0, 2.0, 4.0])
    assert crossing(x, np.array([2.0, 1.0, 0.5]), np.ones(3)) == 2.0
    assert crossing(x, np.array([2.0, 1.0, 2.0]), np.ones(3)) is None  # touches, stays above
    assert crossing(x, np.array([1.0, 0.5, 0.5]), np.ones(3)) is None  # never above


def test_crossing_takes_the_first_change_in_its_direction() -> None:
    # a is below b, rises above it (not counted), then falls below between x = 4 and 8.
    x = np.array([1.0, 2.0, 4.0, 8.0])
    a, b = np.array([0.5, 2.0, 2.0, 0.5]), np.ones(4)
    assert crossing(x, a, b) == pytest.approx(4 * np.sqrt(2))


# --- figure_crossover: hybrid vs RTRL time ------------------------------------------------


def test_hybrid_lower_at_every_point(tmp_path: Path) -> None:
    rows = _time_rows("rtrl", [16, 32, 64], [2e-3, 4e-3, 8e-3])
    rows += _time_rows("hybrid", [16, 32, 64], [1e-3, 2e-3, 4e-3])
    cross = figure_crossover(rows, tmp_path)
    assert (tmp_path / "crossover.png").exists()
    assert cross[HYBRID] == (None, "none: hybrid lower at every point")
    assert cross[BPTT_NO_T] == NO_T_SWEEP


def test_hybrid_crossing_is_interpolated(tmp_path: Path) -> None:
    # hybrid / RTRL = 2, 1/2, 1/8 at n = 16, 64, 256: equal half-way in log n, at n = 32.
    rows = _time_rows("rtrl", [16, 64, 256], [1e-3, 4e-3, 16e-3])
    rows += _time_rows("hybrid", [16, 64, 256], [2e-3, 2e-3, 2e-3])
    value, note = figure_crossover(rows, tmp_path)[HYBRID]
    assert value == pytest.approx(32.0)
    assert note == "interpolated"


def test_hybrid_crossing_the_wrong_way_is_not_reported(tmp_path: Path) -> None:
    # The hybrid is faster at n = 16, 32 and slower at 64: RTRL falls below it at
    # n = 32·√2 (log ratio ∓ln 2 at 32 and 64), which is not "hybrid faster for n >".
    rows = _time_rows("rtrl", [16, 32, 64], [2e-3, 2e-3, 2e-3])
    rows += _time_rows("hybrid", [16, 32, 64], [1e-3, 1e-3, 4e-3])
    value, note = figure_crossover(rows, tmp_path)[HYBRID]
    assert value is None
    assert note == (
        "none: neither lower at every point; RTRL falls below hybrid at n ≈ 45.3 (the other way)"
    )
    assert f"{32 * np.sqrt(2):.3g}" == "45.3"


def test_hybrid_vs_rtrl_divides_times_of_one_run_only(tmp_path: Path) -> None:
    # Run a measured both, the hybrid twice as slow at every n. Run b re-measured RTRL alone,
    # 10× faster at n = 16 and 10× slower above. The latest rows (RTRL of b, hybrid of a)
    # would cross between n = 16 and 32; within run a the hybrid is slower everywhere.
    ns = [16, 32, 64]
    run_a = _time_rows("rtrl", ns, [1e-3] * 3) + _time_rows("hybrid", ns, [2e-3] * 3)
    run_b = _time_rows("rtrl", ns, [1e-4, 1e-2, 1e-2])
    for row in run_a:
        row["run_id"] = "a"
    for row in run_b:
        row["run_id"] = "b"
    latest = run_b + run_a[3:]
    assert figure_crossover(latest, tmp_path)[HYBRID] == (
        None,
        "none: no run measured both at one n (times of two runs are not compared)",
    )
    cross = figure_crossover(latest, tmp_path, every=run_a + run_b)
    assert cross[HYBRID] == (None, "none: RTRL lower at every point")
    # Runs a and c measured both: the median of their ratios (2 and 1/2 at n = 16, 2 and 1/8
    # at 32 and 64) stays above 1, though run c alone has the hybrid faster everywhere.
    run_c = _time_rows("rtrl", ns, [4e-3, 16e-3, 16e-3]) + _time_rows("hybrid", ns, [2e-3] * 3)
    for row in run_c:
        row["run_id"] = "c"
    assert figure_crossover(run_c, tmp_path, every=run_a + run_c)[HYBRID] == (
        None,
        "none: RTRL lower at every point; from time ratios within one run, median over up to "
        "2 runs per n",
    )


# --- figure_crossover: BPTT vs RTRL temp bytes --------------------------------------------

#: RTRL's bytes on the line 1000 + 10·T; BPTT's 12·T: RTRL is higher up to T = 256
#: (3560 vs 3072) and lower from T = 512 (6120 vs 6144).
D256, D512 = np.log(3560 / 3072), np.log(6120 / 6144)
#: The zero of log(RTRL / BPTT) between T = 256 and 512, by linear interpolation in log T.
T_CROSS = float(np.exp(np.log(256) + np.log(2) * D256 / (D256 - D512)))
TS = [32, 64, 128, 256, 512]


def test_bptt_crossing_inside_the_measured_range_is_interpolated(tmp_path: Path) -> None:
    rows = _mem_rows("bptt", TS, [12.0 * T for T in TS])
    rows += _mem_rows("rtrl", TS, [1000 + 10.0 * T for T in TS])
    value, note = figure_crossover(rows, tmp_path)[BPTT]
    assert value == pytest.approx(T_CROSS)
    assert 256 < value < 512
    assert note == "interpolated"
    assert figure_crossover(rows, tmp_path)[HYBRID] == (None, "none: no data")


def test_bptt_crossing_beyond_rtrl_uses_its_linear_extension(tmp_path: Path) -> None:
    # RTRL measured up to T = 128 only, its first point off the line: the extension goes
    # through its last two points (T = 64, 128: 1640, 2280), giving 3560 and 6120 at T = 256
    # and 512. (Holding 2280 flat would have put the crossing between T = 128 and 256.)
    rows = _mem_rows("bptt", TS, [12.0 * T for T in TS])
    rows += _mem_rows("rtrl", [32, 64, 128], [1500.0, 1640.0, 2280.0])
    value, note = figure_crossover(rows, tmp_path)[BPTT]
    assert (tmp_path / "crossover.png").exists()
    assert value == pytest.approx(T_CROSS)
    assert note == (
        "interpolated; RTRL's temp bytes extended linearly in T from its last two points "
        "(T = 64, 128)"
    )


def test_bptt_crossing_the_wrong_way_is_not_reported(tmp_path: Path) -> None:
    # BPTT above RTRL at T = 32, 64 and below it at T = 128: "BPTT falls below RTRL".
    Ts = [32, 64, 128]
    rows = _mem_rows("bptt", Ts, [4000.0, 4000.0, 1000.0])
    rows += _mem_rows("rtrl", Ts, [2000.0, 2000.0, 2000.0])
    value, note = figure_crossover(rows, tmp_path)[BPTT]
    assert value is None
    assert note == (
        "none: neither lower at every point; BPTT falls below RTRL at T ≈ 90.5 (the other way)"
    )


def test_rtrl_with_one_point_is_not_extrapolated(tmp_path: Path) -> None:
    rows = _mem_rows("bptt", TS, [12.0 * T for T in TS])
    rows += _mem_rows("rtrl", [64], [1640.0])
    assert figure_crossover(rows, tmp_path)[BPTT] == (None, "none: BPTT lower at every point")
