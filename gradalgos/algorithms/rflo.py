"""Random-feedback online learning, RFLO (Murray, eLife 2019)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.feedback import check_feedback
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.trace_method import AbstractTraceAlgorithm
from gradalgos.cells.base import AbstractCell, State

__all__ = ["RFLO"]


@dataclasses.dataclass(frozen=True)
class RFLO(AbstractTraceAlgorithm):
    """RFLO: SnAp-1's one-step pattern with J^s replaced by the cell's leak,

        B_t[k, j] = (1 − α_k) B_{t-1}[k, j] + J^θ_t[k, j]     (k the entry θ_j touches)
        g_t = q̃_t·B_t + ∂ℓ_t/∂θ|readout

    For a leaky cell ``s_t = (1 − α)s_{t-1} + α φ(W â_t)``, J^θ = α φ'(a) âᵀ and this is
    Murray's eligibility trace. The learning signal ``q̃_t`` goes through a fixed random
    matrix B ``(o, S)`` (``feedback="random"``, feedback alignment; drawn from the key at
    ``init``) or is the exact ``∂ℓ_t/∂s_t`` (``"symmetric"``). With α = 1 it is
    :class:`Immediate` (with that learning signal). Biased. Time O(cost(step) + P) per step,
    memory O(P).

    Arguments:
        leak: α in (0, 1]; ``None`` takes the cell's own (``cell.leak_rate(dtype)``, e.g.
            CTRNN's dt/τ) and is an error for a cell without one.
        feedback: ``"random"`` (default, needs a key) or ``"symmetric"``.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "rflo",
        "RFLO",
        exact=False,
        online=True,
        stochastic=True,
        time_exponent=2,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Murray 2019",
    )
    leak: float | None = None
    feedback: str = "random"

    def __post_init__(self) -> None:
        if self.leak is not None:
            if isinstance(self.leak, bool) or not isinstance(self.leak, int | float):
                raise TypeError(f"RFLO: leak must be a number in (0, 1] or None, got {self.leak!r}")
            if not 0 < self.leak <= 1:
                raise ValueError(f"RFLO: leak must lie in (0, 1], got {self.leak}")
        check_feedback("RFLO", self.feedback)

    def leak_rates(self, cell: AbstractCell, state: State) -> jax.Array:
        """α per flat state entry ``(S,)``."""
        s = ravel_pytree(state)[0]
        if self.leak is not None:
            return jnp.full(s.shape, self.leak, s.dtype)
        own = getattr(cell, "leak_rate", None)
        if own is None:
            raise ValueError(
                f"RFLO(leak=None) takes the cell's own leak, but {type(cell).__name__} has none "
                "(no leak_rate method); pass RFLO(leak=α) with α in (0, 1]"
            )
        return jnp.broadcast_to(jnp.asarray(own(s.dtype), s.dtype).ravel(), s.shape)
