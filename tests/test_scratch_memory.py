"""XLA's scratch memory (``memory_analysis().temp_size_in_bytes``, a property of the compiled
program, not a timing) holds only what each algorithm's theory needs: BPTT for one sequence
O(T·n) with no copy of W_rec, TBPTT and checkpointed BPTT one n² window gradient, RTRL two
copies of M = ∂s/∂θ (the carried one and J·M), not three, and the hybrid's block three, not four."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import gradalgos as ga
from gradalgos.cells.dependence import num_state_params
from tests.memory import temp_bytes

F32_BYTES = 4


def _temp_bytes(algorithm, n: int, T: int) -> tuple[int, ga.cells.Elman]:
    """Scratch bytes of ``ga.value_and_grad`` on one float32 sequence through an Elman cell
    (m = o = 4), compiled, not run."""
    cell = ga.cells.Elman(input_size=4, hidden_size=n, output_size=4)
    k_par, k_x, k_y = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k_par, jnp.float32)
    xs = jax.random.normal(k_x, (1, T, 4), jnp.float32)
    targets = jax.random.normal(k_y, (1, T, 4), jnp.float32)
    state0 = jnp.zeros((1, n), jnp.float32)
    temp = temp_bytes(algorithm, cell, params, state0, xs, targets)
    if temp is None:
        pytest.skip("this backend reports no memory analysis")
    return temp, cell


def test_bptt_on_one_sequence_needs_no_n_squared_scratch() -> None:
    """A transposed copy of W_rec (n² numbers, made on every call) would be 1 MiB here; the
    states and the step's temporaries of T = 16 steps are a few KiB."""
    n = 512
    temp, _ = _temp_bytes(ga.BPTT(), n, T=16)
    assert temp < 0.5 * n * n * F32_BYTES, temp


@pytest.mark.parametrize(
    "algorithm", [ga.TBPTT(4), ga.CheckpointedBPTT()], ids=["tbptt", "checkpointed"]
)
def test_windowed_bptt_holds_one_window_gradient_not_a_copy_of_w_rec(algorithm) -> None:
    """Each window (segment) computes its own ∂L/∂W_rec before adding it to the total: one n²
    buffer. A second would be a copy of W_rec made in every window."""
    n = 512
    temp, _ = _temp_bytes(algorithm, n, T=16)
    assert temp < 1.5 * n * n * F32_BYTES, temp


@pytest.mark.parametrize("n", [32, 64])
def test_rtrl_step_loop_holds_two_copies_of_the_sensitivity(n: int) -> None:
    """The loop carries M (S·P numbers) and computes J·M into a second buffer, then writes
    M' = J·M + D over M. Reading M in two separate products (J·M and λ·M) made XLA copy M
    at every step: a third S·P buffer."""
    temp, cell = _temp_bytes(ga.RTRL(), n, T=50)
    sensitivity_bytes = n * num_state_params(cell) * F32_BYTES
    assert temp < 2.5 * sensitivity_bytes, temp / sensitivity_bytes


@pytest.mark.parametrize("n", [64, 96])
def test_hybrid_block_holds_three_sensitivity_sized_buffers(n: int) -> None:
    """One propagating block at h = S keeps M (S·P numbers), every Λ_t (h·S² ≈ S·P for a
    dense cell) and D, over which M' = J·M + D is written. A separate BPTT pass of the block's
    loss beside the pass for J and D (two forward and two reverse loops) held a fourth
    (measured: 3.95 S·P-sized buffers; 3.03 now). Below n = 64 the inputs and per-step
    vectors are no longer small beside S·P."""
    temp, cell = _temp_bytes(ga.Hybrid(), n, T=2 * n)
    sensitivity_bytes = n * num_state_params(cell) * F32_BYTES
    assert temp < 3.5 * sensitivity_bytes, temp / sensitivity_bytes
