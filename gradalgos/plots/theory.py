"""The complexity exponents the measurements are compared with (DESIGN.md, fully connected
cell, P ≈ n²): each algorithm's own, from its ``AlgorithmInfo`` in the registry, plus the
two baselines (BPTT's cost)."""

from __future__ import annotations

from gradalgos.algorithms import registry

__all__ = ["MEMORY_VS_N", "MEMORY_VS_T", "TIME_VS_N"]

_INFO = {name: registry.info(name) for name in registry.names()}

#: Time per step ∝ n^k (T fixed; the hybrid with h = S); the baselines are BPTT's O(n²).
TIME_VS_N = {**{a: i.time_exponent for a, i in _INFO.items()}, "jax-scan": 2, "torch": 2}
#: XLA temp bytes ∝ T^k (n fixed).
MEMORY_VS_T = {**{a: i.memory_vs_T for a, i in _INFO.items()}, "jax-scan": 1}
#: XLA temp bytes ∝ n^k (T fixed); BPTT-like ones store T·n states plus an n² gradient: none.
MEMORY_VS_N = {a: i.memory_exponent for a, i in _INFO.items() if i.memory_exponent is not None}
