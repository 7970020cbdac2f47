"""The task interface: seeded batches ``(xs, targets, mask)`` with a matching loss and metric.

Conventions (shared by every task): ``B`` sequences, ``T`` steps, ``m = input_size``,
``o = output_size``.

- ``xs``: ``(B, T, m)`` floats.
- ``targets``: ``(B, T, o)`` floats (regression) or ``(B, T)`` int32 class labels in ``[0, o)``.
- ``mask``: ``(B, T)`` floats in {0, 1}: 1 where a step's output is scored.

Every generator is a pure function of a PRNG key (same key → same batch) written in
``jax.numpy`` with static shapes, so the trainer can generate batches inside ``jax.jit``.
Tasks are frozen dataclasses holding only hyper-parameters (hashable: static to ``jit``).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import default_float
from gradalgos.losses import cross_entropy, mse

__all__ = ["AbstractTask", "Batch", "ClassificationTask", "RegressionTask", "masked_mean"]


class Batch(NamedTuple):
    """One batch: ``xs (B, T, m)``, ``targets (B, T, o)`` or labels ``(B, T)``, ``mask (B, T)``.

    An online stream (:meth:`AbstractTask.stream`) has the same fields without the ``B`` axis.
    """

    xs: jax.Array
    targets: jax.Array
    mask: jax.Array


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """``Σ mask·values / Σ mask`` (0 where the mask is empty); values and mask ``(B, T)``."""
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1)


class AbstractTask(abc.ABC):
    """A synthetic sequence task.

    Subclasses implement :meth:`sample` and the properties ``input_size`` and
    ``output_size``; they inherit ``loss`` and :meth:`metric` from :class:`RegressionTask` or
    :class:`ClassificationTask`.

    Class attributes:
        loss: per-step loss ``ℓ(y (o,), target) -> scalar`` used for training.
        metric_name: what :meth:`metric` measures (``"mse"``, ``"accuracy"``, …).
        higher_is_better: for the metric.
        baseline: the metric of a trivial predictor (documented per task).
    """

    loss: ClassVar[Loss]
    metric_name: ClassVar[str]
    higher_is_better: ClassVar[bool]

    @property
    @abc.abstractmethod
    def input_size(self) -> int:
        """m."""

    @property
    @abc.abstractmethod
    def output_size(self) -> int:
        """o (outputs, or number of classes)."""

    @property
    @abc.abstractmethod
    def baseline(self) -> float:
        """Metric of a trivial predictor (e.g. predict-the-mean), for reference."""

    @abc.abstractmethod
    def sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        """A training batch (see the module docstring for shapes)."""

    def test_sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        """A test batch; the training distribution unless a task says otherwise."""
        return self.sample(key, batch_size, dtype)

    def stream(self, key: jax.Array, length: int, dtype: Any = None) -> Batch:
        """One long unbatched stream for online learning: ``xs (L, m)``, ``targets (L, ...)``,
        ``mask (L,)``, L = ``length``. By default, independent episodes laid end to end (the
        network is never reset between them)."""
        one = jax.eval_shape(lambda k: self.sample(k, 1, dtype), key)
        T = one.xs.shape[1]
        n = -(-length // T)
        batch = self.sample(key, n, dtype)
        return Batch(*(a.reshape((n * T, *a.shape[2:]))[:length] for a in batch))

    @abc.abstractmethod
    def metric(self, ys: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        """Score of outputs ``ys (B, T, o)`` on a batch (a scalar)."""


class RegressionTask(AbstractTask):
    """Float targets ``(B, T, o)``; loss :func:`gradalgos.losses.mse`; metric: mean over the
    scored steps of the per-step MSE."""

    loss: ClassVar[Loss] = staticmethod(mse)
    metric_name: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False

    def metric(self, ys: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        return masked_mean(jnp.mean(jnp.square(ys - targets), axis=-1), mask)


class ClassificationTask(AbstractTask):
    """Integer labels ``(B, T)``; loss softmax cross-entropy; metric: accuracy of the argmax
    over the scored steps."""

    loss: ClassVar[Loss] = staticmethod(cross_entropy)
    metric_name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True

    def metric(self, ys: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        correct = (jnp.argmax(ys, axis=-1) == targets).astype(mask.dtype)
        return masked_mean(correct, mask)


def float_dtype(dtype: Any) -> jnp.dtype:
    """The dtype tasks generate in (JAX's default float unless given)."""
    return default_float(dtype)
