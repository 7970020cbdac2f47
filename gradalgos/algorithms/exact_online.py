"""The exact online methods' shared part: carry ``(s, M = ∂s/∂θ)`` (RTRL, the hybrid)."""

from __future__ import annotations

from typing import ClassVar

import jax
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.online import AbstractOnlineAlgorithm, batch_mean
from gradalgos.algorithms.sensitivity import (
    SensitivityState,
    advance_block,
    initial_sensitivity,
    sensitivity_sequence,
)
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["AbstractSensitivityAlgorithm"]


class AbstractSensitivityAlgorithm(AbstractOnlineAlgorithm):
    """An exact online method carrying the dense sensitivity M_t = ∂s_t/∂θ, leaves
    ``(S, *leaf.shape)`` (``None`` for readouts, whose ∂s/∂θ is 0): memory O(S·P_s), P_s ≤ P
    the parameters the state depends on. Offline it runs blocks of
    :meth:`block_length` steps with :func:`gradalgos.algorithms.sensitivity.sensitivity_sequence`.
    """

    carry_type: ClassVar[type] = SensitivityState

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> SensitivityState:
        return SensitivityState(state, initial_sensitivity(cell, params, state))

    def check_carry(self, cell: AbstractCell, params: Params, carry: SensitivityState) -> None:
        from gradalgos._validation import check_sensitivity

        check_sensitivity(cell, params, carry)

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: SensitivityState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[SensitivityState, jax.Array, Params]:
        s, unravel_state = ravel_pytree(carry.state)
        s, M, value, grads = advance_block(
            cell,
            loss,
            unravel_state,
            params,
            s,
            carry.sensitivity,
            xs,
            targets,
            mask,
            single_step=self.single_step,
            propagate=True,
        )
        return SensitivityState(unravel_state(s), M), value, grads

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
        block = self.block_length(cell)

        def one(s0, x, t, m):
            return sensitivity_sequence(cell, loss, block, params, s0, x, t, m)

        return batch_mean(*jax.vmap(one)(state0, xs, targets, mask))
