"""The copy (memory) task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, ClassificationTask, float_dtype

__all__ = ["Copy"]


@dataclasses.dataclass(frozen=True)
class Copy(ClassificationTask):
    """Read ``length`` random symbols, wait ``delay`` steps, then reproduce them.

    With K = ``symbols``, L = ``length``, D = ``delay``: T = 2L + D steps. Inputs ``(T, K + 2)``
    one-hot: the L symbols, D - 1 blanks (class K), a delimiter (class K + 1), L blanks.
    Targets ``(T,)`` labels in [0, K + 1): blank (K) everywhere except the last L steps, which
    hold the symbols; the mask scores only those L recall steps. Guessing scores accuracy 1/K
    (``baseline``).

    Arguments:
        length: L ≥ 1. delay: D ≥ 1. symbols: K ≥ 2.
    """

    length: int = 5
    delay: int = 10
    symbols: int = 8

    def __post_init__(self) -> None:
        for name in ("length", "delay", "symbols"):
            check_positive_int(name, getattr(self, name))
        if self.symbols < 2:
            raise ValueError(f"symbols must be >= 2, got {self.symbols}")

    input_size = property(lambda self: self.symbols + 2)
    output_size = property(lambda self: self.symbols + 1)
    baseline = property(lambda self: 1.0 / self.symbols)

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        K, L, D = self.symbols, self.length, self.delay
        B, T = batch_size, 2 * L + self.delay
        data = jax.random.randint(key, (B, L), 0, K, jnp.int32)
        blank = jnp.full((B, T), K, jnp.int32)
        inputs = blank.at[:, :L].set(data).at[:, L + D - 1].set(K + 1)
        targets = blank.at[:, L + D :].set(data)
        mask = jnp.broadcast_to((jnp.arange(T) >= L + D).astype(dtype), (B, T))
        return Batch(jax.nn.one_hot(inputs, K + 2, dtype=dtype), targets, mask)
