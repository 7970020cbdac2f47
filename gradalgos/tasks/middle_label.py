"""Middle-of-sequence label: a task where the future matters (for bidirectional networks)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, ClassificationTask, float_dtype

__all__ = ["MiddleLabel"]


@dataclasses.dataclass(frozen=True)
class MiddleLabel(ClassificationTask):
    """At every step, output the symbol seen at the middle step t_mid = T // 2.

    Input ``(T, K + 1)``: a random symbol (one-hot over K) at each step, and a marker channel
    that is 1 at t_mid only. Targets ``(T,)``: the middle symbol, at every step; the mask scores
    every step. Guessing scores accuracy 1/K (``baseline``). The steps t < t_mid carry no
    information about the middle symbol before it arrives, so any causal (unidirectional)
    network scores at most :attr:`causal_ceiling` = (t_mid/K + T − t_mid)/T in expectation; a
    bidirectional one can score 1.

    Arguments:
        length: T ≥ 2. symbols: K ≥ 2.
    """

    length: int = 20
    symbols: int = 4

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)
        check_positive_int("symbols", self.symbols)
        if self.length < 2:
            raise ValueError(f"length must be >= 2, got {self.length}")
        if self.symbols < 2:
            raise ValueError(f"symbols must be >= 2, got {self.symbols}")

    input_size = property(lambda self: self.symbols + 1)
    output_size = property(lambda self: self.symbols)
    baseline = property(lambda self: 1.0 / self.symbols)

    @property
    def middle(self) -> int:
        """t_mid = T // 2 (0-based)."""
        return self.length // 2

    @property
    def causal_ceiling(self) -> float:
        """The best expected accuracy of a causal network: chance before t_mid, 1 after."""
        return (self.middle / self.symbols + self.length - self.middle) / self.length

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        dtype = float_dtype(dtype)
        B, T, K = batch_size, self.length, self.symbols
        symbols = jax.random.randint(key, (B, T), 0, K)
        marker = jnp.broadcast_to(jax.nn.one_hot(self.middle, T, dtype=dtype), (B, T))
        xs = jnp.concatenate([jax.nn.one_hot(symbols, K, dtype=dtype), marker[..., None]], -1)
        targets = jnp.broadcast_to(symbols[:, self.middle : self.middle + 1], (B, T))
        return Batch(xs, targets.astype(jnp.int32), jnp.ones((B, T), dtype))
