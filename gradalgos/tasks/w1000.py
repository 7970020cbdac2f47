"""The w¹⁰⁰⁰ toy: a one-unit linear RNN run for 1000 steps (Pascanu et al. 2013)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.cells.elman import Elman
from gradalgos.tasks.base import Batch, RegressionTask, float_dtype

__all__ = ["W1000"]


@dataclasses.dataclass(frozen=True)
class W1000(RegressionTask):
    """A pulse a = ±U[0.5, 1.5] (random sign) at step 0, zeros after; at the last step output
    ``gain``·a. The sign makes the mean target 0, so no bias can stand in for the recurrence.

    With the linear one-unit cell (:meth:`cell`, h_t = w·h_{t-1} + u·x_t, y = v·h), the output
    is u·v·a·w^{T-1}: it explodes for w > 1 and vanishes for w < 1, and so does the gradient,
    so the loss surface has a cliff at w ≈ 1. Input ``(T, 1)``, target ``(T, 1)``, mask 1 at the
    last step. With u = v = 1, the optimum is w* = gain^{1/(T-1)}. Predicting zero scores MSE
    = gain²·E[a²] = gain²·13/12 (``baseline``).

    Arguments:
        length: T (default 1000). gain: the target factor (default 0.5).
    """

    length: int = 1000
    gain: float = 0.5

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)

    input_size = property(lambda self: 1)
    output_size = property(lambda self: 1)
    baseline = property(lambda self: self.gain**2 * 13 / 12)

    @staticmethod
    def cell() -> Elman:
        """The one-unit linear recurrent cell of the toy."""
        return Elman(input_size=1, hidden_size=1, output_size=1, activation="identity")

    @staticmethod
    def params(w: float, dtype: Any = None) -> dict[str, jax.Array]:
        """Parameters of :meth:`cell` with recurrent weight ``w`` and u = v = 1, zero biases."""
        dtype = float_dtype(dtype)
        one = jnp.ones((1, 1), dtype)
        return {"W_in": one, "W_rec": w * one, "b": jnp.zeros((1,), dtype), "W_out": one,
                "b_out": jnp.zeros((1,), dtype)}  # fmt: skip

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        T = self.length
        k_a, k_s = jax.random.split(key)
        a = jax.random.uniform(k_a, (batch_size,), dtype, 0.5, 1.5)
        a = jnp.where(jax.random.bernoulli(k_s, 0.5, (batch_size,)), a, -a)
        first = jax.nn.one_hot(0, T, dtype=dtype)
        last = jax.nn.one_hot(T - 1, T, dtype=dtype)
        xs = (a[:, None] * first)[..., None]
        targets = (self.gain * a[:, None] * last)[..., None]
        return Batch(xs, targets, jnp.broadcast_to(last, (batch_size, T)))
