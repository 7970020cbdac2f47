"""System identification of Back & Tsoi's nonlinear plant (a linear IIR filter, then sin)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, RegressionTask, float_dtype

__all__ = ["PLANT_A", "PLANT_B", "SystemIdentification", "iir_filter"]

#: The plant's linear part z = filter(PLANT_B, PLANT_A, x) (Back & Tsoi 1991): a low-pass
#: third-order filter with DC gain ≈ 1 and poles close to the unit circle (long memory).
PLANT_B = (0.0154, 0.0462, 0.0462, 0.0154)
PLANT_A = (1.0, -1.99, 1.572, -0.4583)
#: The coloured input: x = filter(COLOUR_B, COLOUR_A, white noise).
COLOUR_B = (0.95,)
COLOUR_A = (1.0, -0.312)


def iir_filter(b: tuple[float, ...], a: tuple[float, ...], x: jax.Array) -> jax.Array:
    """``scipy.signal.lfilter(b, a, x)`` along the first axis of ``x (T, ...)`` from rest:
    ``a[0] z(t) = Σ_k b[k] x(t−k) − Σ_{k≥1} a[k] z(t−k)``. A ``lax.scan``, time O(T·len)."""
    b_, a_ = jnp.asarray(b, x.dtype) / a[0], jnp.asarray(a[1:], x.dtype) / a[0]
    zeros = jnp.zeros((len(b), *x.shape[1:]), x.dtype), jnp.zeros((len(a) - 1, *x.shape[1:]))

    def step(carry, x_t):
        xs, zs = carry
        xs = jnp.concatenate([x_t[None], xs[:-1]])
        z = jnp.tensordot(b_, xs, 1) - jnp.tensordot(a_, zs.astype(x.dtype), 1)
        return (xs, jnp.concatenate([z[None], zs[:-1]]).astype(zs.dtype)), z

    return jax.lax.scan(step, zeros, x)[1]


@dataclasses.dataclass(frozen=True)
class SystemIdentification(RegressionTask):
    """Identify d = sin(z), z = filter(PLANT_B, PLANT_A, x) (Back & Tsoi 1991; the benchmark
    of Campolucci et al. 1999) from the coloured noise x = filter([0.95], [1, −0.312], w),
    w ~ N(0, 1) white, scaled to max |x| = 1 over each sequence; plant at rest at t = 0.

    Input ``(T, 1)``: x_t; target ``(T, 1)``: d_t; mask 1 everywhere. :meth:`stream` is one
    continuous plant run (x scaled per block of T steps), not episodes end to end.
    Predicting zero scores MSE ≈ 0.033 (``baseline``: the mean of d² measured on 1024
    sequences of T = 1000).

    Arguments:
        length: T of the (test) episodes.
    """

    length: int = 1000

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)

    input_size = property(lambda self: 1)
    output_size = property(lambda self: 1)
    baseline = property(lambda self: 0.033)

    def _signal(self, key: jax.Array, length: int, dtype: Any) -> Batch:
        """One plant run of ``length`` steps; x scaled to max |x| = 1 per block of T steps."""
        blocks = -(-length // self.length)
        w = jax.random.normal(key, (blocks * self.length, 1), dtype)
        x = iir_filter(COLOUR_B, COLOUR_A, w).reshape(blocks, self.length)
        x = (x / jnp.max(jnp.abs(x), axis=1, keepdims=True)).reshape(-1, 1)[:length]
        d = jnp.sin(iir_filter(PLANT_B, PLANT_A, x))
        return Batch(x, d, jnp.ones((length,), dtype))

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        keys = jax.random.split(key, batch_size)
        return jax.vmap(lambda k: self._signal(k, self.length, dtype))(keys)

    def stream(self, key: jax.Array, length: int, dtype: Any = None) -> Batch:
        return self._signal(key, length, float_dtype(dtype))
