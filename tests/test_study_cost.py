"""The study's cost columns: carry bytes and FLOPs against hand counts, loop detection, BPTT's
step beside each method, and the findings drawn from them (synthetic rows). No assertion is about
how long anything took."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import gradalgos as ga
from gradalgos.study import page
from gradalgos.study.configs import task
from gradalgos.study.cost import carry_bytes, has_loop, scanned_costs, step_cost

N, IO, T = 16, 4, 12


@pytest.fixture(scope="module")
def elman():
    cell = ga.cells.Elman(IO, N, IO)
    params, state0, xs, targets = task(cell, T, jax.random.key(0))
    return cell, params, state0, xs, targets


def test_carry_bytes_count_every_leaf_and_key_data(elman) -> None:
    cell, params, state0, *_ = elman
    P_state = N * N + N * IO + N  # W, U and b of the state update (float32)
    rtrl = ga.RTRL().init(cell, params, state0)
    assert carry_bytes(rtrl) == 4 * N * (1 + P_state)  # the state and M = ∂s/∂θ
    assert carry_bytes(ga.Immediate().init(cell, params, state0)) == 4 * N  # the state alone
    key = jax.random.key(0)
    assert carry_bytes({"k": key}) == jax.random.key_data(key).nbytes


def test_has_loop_sees_float_loops_only() -> None:
    x = jnp.ones(4)

    def scanned(x):
        return jax.lax.scan(lambda c, _: (c * 2.0, None), x, None, length=3)[0]

    def int_loop(x):
        return x * jax.lax.fori_loop(0, 3, lambda i, c: c + i, 0)

    def compiled(f):
        return jax.jit(f).lower(x).compile()

    assert has_loop(compiled(scanned)) is True
    assert has_loop(compiled(int_loop)) is False
    assert has_loop(compiled(jnp.sin)) is False
    assert has_loop(object()) is None


def test_step_and_bptt_flops_against_hand_counts(elman) -> None:
    """Elman, o = m = IO: BPTT's step is ≈ 6n² + 4nm + 6on multiply-adds ×1 (forward W·h, U·x,
    V·h; backward dW, Wᵀδ, dU, dV, Vᵀe); RTRL's step holds J·M, 2·S²·P_state FLOPs."""
    cell, params, state0, xs, targets = elman
    bptt, (uoro,) = scanned_costs([ga.UORO()], cell, params, state0, xs, targets, repeats=1)
    hand = 6 * N * N + 4 * N * IO + 6 * IO * N
    assert 0.9 * hand <= bptt["bptt_flops_per_step"] <= 1.6 * hand
    assert bptt["bptt_time_per_step_s"] > 0
    P_state = N * N + N * IO + N
    rtrl = step_cost(ga.RTRL(), cell, params, state0, repeats=1)
    assert 2 * N * N * P_state <= rtrl["flops_per_step"] <= 1.5 * 2 * N * N * P_state
    assert rtrl["carry_bytes"] == 4 * N * (1 + P_state) and rtrl["xla_bytes"] > 0
    assert uoro > 0  # a keyed method scanned


def _row(method: str, n: int, flops: float, scan: float, bptt: float = 1e-6) -> dict:
    return {
        "method": method,
        "cell": "Elman",
        "n": n,
        "T": 50,
        "flops_per_step": flops,
        "scan_time_per_step_s": scan,
        "bptt_time_per_step_s": bptt,
        "cosine": [0.5],
    }


def test_cost_findings_from_synthetic_rows() -> None:
    """FLOPs ×4.2 from n = 128 to 256 (SnAp-1: slope log2 4.2 = 2.07, within 0.2 of 2), ×5 for
    RFLO (2.32: not), ×8 for KF-RTRL (3, theory 3). Scanned at n = 256: SnAp-1 3.5×, RFLO 4.5×
    BPTT's step; KF-RTRL (O(n³)) is not judged against 4×."""
    rows = []
    for method, f128, f256, ratio in (
        ("SnAp-1", 1e5, 4.2e5, 3.5),
        ("RFLO", 1e5, 5e5, 4.5),
        ("KF-RTRL", 1e6, 8e6, 50.0),
    ):
        rows += [_row(method, 128, f128, 1e-6), _row(method, 256, f256, ratio * 1e-6)]
    theory = {"SnAp-1": 2, "RFLO": 2, "KF-RTRL": 3}
    result = {
        "meta": {"lengths": [50], "theory": {m: {"time_exponent": k} for m, k in theory.items()}},
        "rows": rows,
    }
    ratio, slopes = page.cost_findings(result)
    assert ratio == (
        "At n = 256 on Elman, a step of the O(n²) methods, scanned over T in one call, costs "
        "3.50× (SnAp-1) to 4.50× (RFLO) BPTT's step: 1 of 2 within 4× (over: RFLO 4.5×)."
    )
    assert slopes.endswith("for 2 of 3 methods; not: RFLO 2.32 vs 2.")
    assert page.scan_ratio(rows[1]) == pytest.approx(3.5)
    assert page.scan_ratio({"scan_time_per_step_s": None}) is None
