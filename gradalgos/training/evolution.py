"""Gradient-free training (GA, SA, PSO of :mod:`gradalgos.gradient_free`) on a task, with the
same result type and test evaluation as the gradient trainers."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from gradalgos.cells.base import AbstractCell, check_positive_int
from gradalgos.gradient_free import (
    AbstractGradientFree,
    GeneticAlgorithm,
    ParticleSwarm,
    SimulatedAnnealing,
    evolve,
)
from gradalgos.tasks.base import AbstractTask, RegressionTask
from gradalgos.training.common import TrainResult, check_batch, resolve_task
from gradalgos.training.evaluate import evaluate
from gradalgos.training.history import History

__all__ = ["GRADIENT_FREE", "train_gradient_free"]

#: The gradient-free methods by their command-line names (default settings).
GRADIENT_FREE: dict[str, type[AbstractGradientFree]] = {
    "ga": GeneticAlgorithm,
    "sa": SimulatedAnnealing,
    "pso": ParticleSwarm,
}


def train_gradient_free(
    task: AbstractTask | str,
    cell: AbstractCell,
    method: AbstractGradientFree,
    generations: int,
    *,
    key: jax.Array,
    batch_size: int = 32,
    eval_batch_size: int = 512,
    min_mse: float | None = None,
    dtype: Any = None,
) -> TrainResult:
    """Minimise ``cell``'s MSE on one fixed batch of ``batch_size`` training sequences
    (``task.sample``) with ``method`` for ``generations`` generations
    (:func:`gradalgos.gradient_free.evolve`), then evaluate the best parameters on a test
    batch of ``eval_batch_size`` (``task.test_sample``). Keys: the population from
    ``fold_in(key, 0)``, the training batch from 1, the test batch from 2.

    Cost: O(generations · N · B · T · cost(step)) for a population of N.

    Returns:
        :class:`TrainResult` with ``opt_state`` None; ``history.step`` counts generations,
        ``history.loss`` is the best training MSE so far, ``grad_norm`` NaN (no gradient),
        and one evaluation, after the last generation.

    Raises:
        TypeError: ``method`` is not a gradient-free method.
        ValueError: a classification task (the methods minimise an MSE of float targets),
            ``generations`` or ``batch_size`` < 1, ``min_mse`` < 0.
    """
    task = resolve_task(task)
    if not isinstance(method, AbstractGradientFree):
        names = ", ".join(c.__name__ for c in GRADIENT_FREE.values())
        raise TypeError(f"method must be a gradient-free method ({names}), got {method!r}")
    if not isinstance(task, RegressionTask):
        raise ValueError(
            f"task {type(task).__name__} is a classification task (metric "
            f"{task.metric_name}); the gradient-free methods minimise an MSE of float "
            f"targets: use a regression task"
        )
    check_positive_int("generations", generations)
    check_positive_int("batch_size", batch_size)
    check_positive_int("eval_batch_size", eval_batch_size)
    data = task.sample(jax.random.fold_in(key, 1), batch_size, dtype)
    check_batch(task, cell, cell.init(jax.random.key(0), data.xs.dtype), data)
    test = task.test_sample(jax.random.fold_in(key, 2), eval_batch_size, dtype)
    r = evolve(method, cell, data.xs, data.targets, mask=data.mask,
               key=jax.random.fold_in(key, 0), max_generations=generations,
               min_mse=min_mse)  # fmt: skip
    loss, metric = evaluate(task, cell, r.params, test)
    steps = np.arange(1, r.generations + 1, dtype=float)
    history = History(
        step=steps, loss=np.asarray(r.best_mse, float), wall_time=np.asarray(r.wall_time, float),
        grad_norm=np.full(r.generations, np.nan), eval_step=steps[-1:],
        eval_wall_time=np.asarray(r.wall_time[-1:], float),
        eval_loss=np.array([float(loss)]), eval_metric=np.array([float(metric)]),
    )  # fmt: skip
    return TrainResult(r.params, history, None)
