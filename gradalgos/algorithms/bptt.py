"""Back-propagation through time: reverse-mode AD through ``lax.scan``."""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import jax

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.sequence import Loss, batch_loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.sequence_cell import AbstractSequenceCell

__all__ = ["BPTT"]


@dataclasses.dataclass(frozen=True)
class BPTT(AbstractAlgorithm):
    """Full back-propagation through time (Rumelhart et al. 1986; Werbos 1990).

    Exact. Time O(T·cost(step)) ≈ 3× the forward pass (O(n²) per step for a fully connected
    cell); memory O(T·S): every state is stored for the backward pass.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "bptt",
        "BPTT",
        exact=True,
        online=False,
        stochastic=False,
        time_exponent=2,
        memory_exponent=None,
        memory_vs_T=1,
        reference="Rumelhart et al. 1986; Werbos 1990",
    )

    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
    ) -> tuple[jax.Array, Params, State]:
        if isinstance(cell, AbstractSequenceCell):  # e.g. a bidirectional network
            return cell.value_and_grad_by(self, params, state0, xs, targets, mask, loss)
        fn = functools.partial(batch_loss, cell, loss)
        (value, state_T), grads = jax.value_and_grad(fn, has_aux=True)(
            params, state0, xs, targets, mask
        )
        return value, grads, state_T
