"""Small pieces shared by the built-in cells: argument checks, gate blocks and the read-out."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.cells.initializers import scaled_normal

__all__ = [
    "check_positive_float",
    "check_sizes",
    "gate_params",
    "linear_readout",
    "readout_params",
]


def check_sizes(cell: Any, *names: str) -> None:
    """``check_positive_int`` on each named field of ``cell``."""
    for name in names:
        check_positive_int(name, getattr(cell, name))


def check_positive_float(name: str, value: Any) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a positive number, got {value!r} ({type(value).__name__})")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def readout_params(key: jax.Array, n: int, o: int, dtype: Any) -> dict[str, jax.Array]:
    """``W_out (o, n)`` ~ N(0, 1/n) and ``b_out (o,)`` = 0 for :func:`linear_readout`."""
    return {"W_out": scaled_normal(key, (o, n), n, dtype), "b_out": jnp.zeros((o,), dtype)}


def linear_readout(params: dict[str, jax.Array], h: jax.Array) -> jax.Array:
    """``y = W_out h + b_out``: ``h (n,)`` → ``y (o,)``. O(o·n)."""
    return params["W_out"] @ h + params["b_out"]


def gate_params(key: jax.Array, gates: int, n: int, m: int, dtype: Any) -> dict[str, jax.Array]:
    """Stacked weights of ``gates`` blocks of n units: ``W_x (g·n, m)`` ~ N(0, 1/m),
    ``W_h (g·n, n)`` ~ N(0, 1/n) and ``b (g·n,)`` = 0."""
    k_x, k_h = jax.random.split(key)
    return {
        "W_x": scaled_normal(k_x, (gates * n, m), m, dtype),
        "W_h": scaled_normal(k_h, (gates * n, n), n, dtype),
        "b": jnp.zeros((gates * n,), dtype),
    }
