"""The counting language aⁿbⁿ (Gers & Schmidhuber 2001; Weiss et al. 2018)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, ClassificationTask, float_dtype

__all__ = ["AnBn"]

A, B_, END = 0, 1, 2  # symbols: 'a', 'b', and '$' (start and end marker)


@dataclasses.dataclass(frozen=True)
class AnBn(ClassificationTask):
    """Next-symbol prediction on strings ``$ aⁿ bⁿ``; train on n ≤ N, test on larger n.

    Inputs ``(T, 3)``: one-hot symbols ``$ a…a b…b`` then zero padding; targets ``(T,)``: the
    next symbol (``a…a b…b $``; padding 0). Only the deterministic predictions are scored:
    the mask is 1 at each input ``b`` (the next symbol is ``b`` until n b's were read, then
    ``$``), so solving the task means counting. T = 2·n_max + 1 for the largest n of the split.

    Metric: string accuracy, the fraction of sequences whose scored predictions are all right
    (a network that never predicts ``$`` scores 0, the ``baseline``).

    Arguments:
        max_n: N, training strings have n ~ U{1..N}.
        test_max_n: test strings have n ~ U{N+1..test_max_n} (> N).
    """

    max_n: int = 10
    test_max_n: int = 30

    def __post_init__(self) -> None:
        check_positive_int("max_n", self.max_n)
        check_positive_int("test_max_n", self.test_max_n)
        if self.test_max_n <= self.max_n:
            raise ValueError(f"test_max_n must exceed max_n={self.max_n}, got {self.test_max_n}")

    input_size = property(lambda self: 3)
    output_size = property(lambda self: 3)
    baseline = property(lambda self: 0.0)

    def strings(self, ns: jax.Array, length: int, dtype: Any = None) -> Batch:
        """The batch for given ``ns (B,)`` (ints ≥ 1, 2n + 1 ≤ ``length``), padded to T =
        ``length``."""
        dtype = float_dtype(dtype)
        t = jnp.arange(length)[None, :]
        n = jnp.asarray(ns)[:, None]
        symbol = jnp.where(t == 0, END, jnp.where(t <= n, A, B_))
        valid = t <= 2 * n
        xs = jax.nn.one_hot(symbol, 3, dtype=dtype) * valid[..., None].astype(dtype)
        nxt = jnp.where(t < n, A, jnp.where(t < 2 * n, B_, END))
        targets = jnp.where(valid, nxt, 0).astype(jnp.int32)
        mask = (valid & (symbol == B_)).astype(dtype)
        return Batch(xs, targets, mask)

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        ns = jax.random.randint(key, (batch_size,), 1, self.max_n + 1)
        return self.strings(ns, 2 * self.max_n + 1, dtype)

    def test_sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        ns = jax.random.randint(key, (batch_size,), self.max_n + 1, self.test_max_n + 1)
        return self.strings(ns, 2 * self.test_max_n + 1, dtype)

    def metric(self, ys: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        wrong = (jnp.argmax(ys, axis=-1) != targets) & (mask > 0)
        return jnp.mean(~jnp.any(wrong, axis=-1)).astype(mask.dtype)
