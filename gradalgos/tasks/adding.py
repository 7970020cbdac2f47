"""The adding problem (Hochreiter & Schmidhuber 1997; the form of Le et al. 2015)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, RegressionTask, float_dtype

__all__ = ["Adding"]


@dataclasses.dataclass(frozen=True)
class Adding(RegressionTask):
    """Sum the two marked numbers of a sequence; answer at the last step.

    Input ``(T, 2)``: a value ~ U[0, 1] and a marker; exactly two markers are 1, one in
    the first half and one in the second. Target ``(T, 1)``: the sum of the two marked values
    at the last step (mask 1 there only). Predicting the mean (1) scores MSE = Var(U + U) =
    1/6 ≈ 0.167 (``baseline``).

    Arguments:
        length: T ≥ 2.
    """

    length: int = 50

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)
        if self.length < 2:
            raise ValueError(f"length must be >= 2 for two markers, got {self.length}")

    input_size = property(lambda self: 2)
    output_size = property(lambda self: 1)
    baseline = property(lambda self: 1.0 / 6.0)

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        B, T = batch_size, self.length
        k_val, k_i, k_j = jax.random.split(key, 3)
        values = jax.random.uniform(k_val, (B, T), dtype)
        i = jax.random.randint(k_i, (B,), 0, T // 2)
        j = jax.random.randint(k_j, (B,), T // 2, T)
        markers = jax.nn.one_hot(i, T, dtype=dtype) + jax.nn.one_hot(j, T, dtype=dtype)
        xs = jnp.stack([values, markers], axis=-1)
        last = jax.nn.one_hot(T - 1, T, dtype=dtype)
        total = jnp.sum(values * markers, axis=1)
        targets = (total[:, None] * last)[..., None]
        mask = jnp.broadcast_to(last, (B, T))
        return Batch(xs, targets, mask)
