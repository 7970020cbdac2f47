"""The no-trace baseline: M̃_t = J^θ_t (only the current step's influence)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax

from gradalgos.algorithms.credit import add, check_readout, immediate_credit, step_pullback
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["Immediate", "ImmediateState"]


class ImmediateState(NamedTuple):
    """Carry of :class:`Immediate`: the cell's state only."""

    state: State


@dataclasses.dataclass(frozen=True)
class Immediate(AbstractOnlineAlgorithm):
    """The immediate-only estimate M̃_t = J^θ_t, with no memory of past steps:

        g_t = q_t·J^θ_t + ∂ℓ_t/∂θ|readout,     q_t = ∂ℓ_t/∂s_t

    one reverse pass of the step with cotangent q_t. The baseline every trace method must
    beat (Marschall et al. 2020); equal to RFLO with leak 1 and symmetric feedback. Biased.
    Time O(cost(step)) per step, memory O(S).
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "immediate",
        "immediate (M̃ = J^θ)",
        exact=False,
        online=True,
        stochastic=False,
        time_exponent=2,
        memory_exponent=1,
        memory_vs_T=0,
        reference="Marschall et al. 2020",
    )
    carry_type: ClassVar[type] = ImmediateState

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        check_readout(self, cell, params, state)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> ImmediateState:
        return ImmediateState(state)

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: ImmediateState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[ImmediateState, jax.Array, Params]:
        step = step_pullback(cell, params, carry.state, xs)
        credit = immediate_credit(cell, loss, params, step.state, xs, targets, mask)
        return (
            ImmediateState(step.state),
            credit.value,
            add(credit.direct, step.pull_params(credit.q)),
        )
