"""e-prop (Bellec et al., Nat. Commun. 2020), for rate cells."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gradalgos.algorithms.feedback import check_feedback
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.trace_method import AbstractTraceAlgorithm

__all__ = ["EProp"]


@dataclasses.dataclass(frozen=True)
class EProp(AbstractTraceAlgorithm):
    """e-prop: an eligibility trace per synapse over its neuron's own state, times a learning
    signal ``L_t = ∂E_t/∂s_t`` with no future credit,

        ε_t[k, j] = Σ_k' J^s_t[k, k'] ε_{t-1}[k', j] + J^θ_t[k, j]     (k, k' in θ_j's unit)
        g_t = L_t·ε_t + ∂ℓ_t/∂θ|readout

    **The definition used here**: a unit's "own state" is the set of state entries its
    parameters touch in one step (h for a vanilla cell, (h, c) for an LSTM), its dynamics the
    matching block of J^s *including* the self-connection through the recurrent weights. So
    e-prop's traces are SnAp-1's, and with ``feedback="symmetric"`` (L_t = ∂ℓ_t/∂s_t through
    the readout's transpose) ``EProp()`` equals ``SnAp(1)`` (tested); ``"random"`` sends L_t
    through a fixed random matrix B ``(o, S)`` (Bellec et al.'s random e-prop; needs a key).
    Bellec et al.'s spiking neurons' internal state (membrane, adaptation) excludes the
    recurrent synapses; for a leaky rate cell that variant is :class:`RFLO`. Biased.
    Time and memory as SnAp-1: O(cost(step) + P) per step for a cell with
    ``state_jacobian_entries`` (else O(S·cost(step))), memory O(C·P).

    Arguments:
        feedback: ``"symmetric"`` (default) or ``"random"``.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "eprop",
        "e-prop",
        exact=False,
        online=True,
        stochastic=False,
        time_exponent=2,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Bellec et al. 2020",
    )
    feedback: str = "symmetric"

    def __post_init__(self) -> None:
        check_feedback("EProp", self.feedback)
