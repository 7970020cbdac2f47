"""The shared body of the trace methods (SnAp-n, RFLO, e-prop): carry, checks and step."""

from __future__ import annotations

from typing import ClassVar

import jax

from gradalgos.algorithms.credit import check_readout
from gradalgos.algorithms.feedback import random_feedback
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.algorithms.traces import TraceState, initial_traces, trace_plan, trace_step
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.structure import cell_structure, readout_function

__all__ = ["AbstractTraceAlgorithm"]


class AbstractTraceAlgorithm(AbstractOnlineAlgorithm):
    """A method whose carry is masked traces (:mod:`gradalgos.algorithms.traces`).

    Subclasses set the mask's order (:meth:`trace_order`), may replace J^s by a leak
    (:meth:`leak_rates`) and may send the learning signal through a fixed random matrix
    (a ``feedback`` field equal to ``"random"``).
    """

    carry_type: ClassVar[type] = TraceState

    def trace_order(self) -> int | None:
        """SnAp's n (``None``: the exact support)."""
        return 1

    def leak_rates(self, cell: AbstractCell, state: State) -> jax.Array | None:
        """``None`` to propagate with J^s, else α ``(S,)`` (J^s's blocks → 1 − α)."""
        return None

    @property
    def random_feedback(self) -> bool:
        """Whether the learning signal goes through a fixed random matrix."""
        return getattr(self, "feedback", "symmetric") == "random"

    @property
    def needs_key(self) -> bool:
        return self.random_feedback

    @property
    def noise_per_step(self) -> bool:
        return False  # the key draws the feedback matrix once, at init

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        check_readout(self, cell, params, state)
        if self.random_feedback and not readout_function(cell, params, state).uses_params:
            raise ValueError(
                f"{self!r} does not apply to {type(cell).__name__}: random feedback stands in for "
                "the transpose of a learned read-out, and this cell's output has no parameters "
                "to align with it (its output is its state); use feedback='symmetric'"
            )
        self.leak_rates(cell, state)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> TraceState:
        plan = trace_plan(cell_structure(cell, params, state), self.trace_order())
        feedback = random_feedback(cell, state, key) if self.random_feedback else None
        return TraceState(state, initial_traces(cell, params, state, plan), feedback)

    def check_carry(self, cell: AbstractCell, params: Params, carry: TraceState) -> None:
        from gradalgos._validation import check_traces

        check_traces(self, cell, params, carry, self.trace_order())

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: TraceState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[TraceState, jax.Array, Params]:
        order, leak = self.trace_order(), self.leak_rates(cell, carry.state)
        return trace_step(cell, loss, params, carry, xs, targets, mask, order=order, leak=leak)
