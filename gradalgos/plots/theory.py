"""The complexity exponents the measurements are compared with (DESIGN.md, fully connected
cell, P ≈ n²): each algorithm's own, from its :class:`~gradalgos.algorithms.info.AlgorithmInfo`
in :mod:`gradalgos.algorithms.registry`, plus the two baselines (BPTT's cost)."""

from __future__ import annotations

from gradalgos.algorithms import registry

__all__ = [
    "BASELINE_TIME_VS_N",
    "ELEMENTWISE_CELLS",
    "ELEMENTWISE_TIME_VS_N",
    "MEMORY_VS_N",
    "MEMORY_VS_T",
    "TIME_VS_N",
    "TIME_VS_T",
]

_INFO = {name: registry.info(name) for name in registry.names()}

#: The baselines compute BPTT's gradient: O(n²) per step, O(T) memory.
BASELINE_TIME_VS_N: dict[str, float] = {"jax-scan": 2, "torch": 2}

#: Time per step ∝ n^k (T fixed; the hybrid with h = S).
TIME_VS_N: dict[str, float] = {
    **{name: info.time_exponent for name, info in _INFO.items()},
    **BASELINE_TIME_VS_N,
}
#: Time per step ∝ T^k (n fixed): constant for all.
TIME_VS_T: dict[str, float] = dict.fromkeys((*_INFO, "jax-scan"), 0)
#: XLA temp bytes ∝ T^k (n fixed).
MEMORY_VS_T: dict[str, float] = {
    **{name: info.memory_vs_T for name, info in _INFO.items()},
    "jax-scan": 1,
}
#: XLA temp bytes ∝ n^k (T fixed). BPTT-like algorithms store T·n states plus an n² gradient:
#: no single exponent (``memory_exponent`` None), so none is listed for them.
MEMORY_VS_N: dict[str, float] = {
    name: info.memory_exponent for name, info in _INFO.items() if info.memory_exponent is not None
}
#: The registered cells whose state Jacobian is diagonal (block-diagonal with small blocks),
#: where RTRL takes its exact element-wise path, and P ∝ n.
ELEMENTWISE_CELLS: frozenset[str] = frozenset({"indrnn", "lru", "elementwise_lstm"})
#: Time per step ∝ n^k of an exact online method on those cells: O(P) per step.
ELEMENTWISE_TIME_VS_N: float = 1
