"""SnAp-n, the sparse n-step approximation of RTRL (Menick et al., ICLR 2021)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.trace_method import AbstractTraceAlgorithm
from gradalgos.cells.base import check_positive_int

__all__ = ["SnAp"]


@dataclasses.dataclass(frozen=True)
class SnAp(AbstractTraceAlgorithm):
    """SnAp-n: RTRL's recursion with M̃ kept only where a parameter reaches within n steps,

        M̃_t = Mask_n ⊙ (J^s_t M̃_{t-1} + J^θ_t),     g_t = q_t·M̃_t + ∂ℓ_t/∂θ|readout

    (``q_t = ∂ℓ_t/∂s_t``; the published form, which differs from RTRL's λ·M̃_{t-1} form for
    a masked M̃). ``Mask_n[k, θ_j] = 1`` iff θ_j can change state entry k within n steps,
    derived from the cell's step (:mod:`gradalgos.cells.structure`). SnAp-1 keeps the entries
    a parameter changes in one step (the pattern of J^θ), widened to whole blocks where J^s is
    block-diagonal with blocks of ≤ 8 entries: one number per parameter for a vanilla cell,
    C = 2 for an LSTM's (h_i, c_i), all S for a GRU's reset-gate weights (they reach every
    h̃_i). Biased; exact where J^s is (block-)diagonal (IndRNN, LRU, element-wise LSTM).
    SnAp-2 pays off on sparse recurrent weights (on a dense one it is RTRL).

    Time per step O(C·cost(step) + C²·P) with C the largest mask (colours, see
    :mod:`gradalgos.algorithms.traces`), memory O(C·P): O(n²) for SnAp-1 on a fully
    connected vanilla cell whose family provides ``state_jacobian_entries`` (Elman, CTRNN;
    other dense cells pay S forward passes per step for J^s's diagonal, O(S·cost(step))).

    Arguments:
        order: n ≥ 1.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "snap",
        "SnAp-1",
        exact=False,
        online=True,
        stochastic=False,
        time_exponent=2,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Menick et al. 2021",
    )
    order: int = 1

    def __post_init__(self) -> None:
        check_positive_int("order", self.order)

    def trace_order(self) -> int:
        return self.order
