"""The per-step noise of the stochastic online methods (UORO, KF-RTRL): a PRNG key in the carry."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["check_carry_key", "signs_and_next_key"]


def check_carry_key(algorithm: Any, key: Any) -> None:
    """``ValueError`` unless ``key`` is a single typed PRNG key (as ``init`` stores)."""
    dtype = getattr(key, "dtype", None)
    if dtype is None or not jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) or jnp.shape(key):
        raise ValueError(
            f"carry.key must be a single PRNG key for {type(algorithm).__name__}, got "
            f"{type(key).__name__}"
            + (f" of dtype {dtype} and shape {tuple(jnp.shape(key))}" if dtype is not None else "")
            + "; build the carry with init(..., key=key)"
        )


def signs_and_next_key(
    key: jax.Array, shape: tuple[int, ...], dtype: Any
) -> tuple[jax.Array, jax.Array]:
    """Independent Rademacher signs (±1, ``shape``, ``dtype``) and the next step's key, from
    ONE call of the key's generator: ``jax.random.bits`` draws the signs' words and the new
    key's words together (the new key is random bits of this key's stream, as
    ``jax.random.split`` makes it). One call instead of a split and a draw halves the noise's
    cost, which dominates a small step on a CPU (threefry runs as a rolled loop there).
    The same key gives the same signs and key; any key implementation works.
    """
    data = jax.random.key_data(key)
    size = math.prod(shape)
    words = jax.random.bits(key, (size + data.size,), jnp.uint32)
    impl = jax.random.key_impl(key)
    next_data = words[size:].reshape(data.shape).astype(data.dtype)
    next_key = jax.random.wrap_key_data(next_data, impl=impl)
    signs = jnp.where(words[:size] >> 31 == 1, 1, -1).astype(dtype).reshape(shape)
    return signs, next_key
