"""XLA's scratch memory (``memory_analysis().temp_size_in_bytes``, a property of the compiled
program, not a timing) holds only what each algorithm's theory needs: BPTT for one sequence
O(T·n) with no copy of W_rec, TBPTT and checkpointed BPTT one n² window gradient, RTRL two
copies of M = ∂s/∂θ (the carried one and J·M), not three, and the hybrid's block three, not four.

Each bound is ``k`` buffers of the size the test is about (S·P_s for M, n² for W_rec), plus
half such a buffer and a slack in the sizes of everything else (S², T·n), both stated below;
each test also checks that the margins stay below one such buffer, so one buffer more fails
whatever XLA version compiled it, while XLA's small temporaries may change."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import gradalgos as ga
from gradalgos.cells.dependence import num_state_params
from tests.memory import temp_bytes

F32_BYTES = 4
#: Fixed overhead allowed in every bound (scalars, the loop counters, XLA's small buffers).
FIXED = 16 * 1024


def _temp_bytes(algorithm, n: int, T: int) -> tuple[int, ga.cells.Elman]:
    """Scratch bytes of ``ga.value_and_grad`` on one float32 sequence through an Elman cell
    (m = o = 4), compiled, not run."""
    cell = ga.cells.Elman(input_size=4, hidden_size=n, output_size=4)
    k_par, k_x, k_y = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k_par, jnp.float32)
    xs = jax.random.normal(k_x, (1, T, 4), jnp.float32)
    targets = jax.random.normal(k_y, (1, T, 4), jnp.float32)
    state0 = jnp.zeros((1, n), jnp.float32)
    return temp_bytes(algorithm, cell, params, state0, xs, targets), cell


def _sequence_slack(n: int, T: int) -> int:
    """What a BPTT pass over T steps may keep besides the buffers a test is about: its states,
    pre-activations and their cotangents, a few T·n numbers (measured on jax 0.10, XLA:CPU:
    3.2–3.3·T·n for BPTT, 1.9·T·n beside the window gradient), allowed 8·T·n, plus ``FIXED``."""
    return 8 * T * n * F32_BYTES + FIXED


def test_bptt_on_one_sequence_needs_no_n_squared_scratch() -> None:
    """A transposed copy of W_rec (n² numbers, made on every call) would be 1 MiB here; the
    states and the step's temporaries of T = 16 steps fit ``_sequence_slack`` (~270 KiB)."""
    n, T = 512, 16
    temp, _ = _temp_bytes(ga.BPTT(), n, T)
    bound = _sequence_slack(n, T)
    assert bound < n * n * F32_BYTES  # the check can tell a copy of W_rec (~4x below it)
    assert temp <= bound, (temp, bound)


@pytest.mark.parametrize(
    "algorithm", [ga.TBPTT(4), ga.CheckpointedBPTT()], ids=["tbptt", "checkpointed"]
)
def test_windowed_bptt_holds_one_window_gradient_not_a_copy_of_w_rec(algorithm) -> None:
    """Each window (segment) computes its own ∂L/∂W_rec before adding it to the total: one n²
    buffer. A second would be a copy of W_rec made in every window."""
    n, T = 512, 16
    temp, _ = _temp_bytes(algorithm, n, T)
    w_rec = n * n * F32_BYTES
    margin = _sequence_slack(n, T)
    assert margin < w_rec  # the check can tell a second n² buffer
    assert temp <= w_rec + margin, (temp / w_rec, margin / w_rec)


def _sensitivity_bound(cell: ga.cells.Elman, copies: int) -> tuple[int, int]:
    """``(bound, one copy of M)`` in bytes for a program that should hold ``copies`` buffers of
    S·P_s numbers: ``(copies + ½)·S·P_s·4 + 8·S²·4 + FIXED``. The half copy leaves XLA room to
    keep part of a buffer alive or pad it; the S² term covers the buffers that are not M
    (J, the λ·M row of [J; λ]·M, the per-step vectors and inputs: measured 2.3–4.6·S² numbers
    on jax 0.10, XLA:CPU, for n = 32…96)."""
    S = cell.state_size
    one = S * num_state_params(cell) * F32_BYTES
    margin = one // 2 + 8 * S * S * F32_BYTES + FIXED
    assert margin < one  # the check can tell one more copy of M
    return copies * one + margin, one


@pytest.mark.parametrize("n", [32, 64])
def test_rtrl_step_loop_holds_two_copies_of_the_sensitivity(n: int) -> None:
    """The loop carries M (S·P numbers) and computes J·M into a second buffer, then writes
    M' = J·M + D over M. Reading M in two separate products (J·M and λ·M) made XLA copy M
    at every step: a third S·P buffer (measured now: 2.04–2.12 S·P-sized buffers)."""
    temp, cell = _temp_bytes(ga.RTRL(), n, T=50)
    bound, one = _sensitivity_bound(cell, copies=2)
    assert temp <= bound, (temp / one, bound / one)


@pytest.mark.parametrize("n", [64, 96])
def test_hybrid_block_holds_three_sensitivity_sized_buffers(n: int) -> None:
    """One propagating block at h = S keeps M (S·P numbers), every Λ_t (h·S² ≈ S·P for a
    dense cell) and D, over which M' = J·M + D is written. A separate BPTT pass of the block's
    loss beside the pass for J and D (two forward and two reverse loops) held a fourth
    (measured: 3.95 S·P-sized buffers; 3.02–3.03 now). Below n = 64 the inputs and per-step
    vectors are no longer small beside S·P."""
    temp, cell = _temp_bytes(ga.Hybrid(), n, T=2 * n)
    bound, one = _sensitivity_bound(cell, copies=3)
    assert temp <= bound, (temp / one, bound / one)
