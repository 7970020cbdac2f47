"""XLA's scratch memory of a compiled ``ga.value_and_grad`` (a property of the program, not a
timing), shared by the memory tests."""

from __future__ import annotations

import jax

import gradalgos as ga


def temp_bytes(algorithm, cell, params, state0, xs, targets) -> int | None:
    """``temp_size_in_bytes`` of ``jax.jit(ga.value_and_grad)`` for these arguments, compiled
    and not run; ``None`` where the backend reports no memory analysis."""
    fn = jax.jit(lambda p, x, t: ga.value_and_grad(algorithm, cell, p, state0, x, t))
    stats = fn.lower(params, xs, targets).compile().memory_analysis()
    return None if stats is None else stats.temp_size_in_bytes
