"""``benchmarks/hybrid_breakdown.py``: its parts compute what they claim, and it runs end to end."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def breakdown():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("hybrid_breakdown")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_parts_compute_the_same_quantities_as_the_block(breakdown) -> None:
    """The timed parts are pieces of the same block: the scans' J equals the full pull-back's,
    and the two layouts of D's contraction hold the same sums."""
    n = 6
    out = {name: fn() for name, fn in breakdown.parts(n).items()}
    s_new, M_new, _, _ = out["block"]
    pull = out["pullback"]
    np.testing.assert_allclose(out["scans"][0], pull.J, rtol=1e-6)
    np.testing.assert_allclose(out["scans"][1], pull.lam, rtol=1e-6)
    np.testing.assert_allclose(s_new, pull.state, rtol=1e-6)
    carried = {k: m.shape for k, m in M_new.items() if m is not None}
    assert carried == {k: pull.D[k].shape for k in ("W_in", "W_rec", "b")}
    tn, nn = np.asarray(out["d_tn"]), np.asarray(out["d_nn"])
    assert tn.shape == (n * n, n) and nn.shape == (n, n * n)
    np.testing.assert_allclose(tn, nn.T, rtol=1e-5, atol=1e-5)
    f = breakdown.flops(n)
    P = n * n + n * breakdown.M_IN + n
    assert f == {"scans": 2.0 * n**4, "D": 2.0 * n * n * P, "JM": 2.0 * n * n * P}


def test_slope_recovers_a_known_exponent(breakdown) -> None:
    rows = [{"n": n, "t": 3e-9 * n**3.5} for n in (64, 128, 256, 512)]
    assert breakdown.slope(rows, "t") == pytest.approx(3.5)
    assert breakdown.slope(rows, "t", n_min=512) is None  # one point: no slope


def test_script_runs_and_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "breakdown.json"
    cmd = [sys.executable, str(BENCHMARKS / "hybrid_breakdown.py")]
    cmd += ["--n", "4", "8", "--repeats", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    result = json.loads(out.read_text())
    assert [r["n"] for r in result["rows"]] == [4, 8]
    for row in result["rows"]:
        for part in ("block", "pullback", "scans", "products", "gemm_loop", "gemm_big"):
            assert row[f"{part}_s"] > 0
        assert math.isfinite(row["block_gflops"]) and row["parts_over_block"] > 0
    assert set(result["exponents_from_n128"].values()) == {None}  # no n ≥ 128 given
    assert result["meta"]["repeats"] == 1 and result["meta"]["code_version"]


def test_interleaved_alternates_the_order_and_returns_medians(breakdown) -> None:
    """The shared timer runs its functions in alternation, reversing the order every other round
    (no function always first), and returns one median per function."""
    calls: list[str] = []

    def record(name: str):
        def fn():
            calls.append(name)
            return np.zeros(())

        return fn

    times = breakdown.interleaved({"a": record("a"), "b": record("b")}, repeats=3)
    warm_up, rounds = calls[:2], calls[2:]
    assert warm_up == ["a", "b"] and rounds == ["a", "b", "b", "a", "a", "b"]
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
