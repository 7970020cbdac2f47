"""Networks that read the whole input sequence before they output anything (bidirectional RNNs).

Such a network has the cell interface's ``init`` and ``initial_state`` (so its inputs are
validated like any cell's), but no forward time step: its output at t depends on inputs after t.
The sequence-level algorithms (BPTT, checkpointed BPTT, TBPTT) hand it to
:meth:`AbstractSequenceCell.value_and_grad_by`; every online method rejects it with
:func:`reject_sequence_cell` (called by their ``check_supported``).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import jax

from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["AbstractSequenceCell", "reject_sequence_cell"]


class AbstractSequenceCell(AbstractCell):
    """A network whose output at t depends on the whole sequence; no :meth:`step`.

    Subclasses implement :meth:`outputs` (the forward pass over one sequence) and
    :meth:`value_and_grad_by` (the batched loss and gradient by an offline algorithm).
    """

    #: What the network is, in words, for error messages ("a bidirectional network").
    kind: ClassVar[str] = "a network that reads the whole sequence"

    def step(self, params: Params, state: State, x: jax.Array) -> tuple[State, jax.Array]:
        raise TypeError(
            f"{type(self).__name__} has no forward time step: {self.kind} cannot be run "
            "forward in time only (its output at t depends on later inputs). Get its outputs "
            "with cell.outputs(params, state0, xs) and its gradient with ga.value_and_grad "
            "and BPTT(), CheckpointedBPTT() or TBPTT(k)"
        )

    @abc.abstractmethod
    def outputs(self, params: Params, state0: State, xs: jax.Array) -> tuple[State, jax.Array]:
        """One sequence ``xs (T, m)`` → ``(state_T, ys (T, o))``. Unbatched; vmap for batches."""

    @abc.abstractmethod
    def value_and_grad_by(
        self,
        algorithm: Any,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Any,
    ) -> tuple[jax.Array, Params, State]:
        """``algorithm.batched_value_and_grad`` for this network (validated, batched inputs:
        ``xs (B, T, m)``, state leaves ``(B, ...)``); called by the offline algorithms."""


def reject_sequence_cell(algorithm: Any, cell: AbstractCell) -> None:
    """Raise ``ValueError`` naming ``algorithm`` and ``cell`` if ``cell`` reads the whole
    sequence: an online method runs forward in time, step by step."""
    if isinstance(cell, AbstractSequenceCell):
        raise ValueError(
            f"{type(algorithm).__name__} is an online method (it runs forward in time, step by "
            f"step), but {type(cell).__name__} is {cell.kind}: {cell.kind} cannot be run "
            "forward in time only. Use BPTT(), CheckpointedBPTT() or TBPTT(k)"
        )
