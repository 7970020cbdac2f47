"""Argument checks and small helpers shared by the offline and online trainers."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gradalgos._validation import check_cell, validate
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.cells.base import AbstractCell, Params, check_positive_int
from gradalgos.tasks.base import AbstractTask, Batch
from gradalgos.tasks.registry import make_task
from gradalgos.training.history import History
from gradalgos.training.optimizers import make_optimizer

__all__ = ["TrainResult", "check_setup", "resolve_task"]


class TrainResult(NamedTuple):
    """What a training run returns.

    Attributes:
        params: the final parameters (pytree like ``cell.init``).
        history: the learning curve (:class:`History`).
        opt_state: the final optimiser state.
    """

    params: Params
    history: History
    opt_state: optax.OptState


def resolve_task(task: AbstractTask | str) -> AbstractTask:
    """A task instance, from an instance or a registered name."""
    if isinstance(task, str):
        return make_task(task)
    if not isinstance(task, AbstractTask):
        raise TypeError(f"task must be a gradalgos task or a task name, got {type(task).__name__}")
    return task


def check_setup(
    task: AbstractTask | str,
    cell: AbstractCell,
    algorithm: AbstractAlgorithm,
    optimizer: Any,
    *,
    steps: int,
    key: jax.Array,
    learning_rate: float,
    clip: float | None,
    params: Params | None,
    dtype: Any,
) -> tuple[AbstractTask, optax.GradientTransformation, Params]:
    """Validate a training configuration; return ``(task, optimiser, initial params)``.

    Raises ``TypeError`` / ``ValueError`` naming the argument (task, cell, algorithm,
    optimizer, steps, clip, learning_rate, key) before anything is compiled.
    """
    task = resolve_task(task)
    cell = check_cell(cell)
    if not isinstance(algorithm, AbstractAlgorithm):
        raise TypeError(
            f"algorithm must be a gradalgos algorithm such as ga.BPTT() or ga.RTRL(), got "
            f"{algorithm!r}"
        )
    check_positive_int("steps", steps)
    tx = make_optimizer(optimizer, learning_rate, clip=clip)
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"key must be a PRNG key from jax.random.key(seed), got {key!r}")
    for name in ("input_size", "output_size"):
        if getattr(cell, name) != getattr(task, name):
            raise ValueError(
                f"cell.{name}={getattr(cell, name)} does not match task.{name}="
                f"{getattr(task, name)}"
            )
    if params is None:
        params = cell.init(jax.random.fold_in(key, 0), dtype)
    return task, tx, params


def check_batch(task: AbstractTask, cell: AbstractCell, params: Params, batch: Batch) -> None:
    """Run the library's input checks on one concrete batch (shapes, dtypes, finiteness)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    validate(cell, params, cell.initial_state(dtype), *batch, task.loss)


def initial_states(cell: AbstractCell, params: Params, batch_size: int) -> Any:
    """The cell's initial state broadcast to leaves ``(B, ...)``, in the params' dtype."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    return jax.tree_util.tree_map(
        lambda s: jnp.broadcast_to(s, (batch_size, *s.shape)), cell.initial_state(dtype)
    )


def default_every(steps: int, evals: int = 20) -> int:
    """An evaluation period giving about ``evals`` evaluations over ``steps``."""
    return max(1, steps // evals)
