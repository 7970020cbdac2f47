"""Delayed XOR / parity of a random bit stream."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, ClassificationTask, float_dtype

__all__ = ["DelayedParity"]


@dataclasses.dataclass(frozen=True)
class DelayedParity(ClassificationTask):
    """At step t, output the parity of the bits b_{t-d-w+1}, …, b_{t-d}.

    ``window`` w = 2 is the delayed XOR. Input ``(T, 1)``: ±1 for bit 1/0; targets ``(T,)``
    labels in {0, 1}; the mask scores steps t ≥ d + w - 1 (where the answer is defined).
    Guessing scores accuracy 1/2 (``baseline``).

    Arguments:
        length: T. delay: d ≥ 0. window: w ≥ 1 (T ≥ d + w).
    """

    length: int = 20
    delay: int = 2
    window: int = 2

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)
        check_positive_int("window", self.window)
        if isinstance(self.delay, bool) or not isinstance(self.delay, int) or self.delay < 0:
            raise ValueError(f"delay must be an int >= 0, got {self.delay!r}")
        if self.length < self.delay + self.window:
            raise ValueError(
                f"length must be >= delay + window = {self.delay + self.window}, got {self.length}"
            )

    input_size = property(lambda self: 1)
    output_size = property(lambda self: 2)
    baseline = property(lambda self: 0.5)

    def stream(self, key: jax.Array, length: int, dtype: Any = None) -> Batch:
        """One continuous bit stream of ``length`` steps (targets defined from step d + w - 1
        on), not episodes end to end."""
        batch = dataclasses.replace(self, length=max(length, self.delay + self.window)).sample(
            key, 1, dtype
        )
        return Batch(*(a[0, :length] for a in batch))

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        T, d, w = self.length, self.delay, self.window
        bits = jax.random.bernoulli(key, 0.5, (batch_size, T)).astype(jnp.int32)
        padded = jnp.pad(bits, ((0, 0), (d + w - 1, 0)))
        # windows[t] = Σ b_{t-d-w+1 .. t-d}: sum of w shifted copies of the padded bits.
        total = sum(padded[:, k : k + T] for k in range(w))
        targets = (total % 2).astype(jnp.int32)
        mask = jnp.broadcast_to((jnp.arange(T) >= d + w - 1).astype(dtype), (batch_size, T))
        xs = (2 * bits - 1).astype(dtype)[..., None]
        return Batch(xs, targets, mask)
