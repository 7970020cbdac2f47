"""Weight initialisers shared by the cells (pure functions of a PRNG key)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["RECURRENT_INITS", "recurrent_matrix", "scaled_normal"]

RECURRENT_INITS = ("normal", "orthogonal", "identity")


def scaled_normal(key: jax.Array, shape: tuple[int, ...], fan_in: int, dtype: Any) -> jax.Array:
    """N(0, 1/fan_in) entries: keeps pre-activations O(1) (LeCun initialisation)."""
    return jax.random.normal(key, shape, dtype) / jnp.sqrt(jnp.asarray(fan_in, dtype))


def recurrent_matrix(
    key: jax.Array, n: int, kind: str, dtype: Any, scale: float = 1.0
) -> jax.Array:
    """An ``(n, n)`` recurrent matrix: ``normal`` (N(0, 1/n)), ``orthogonal`` or ``identity``."""
    if kind == "normal":
        w = scaled_normal(key, (n, n), n, dtype)
    elif kind == "orthogonal":
        w = jax.nn.initializers.orthogonal()(key, (n, n), dtype)
    elif kind == "identity":
        w = jnp.eye(n, dtype=dtype)
    else:
        raise ValueError(f"recurrent_init must be one of {RECURRENT_INITS}, got {kind!r}")
    return (scale * w).astype(dtype)
