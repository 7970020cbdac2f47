"""The fixed-size-storage BPTT/RTRL hybrid (Williams 1989; Schmidhuber 1992)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from gradalgos.algorithms.exact_online import AbstractSensitivityAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.cells.base import AbstractCell, check_positive_int

__all__ = ["Hybrid"]


@dataclasses.dataclass(frozen=True)
class Hybrid(AbstractSensitivityAlgorithm):
    """BPTT inside blocks of ``h`` steps, RTRL's sensitivity M (S×P) carried across blocks.

    Per block starting at b with carry (s_b, M_b), one forward and one reverse pass: the
    reverse pass carries S unit cotangents on s_{b+h}, which end as J = ∂s_{b+h}/∂s_b, and the
    block loss's cotangent, which ends as λ = ∂L_block/∂s_b; one time-contracted pull-back
    (a GEMM) gives D = ∂s_{b+h}/∂θ and another the in-block gradient g. Then gradient
    += g + λ·M_b and M_{b+h} = J·M_b + D
    (:func:`gradalgos.algorithms.sensitivity.block_pullback`).

    Time per step O(S·cost(step) + S·P + S²·P/h); with h = S (the default) and a fully
    connected cell, O(n³). Memory O(S·P + h·S²) = O(n³). Time falls with h and memory grows
    with it: at h = S the two h-dependent terms equal the h-independent ones (S²·P/h = S·P and
    h·S² = S·P for P ≈ S²), so time × memory is least near h = S. Exact for every h,
    including h not dividing T. As for RTRL, P counts the parameters the state depends on.

    Arguments:
        block: h ≥ 1, or ``None`` for the cell's state size S.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "hybrid",
        "hybrid (h = S)",
        exact=True,
        online=True,
        stochastic=False,
        time_exponent=3,
        memory_exponent=3,
        memory_vs_T=0,
        reference="Williams 1989; Schmidhuber 1992",
    )
    single_step: ClassVar[bool] = False

    block: int | None = None

    def __post_init__(self) -> None:
        if self.block is not None:
            check_positive_int("block", self.block)

    def block_length(self, cell: AbstractCell) -> int:
        return cell.state_size if self.block is None else self.block
