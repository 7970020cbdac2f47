"""Character-level language modelling on ``pydoc_data.topics`` (English prose shipped with
every CPython, ≈ 465,000 characters), scored in bits per character (Graves 2013; Mujika et
al. 2018; Menick et al. 2021, who use Penn Treebank / WikiText, not downloadable here)."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells.base import check_positive_int
from gradalgos.tasks.base import Batch, ClassificationTask, float_dtype, masked_mean

__all__ = ["CharLM", "corpus", "encode"]

UNKNOWN = "\x00"  # the reserved symbol for test characters absent from the training part


@functools.lru_cache(maxsize=1)
def _text() -> str:
    from pydoc_data import topics

    return "".join(topics.topics[k] for k in sorted(topics.topics))


@functools.lru_cache(maxsize=4)
def corpus(test_fraction: float) -> tuple[str, np.ndarray, np.ndarray]:
    """``(vocabulary, train ids, test ids)``: the text (topics in sorted order) split at
    ``⌊(1 − test_fraction)·N⌋``; the vocabulary is the sorted set of training characters plus
    :data:`UNKNOWN` (last), which test characters outside it map to."""
    text = _text()
    cut = int(len(text) * (1 - test_fraction))
    vocab = "".join(sorted(set(text[:cut]))) + UNKNOWN
    return vocab, encode(text[:cut], vocab), encode(text[cut:], vocab)


def encode(text: str, vocab: str) -> np.ndarray:
    """int32 ids of ``text`` in ``vocab`` (characters outside it → the last id, unknown)."""
    index = {c: i for i, c in enumerate(vocab)}
    return np.array([index.get(c, len(vocab) - 1) for c in text], np.int32)


@dataclasses.dataclass(frozen=True)
class CharLM(ClassificationTask):
    """Predict the next character. Inputs ``(T, V)`` one-hot characters; targets ``(T,)`` the
    next character's id; mask 1 everywhere. V = training characters + 1 unknown symbol.

    Training batches are windows of T + 1 characters at random offsets of the training part;
    :meth:`stream` is the training text itself, contiguous from a random offset (wrapping
    around), for online learning; :meth:`test_sample` is ``batch_size`` windows at evenly
    spaced offsets of the test part (the key is ignored: a fixed test set), each read from
    the initial state. Metric: bits per character, the mean cross-entropy / ln 2 (lower is
    better); a uniform predictor scores log2 V (``baseline``).

    Arguments:
        length: T, characters per sequence. test_fraction: the part of the text held out
            (the end of the text), in (0, 1).
    """

    metric_name: ClassVar[str] = "bpc"
    higher_is_better: ClassVar[bool] = False

    length: int = 100
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_positive_int("length", self.length)
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")

    vocabulary = property(lambda self: corpus(self.test_fraction)[0])
    input_size = property(lambda self: len(self.vocabulary))
    output_size = property(lambda self: len(self.vocabulary))
    baseline = property(lambda self: math.log2(len(self.vocabulary)))

    def _batch(self, ids: jax.Array, dtype: Any) -> Batch:
        """``ids (B, T + 1)`` → one-hot inputs, next-character targets, a mask of ones."""
        xs = jax.nn.one_hot(ids[:, :-1], self.input_size, dtype=dtype)
        return Batch(xs, ids[:, 1:], jnp.ones(ids[:, 1:].shape, dtype))

    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        train = jnp.asarray(corpus(self.test_fraction)[1])
        starts = jax.random.randint(key, (batch_size, 1), 0, train.size - self.length)
        return self._batch(train[starts + jnp.arange(self.length + 1)], float_dtype(dtype))

    def test_sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        test = corpus(self.test_fraction)[2]
        if test.size <= self.length:
            raise ValueError(f"length={self.length} exceeds the test part ({test.size} chars)")
        starts = np.linspace(0, test.size - self.length - 1, batch_size).astype(np.int64)
        ids = test[starts[:, None] + np.arange(self.length + 1)]
        return self._batch(jnp.asarray(ids), float_dtype(dtype))

    def stream(self, key: jax.Array, length: int, dtype: Any = None) -> Batch:
        train = jnp.asarray(corpus(self.test_fraction)[1])
        start = jax.random.randint(key, (), 0, train.size)
        ids = train[(start + jnp.arange(length + 1)) % train.size]
        batch = self._batch(ids[None], float_dtype(dtype))
        return Batch(*(a[0] for a in batch))

    def metric(self, ys: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        nats = jax.vmap(jax.vmap(self.loss))(ys, targets)
        return masked_mean(nats, mask) / math.log(2)
