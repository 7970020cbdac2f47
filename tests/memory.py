"""XLA's scratch memory of a compiled ``ga.value_and_grad`` (a property of the program, not a
timing), shared by the memory tests.

Only public JAX is used (``jax.jit(...).lower(...).compile().memory_analysis()``). The number
is XLA's buffer assignment, which may shift between JAX/XLA versions by small temporaries, so
tests compare it with bounds stated in the sizes of the buffers they are about (S·P for the
sensitivity M, n² for a copy of W_rec, T·… for a copy of the inputs), each with a margin of a
fraction of one such buffer: robust to small changes, not to one buffer more."""

from __future__ import annotations

import jax
import pytest

import gradalgos as ga


def temp_bytes(algorithm, cell, params, state0, xs, targets) -> int:
    """``temp_size_in_bytes`` of ``jax.jit(ga.value_and_grad)`` for these arguments, compiled
    and not run. Skips the calling test where the backend reports no memory analysis."""
    fn = jax.jit(lambda p, x, t: ga.value_and_grad(algorithm, cell, p, state0, x, t))
    compiled = fn.lower(params, xs, targets).compile()
    try:
        stats = compiled.memory_analysis()
    except NotImplementedError:  # pragma: no cover - backend dependent
        stats = None
    temp = getattr(stats, "temp_size_in_bytes", None)
    if temp is None:  # pragma: no cover - backend dependent
        pytest.skip("this backend reports no memory analysis")
    return int(temp)
