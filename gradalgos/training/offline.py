"""Offline training: one gradient per batch of sequences, any algorithm × any optax optimiser."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.cells.base import AbstractCell, Params, check_positive_int
from gradalgos.tasks.base import AbstractTask
from gradalgos.training.common import (
    TrainResult,
    check_batch,
    check_setup,
    default_every,
    initial_states,
)
from gradalgos.training.evaluate import evaluate
from gradalgos.training.progress import Loop

__all__ = ["train"]


def make_update(
    task: AbstractTask,
    cell: AbstractCell,
    algorithm: AbstractAlgorithm,
    tx: optax.GradientTransformation,
    batch_size: int,
    dtype: Any,
    fixed_key: jax.Array | None = None,
):
    """``update(params, opt_state, key) -> (params, opt_state, loss, grad_norm)``: sample a
    batch, take its gradient with ``algorithm``, apply one optimiser step. Pure; jit it.

    The loss is the mean per scored step (the mask is divided by the mean number of scored
    steps per sequence), so learning rates do not depend on T. A method that samples noise
    at every step (UORO, KF-RTRL) gets a key derived from the batch's ``key``, fresh for every
    update; one whose key only draws fixed quantities (a random feedback matrix) gets
    ``fixed_key`` every update, so its feedback stays the same through training.
    """
    needs_key = isinstance(algorithm, AbstractOnlineAlgorithm) and algorithm.needs_key

    def update(params: Params, opt_state: optax.OptState, key: jax.Array):
        xs, targets, mask = task.sample(key, batch_size, dtype)
        weights = mask / jnp.maximum(jnp.mean(jnp.sum(mask, axis=1)), 1)
        state0 = initial_states(cell, params, batch_size)
        fresh = fixed_key is None or not needs_key or algorithm.noise_per_step
        noise = {"key": jax.random.fold_in(key, 1) if fresh else fixed_key} if needs_key else {}
        value, grads, _ = algorithm.batched_value_and_grad(
            cell, params, state0, xs, targets, weights, task.loss, **noise
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value, optax.tree.norm(grads)

    return update


def train(
    task: AbstractTask | str,
    cell: AbstractCell,
    algorithm: AbstractAlgorithm,
    optimizer: str | optax.GradientTransformation = "adam",
    steps: int = 1000,
    *,
    key: jax.Array,
    learning_rate: float = 1e-3,
    clip: float | None = None,
    batch_size: int = 32,
    params: Params | None = None,
    eval_every: int | None = None,
    eval_batch_size: int = 512,
    max_time: float | None = None,
    stop_at: float | None = None,
    progress: bool = True,
    dtype: Any = None,
) -> TrainResult:
    """Train ``cell`` on ``task`` with gradients from ``algorithm``, one batch per update.

    Each update (one compiled function) samples a fresh batch ``(B, T, ·)``, computes the
    gradient of the mean per-scored-step loss with ``algorithm.batched_value_and_grad`` and
    applies the optimiser (after clipping by global norm if ``clip``).

    Arguments:
        task: a task or its name (``"adding"``, …; see :data:`gradalgos.tasks.TASKS`).
        cell: its ``input_size``/``output_size`` must match the task's.
        algorithm: any algorithm (:mod:`gradalgos.algorithms.registry`): ``ga.BPTT()``,
            ``ga.TBPTT(k)``, ``ga.RTRL()``, ``ga.Hybrid()``, ``ga.SnAp(1)``, …; an online
            method's step is scanned over each sequence with fixed weights.
        optimizer: ``"sgd"``, ``"nesterov"``, ``"rmsprop"``, ``"adam"`` or an optax
            transformation. learning_rate: ≥ 0. clip: max global gradient norm (> 0) or None.
        steps: number of updates (≥ 1). batch_size: B ≥ 1.
        key: PRNG key (initial params, training batches and the test batch derive from it).
        params: initial parameters (default ``cell.init``; use an ``IRNN`` cell or
            ``Elman(recurrent_init="identity", activation="relu")`` for IRNN initialisation).
        eval_every: updates between evaluations on a fixed test batch of ``eval_batch_size``
            (``task.test_sample``); default ≈ 20 evaluations.
        max_time: stop once this many seconds of training have passed (None: no limit).
        stop_at: stop once a test metric is better than this (e.g. MSE 0.01; None: never).
        progress: show a tqdm progress bar. dtype: float dtype (default JAX's default float).

    Returns:
        :class:`TrainResult` ``(params, history, opt_state)``; ``history.wall_time`` excludes
        compilation and evaluation.

    Raises:
        TypeError / ValueError naming the argument for unknown task or optimiser names,
        steps/batch_size/eval_every ≤ 0, clip ≤ 0, negative learning rate, size mismatches.
    """
    task, tx, params = check_setup(
        task, cell, algorithm, optimizer, steps=steps, key=key, learning_rate=learning_rate,
        clip=clip, params=params, dtype=dtype,
    )  # fmt: skip
    check_positive_int("batch_size", batch_size)
    check_positive_int("eval_batch_size", eval_batch_size)
    eval_every = default_every(steps) if eval_every is None else eval_every
    check_positive_int("eval_every", eval_every)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    k_data, k_test = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)
    check_batch(task, cell, params, task.sample(k_data, 1, dtype))
    if isinstance(algorithm, AbstractOnlineAlgorithm):  # its own checks, before compiling
        algorithm.check_supported(cell, params, cell.initial_state(dtype))
    test = task.test_sample(k_test, eval_batch_size, dtype)

    opt_state = tx.init(params)
    update = make_update(task, cell, algorithm, tx, batch_size, dtype, jax.random.fold_in(key, 3))
    update = jax.jit(update).lower(params, opt_state, k_data).compile()

    def run_eval() -> tuple[float, float]:
        loss, metric = evaluate(task, cell, params, test)
        return float(loss), float(metric)

    desc = type(algorithm).__name__
    loop = Loop(steps, run_eval, max_time=max_time, progress=progress, stop_at=stop_at,
                higher_is_better=task.higher_is_better, desc=desc)  # fmt: skip
    loop.evaluate(0)
    for i in range(1, steps + 1):
        k_i = jax.random.fold_in(k_data, i)
        params, opt_state, value, gnorm = loop.timed(update, params, opt_state, k_i)
        loop.record(i, float(value), float(gnorm), 1)
        if i % eval_every == 0 or i == steps or loop.done():
            loop.evaluate(i)
        if loop.done():
            break
    return TrainResult(params, loop.close(), opt_state)
