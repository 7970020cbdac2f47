"""The complexity exponents the measurements are compared with (DESIGN.md, fully connected
cell, P ≈ n²)."""

from __future__ import annotations

__all__ = ["MEMORY_VS_N", "MEMORY_VS_T", "TIME_VS_N", "TIME_VS_T"]

#: Time per step ∝ n^k (T fixed; the hybrid with h = S).
TIME_VS_N: dict[str, float] = {
    "bptt": 2,
    "checkpointed": 2,
    "tbptt": 2,
    "jax-scan": 2,
    "torch": 2,
    "rtrl": 4,
    "hybrid": 3,
}
#: Time per step ∝ T^k (n fixed): constant for all.
TIME_VS_T: dict[str, float] = dict.fromkeys(
    ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid", "jax-scan"), 0
)
#: XLA temp bytes ∝ T^k (n fixed).
MEMORY_VS_T: dict[str, float] = {
    "bptt": 1,
    "jax-scan": 1,
    "checkpointed": 0.5,
    "tbptt": 0,
    "rtrl": 0,
    "hybrid": 0,
}
#: XLA temp bytes ∝ n^k (T fixed). BPTT-like algorithms store T·n states plus an n² gradient:
#: no single exponent, so none is listed for them.
MEMORY_VS_N: dict[str, float] = {"rtrl": 3, "hybrid": 3}
