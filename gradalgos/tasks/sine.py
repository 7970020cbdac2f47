"""Next-step prediction of a sine wave of random frequency and phase."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, RegressionTask, float_dtype

__all__ = ["Sine"]


@dataclasses.dataclass(frozen=True)
class Sine(RegressionTask):
    """Predict x_{t+1} from x_1..x_t, with x_t = sin(ω t + φ), ω ~ U[ω_min, ω_max] (rad per
    step) and φ ~ U[0, 2π) drawn per sequence.

    Input ``(T, 1)``: x_t; target ``(T, 1)``: x_{t+1}; mask 1 everywhere. Predicting zero scores
    MSE ≈ 1/2 (``baseline``).

    Arguments:
        length: T. omega_min, omega_max: frequency range, 0 < ω_min ≤ ω_max.
    """

    length: int = 50
    omega_min: float = 0.1
    omega_max: float = 0.5

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)
        if not 0 < self.omega_min <= self.omega_max:
            raise ValueError(
                f"need 0 < omega_min <= omega_max, got {self.omega_min}, {self.omega_max}"
            )

    input_size = property(lambda self: 1)
    output_size = property(lambda self: 1)
    baseline = property(lambda self: 0.5)

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        k_w, k_p = jax.random.split(key)
        B, T = batch_size, self.length
        omega = jax.random.uniform(k_w, (B, 1), dtype, self.omega_min, self.omega_max)
        phase = jax.random.uniform(k_p, (B, 1), dtype, 0.0, 2 * math.pi)
        wave = jnp.sin(omega * jnp.arange(T + 1, dtype=dtype) + phase)
        return Batch(wave[:, :-1, None], wave[:, 1:, None], jnp.ones((B, T), dtype))
