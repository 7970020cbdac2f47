"""Real-time recurrent learning (Robinson & Fallside 1987; Williams & Zipser 1989)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax

from gradalgos.algorithms.exact_online import AbstractSensitivityAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sensitivity import SensitivityState
from gradalgos.algorithms.sequence import Loss
from gradalgos.algorithms.traces import TraceState, initial_traces, trace_plan, trace_step
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.structure import cell_structure

__all__ = ["RTRL"]


@dataclasses.dataclass(frozen=True)
class RTRL(AbstractSensitivityAlgorithm):
    """Real-time recurrent learning: carry the sensitivity M_t = ∂s_t/∂θ (S×P) forward,

        M_t = J^s_t · M_{t-1} + J^θ_t,     dℓ_t/dθ = ∂ℓ_t/∂θ|direct + ∂ℓ_t/∂s_{t-1} · M_{t-1}

    **Dense path** (any cell): J^s_t ``(S, S)`` and J^θ_t ``(S, P)`` come from one ``jax.vjp``
    of the step pulled back along the S unit vectors (``jax.vmap``), so J^θ is never formed
    from a P×P identity; J^s·M is a single GEMM per parameter leaf (M is stored per leaf,
    leaves ``(S, *leaf.shape)``; see :class:`SensitivityState`). Time O(S²·P + S·cost(step))
    per step: O(n⁴) fully connected. Memory O(S·P) = O(n³), independent of T.

    **Element-wise path** (chosen automatically): where J^s is block-diagonal with small
    blocks (at most 8 entries, and at most S/2) and each parameter feeds one block — IndRNN,
    LRU, element-wise LSTM — M is zero off each parameter's block at every step, so the carry
    keeps only those entries (:class:`TraceState`, leaves ``(C, *leaf.shape)``, C the block
    size): time and memory O(C²·P) per step, still exact (Zucchet et al. 2023; Irie et al.
    2024). The structure is derived from the cell's step (:mod:`gradalgos.cells.structure`).

    P counts the parameters the state depends on (readouts carry nothing). Offline:
    :func:`gradalgos.value_and_grad`. Online: :meth:`init`, then :meth:`step` at every time
    step (with fixed weights, the per-step gradients sum to the full gradient).
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "rtrl",
        "RTRL",
        exact=True,
        online=True,
        stochastic=False,
        time_exponent=4,
        memory_exponent=3,
        memory_vs_T=0,
        reference="Williams & Zipser 1989",
    )

    def carry_types(self, cell: AbstractCell) -> tuple[type, ...]:
        return (SensitivityState, TraceState)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> SensitivityState | TraceState:
        if elementwise(cell, params, state):
            plan = trace_plan(cell_structure(cell, params, state), None)
            return TraceState(state, initial_traces(cell, params, state, plan))
        return super().initial_carry(cell, params, state, key)

    def check_carry(self, cell: AbstractCell, params: Params, carry) -> None:
        want = TraceState if elementwise(cell, params, carry.state) else SensitivityState
        if not isinstance(carry, want):
            raise TypeError(
                f"carry must be the {want.__name__} that RTRL().init builds for "
                f"{type(cell).__name__}, got {type(carry).__name__}"
            )
        if want is SensitivityState:
            super().check_carry(cell, params, carry)

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ):
        if isinstance(carry, TraceState):
            return trace_step(cell, loss, params, carry, xs, targets, mask, order=None)
        return super().update(cell, loss, params, carry, xs, targets, mask)

    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, Params, State]:
        if elementwise(cell, params, cell.initial_state(xs.dtype)):
            return AbstractOnlineAlgorithm.batched_value_and_grad(
                self, cell, params, state0, xs, targets, mask, loss, key
            )
        return super().batched_value_and_grad(cell, params, state0, xs, targets, mask, loss, key)


def elementwise(cell: AbstractCell, params: Params, state: State) -> bool:
    """Whether RTRL takes its O(P) element-wise path for this cell (see :class:`RTRL`)."""
    structure = cell_structure(cell, params, state)
    limit = min(8, structure.state_size // 2)
    return structure.block_diagonal(limit)
