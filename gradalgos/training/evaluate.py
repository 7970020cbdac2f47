"""Forward passes for evaluation: outputs of a cell over a batch, and a task's loss and metric."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gradalgos.cells.base import AbstractCell, Params
from gradalgos.cells.sequence_cell import AbstractSequenceCell
from gradalgos.tasks.base import AbstractTask, Batch, masked_mean

__all__ = ["evaluate", "predict"]


def predict(cell: AbstractCell, params: Params, xs: jax.Array) -> jax.Array:
    """Outputs ``ys (B, T, o)`` for inputs ``xs (B, T, m)``, each sequence from the cell's
    initial state. O(B·T·cost(step))."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    if isinstance(cell, AbstractSequenceCell):  # reads the whole sequence (bidirectional)
        return jax.vmap(lambda x: cell.outputs(params, cell.initial_state(dtype), x)[1])(xs)

    def one(x):
        _, ys = jax.lax.scan(lambda s, xt: cell.step(params, s, xt), cell.initial_state(dtype), x)
        return ys

    return jax.vmap(one)(xs)


@functools.partial(jax.jit, static_argnames=("task", "cell"))
def evaluate(
    task: AbstractTask, cell: AbstractCell, params: Params, batch: Batch
) -> tuple[jax.Array, jax.Array]:
    """``(loss, metric)`` on ``batch``: the loss is the mean per scored step of ``task.loss``,
    the metric ``task.metric`` (both scalars)."""
    ys = predict(cell, params, batch.xs)
    per_step = jax.vmap(jax.vmap(task.loss))(ys, batch.targets)
    loss = masked_mean(per_step, batch.mask)
    return loss, jnp.asarray(task.metric(ys, batch.targets, batch.mask))
