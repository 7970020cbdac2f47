"""The PASS/FAIL verdicts at the edges of each tolerance: the exponents' in the exponent
table, the others in the acceptance table."""

from __future__ import annotations

import pytest

from gradalgos.plots.fit import LogLogFit
from gradalgos.plots.style import NAMES
from gradalgos.plots.tables import acceptance_table, exponent_table
from tests.rows import n_sweep_row


def _fit(slope: float, lo: float = 64, hi: float = 256) -> LogLogFit:
    return LogLogFit(slope=slope, intercept=0.0, r2=1.0, x_lo=lo, x_hi=hi, points=3)


def _verdicts(rows: list[dict]) -> dict[str, tuple[str, str]]:
    """``{criterion: (measured, verdict)}`` from the rendered acceptance table."""
    out = {}
    for line in acceptance_table(rows, {}, {}).splitlines()[2:]:
        criterion, measured, verdict, _ = (cell.strip() for cell in line.split("|")[1:-1])
        out[criterion] = (measured, verdict)
    return out


def _exponent(quantity: str, alg: str, fit: LogLogFit | None) -> tuple[str, str]:
    """``(fitted, |diff|)`` of ``alg``'s line in the exponent table."""
    sweep = "T" if "vs T" in quantity else "n"
    rows = [n_sweep_row(alg, 64, sweep=sweep, T=64)]  # one point below the fit range
    line = next(
        row
        for row in exponent_table(rows, {quantity: {alg: fit}}).splitlines()[2:]
        if row.split(" | ")[1] == NAMES[alg]
    )
    cells = [cell.strip() for cell in line.split("|")[1:-1]]
    return cells[2], cells[4]


@pytest.mark.parametrize(
    ("alg", "name", "theory", "slope", "verdict"),
    [
        ("rtrl", "RTRL", 4, 3.71, "PASS"),
        ("rtrl", "RTRL", 4, 3.69, "FAIL"),
        ("rtrl", "RTRL", 4, 4.29, "PASS"),
        ("rtrl", "RTRL", 4, 4.31, "FAIL"),
        ("rtrl", "RTRL", 4, 4.0, "PASS"),
        ("bptt", "BPTT", 2, 1.71, "PASS"),
        ("bptt", "BPTT", 2, 2.31, "FAIL"),
        ("hybrid", "hybrid (h = S)", 3, 2.71, "PASS"),
        ("hybrid", "hybrid (h = S)", 3, 2.69, "FAIL"),
    ],
)
def test_time_exponent_within_0_3_of_theory(
    alg: str, name: str, theory: int, slope: float, verdict: str
) -> None:
    assert NAMES[alg] == name
    fitted, diff = _exponent("time/step vs n", alg, _fit(slope))
    assert fitted.startswith(f"{slope:.3g}")
    assert diff == f"{abs(slope - theory):.3g} ({verdict}: ≤ 0.3)"


def test_time_exponent_without_a_fit_has_no_verdict() -> None:
    assert _exponent("time/step vs n", "rtrl", None) == ("—", "—")
    # an algorithm without a tolerance gets its |diff| alone
    assert _exponent("time/step vs n", "tbptt", _fit(2.5))[1] == "0.5"


@pytest.mark.parametrize(
    ("slope", "verdict"), [(1.09, "PASS"), (0.91, "PASS"), (1.11, "FAIL"), (0.89, "FAIL")]
)
def test_bptt_memory_exponent_within_0_1_of_one(slope: float, verdict: str) -> None:
    _, diff = _exponent("temp bytes vs T", "bptt", _fit(slope, 1024, 4096))
    assert diff == f"{abs(slope - 1):.3g} ({verdict}: ≤ 0.1)"


def _T_row(alg: str, nbytes: int) -> dict:
    return n_sweep_row(alg, 64, key=f"{alg}-T", sweep="T", T=4096, mem_temp_size_in_bytes=nbytes)


@pytest.mark.parametrize(("checkpointed", "verdict"), [(100, "PASS"), (99, "PASS"), (101, "FAIL")])
def test_checkpointed_memory_ratio_at_most_0_1(checkpointed: int, verdict: str) -> None:
    got = _verdicts([_T_row("bptt", 1000), _T_row("checkpointed", checkpointed)])
    measured, v = got["checkpointed temp bytes / BPTT's at T = 4096 ≤ 0.10"]
    assert (float(measured), v) == (checkpointed / 1000, verdict)


@pytest.mark.parametrize(
    ("dtype", "err", "verdict"),
    [
        ("float32", 1e-5, "PASS"),
        ("float32", 1.1e-5, "FAIL"),
        ("float64", 1e-10, "PASS"),
        ("float64", 1.1e-10, "FAIL"),
    ],
)
def test_worst_relative_error_tolerances(dtype: str, err: float, verdict: str) -> None:
    rows = [
        n_sweep_row("rtrl", 64, dtype=dtype, rel_err=err / 2, label="small"),
        n_sweep_row("bptt", 64, dtype=dtype, rel_err=err, label="worst"),
        n_sweep_row("tbptt", 64, dtype=dtype, rel_err=1.0, label="biased, not exact"),
        n_sweep_row("torch", 64, dtype=dtype, rel_err=3 * err, label="a baseline"),
    ]
    got = _verdicts(rows)
    tol = "1e-05" if dtype == "float32" else "1e-10"
    assert got[f"exact algorithms: worst relative error, {dtype} ≤ {tol}"] == (
        f"{err:.3g}",
        verdict,
    )
    # the baselines' worst is listed, not judged
    assert got[f"baselines: worst relative error, {dtype}"] == (f"{3 * err:.3g}", "info")
