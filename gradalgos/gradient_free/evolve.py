"""``evolve``: run a gradient-free method on a cell until a stopping criterion holds.

The objective. For a cell with parameters θ (flattened to ``x (P,)``, one gene per weight),
inputs ``xs (B, T, m)``, targets ``(B, T, o)`` and mask ``(B, T)`` (all ones if omitted)::

    MSE(θ) = Σ_{b,t} mask_{b,t} · Σ_k (y_{b,t,k} − target_{b,t,k})²  /  (o · Σ_{b,t} mask_{b,t})

i.e. the mean over batch, time and outputs of the squared error, counting only unmasked steps;
each sequence starts from ``cell.initial_state()``. Fitness = 1 / MSE. A non-finite MSE (an
exploding network) counts as ``+inf`` (fitness 0).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradalgos import losses
from gradalgos.algorithms.sequence import scan_loss
from gradalgos.cells.base import AbstractCell, Params, check_positive_int
from gradalgos.gradient_free.base import AbstractGradientFree, check_positive

__all__ = ["EvolveResult", "evolve", "population_mse", "sequence_mse"]


class EvolveResult(NamedTuple):
    """What :func:`evolve` returns.

    Fields:
        params: the best parameters found (the cell's pytree).
        best_mse: ``(generations,)`` best MSE so far after each generation (non-increasing).
        wall_time: ``(generations,)`` seconds since the start of the run after each generation,
            cumulative; compilation is excluded, the initial population's evaluation included.
        generations: number of generations run (≥ 1).
        stopped_by: ``"target_fitness"``, ``"min_mse"`` or ``"max_generations"``.
    """

    params: Params
    best_mse: np.ndarray
    wall_time: np.ndarray
    generations: int
    stopped_by: str


def sequence_mse(
    cell: AbstractCell, params: Params, xs: jax.Array, targets: jax.Array, mask: jax.Array
) -> jax.Array:
    """The masked MSE (module docstring) of one parameter set; xs ``(B, T, m)``, targets
    ``(B, T, o)``, mask ``(B, T)``. O(B·T·cost(step))."""
    state0 = cell.initial_state(xs.dtype)
    totals = jax.vmap(lambda x, t, m: scan_loss(cell, losses.mse, params, state0, x, t, m)[0])(
        xs, targets, mask
    )
    mse = jnp.sum(totals) / jnp.sum(mask)
    return jnp.where(jnp.isfinite(mse), mse, jnp.inf)


def population_mse(
    cell: AbstractCell,
    population: jax.Array,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array | None = None,
) -> jax.Array:
    """MSEs ``(N,)`` of a population of flat vectors ``(N, P)``, evaluated in parallel by
    ``jax.vmap``. Vectors unravel like ``ravel_pytree(cell.init(key, xs.dtype))``.
    O(N·B·T·cost(step))."""
    if mask is None:
        mask = jnp.ones(xs.shape[:2], xs.dtype)
    _, unravel = ravel_pytree(cell.init(jax.random.key(0), xs.dtype))  # shapes only
    return jax.vmap(lambda v: sequence_mse(cell, unravel(v), xs, targets, mask))(population)


def _init(
    method: AbstractGradientFree,
    cell: AbstractCell,
    key: jax.Array,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> Any:
    k_pop, k_init = jax.random.split(key)
    keys = jax.random.split(k_pop, method.population_size)
    population = jax.vmap(lambda k: ravel_pytree(cell.init(k, xs.dtype))[0])(keys)
    return method.init(k_init, population, population_mse(cell, population, xs, targets, mask))


def _step(
    method: AbstractGradientFree,
    cell: AbstractCell,
    key: jax.Array,
    state: Any,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> Any:
    return method.step(key, state, lambda pop: population_mse(cell, pop, xs, targets, mask))


_init_jit = jax.jit(_init, static_argnums=(0, 1))
_step_jit = jax.jit(_step, static_argnums=(0, 1))


def _check_data(
    cell: AbstractCell, xs: Any, targets: Any, mask: Any
) -> tuple[jax.Array, jax.Array, jax.Array]:
    xs, targets = jnp.asarray(xs), jnp.asarray(targets)
    for name, a in (("xs", xs), ("targets", targets)):
        if a.ndim != 3:
            raise ValueError(f"{name} must have shape (B, T, features), got {a.shape}")
        if not jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(f"{name} must be a float array, got dtype {a.dtype}")
    b, t, m = xs.shape
    if m != cell.input_size:
        raise ValueError(f"xs has {m} features per step but cell.input_size is {cell.input_size}")
    if targets.shape != (b, t, cell.output_size):
        raise ValueError(
            f"targets must have shape (B, T, o) = {(b, t, cell.output_size)}, got {targets.shape}"
        )
    if mask is None:
        mask = jnp.ones((b, t), xs.dtype)
    mask = jnp.asarray(mask)
    if mask.shape != (b, t):
        raise ValueError(f"mask must have shape (B, T) = {(b, t)}, got {mask.shape}")
    if not bool(jnp.sum(mask) > 0):
        raise ValueError("mask selects no step: the MSE would be 0/0")
    for name, a in (("xs", xs), ("targets", targets)):
        if not bool(jnp.all(jnp.isfinite(a))):
            raise ValueError(f"{name} contains NaN or inf")
    return xs, targets.astype(xs.dtype), mask.astype(xs.dtype)


def _stop_reason(best: float, target_fitness: float | None, min_mse: float | None) -> str | None:
    if target_fitness is not None and (best == 0.0 or 1.0 / best >= target_fitness):
        return "target_fitness"
    if min_mse is not None and best <= min_mse:
        return "min_mse"
    return None


def evolve(
    method: AbstractGradientFree,
    cell: AbstractCell,
    xs: Any,
    targets: Any,
    *,
    key: jax.Array,
    max_generations: int,
    target_fitness: float | None = None,
    min_mse: float | None = None,
    mask: Any = None,
) -> EvolveResult:
    """Minimise the MSE (maximise fitness 1/MSE) of ``cell`` on a batch of sequences.

    The initial population is ``N`` independent draws of ``cell.init`` (dtype of ``xs``),
    flattened by ``ravel_pytree``. Then one jitted generation at a time (:meth:`step` of the
    method, the population evaluated by ``jax.vmap``); after each generation the best MSE is
    read back and the criteria are checked, in this order, so stopping is exact per generation:
    fitness ``1/best_mse ≥ target_fitness``; ``best_mse ≤ min_mse``; ``max_generations`` run.
    Cost per generation: O(N·B·T·cost(cell step)).

    Arguments:
        method: :class:`GeneticAlgorithm`, :class:`SimulatedAnnealing` or :class:`ParticleSwarm`.
        cell: any gradalgos cell.
        xs: inputs ``(B, T, m)``, floats.
        targets: ``(B, T, o)``, floats.
        key: PRNG key; the result is a deterministic function of it.
        max_generations: int ≥ 1.
        target_fitness: stop once 1/MSE ≥ this (> 0), or None.
        min_mse: stop once MSE ≤ this (≥ 0), or None.
        mask: ``(B, T)`` weights of the steps (1 = counted), or None for all ones.

    Returns:
        :class:`EvolveResult`.
    """
    if not isinstance(method, AbstractGradientFree):
        raise TypeError(
            "method must be a gradient-free method (GeneticAlgorithm, SimulatedAnnealing, "
            f"ParticleSwarm), got {type(method).__name__}"
        )
    if not isinstance(cell, AbstractCell):
        raise TypeError(f"cell must be a gradalgos cell (AbstractCell), got {type(cell).__name__}")
    check_positive_int("max_generations", max_generations)
    if target_fitness is not None:
        check_positive("target_fitness", target_fitness)
    if min_mse is not None:
        check_positive("min_mse", min_mse, allow_zero=True)
    xs, targets, mask = _check_data(cell, xs, targets, mask)
    k_init, k_run = jax.random.split(key)
    gen_keys = jax.random.split(k_run, max_generations)

    # Compile (and warm up) outside the timed region; results of the warm-up are discarded.
    state = jax.block_until_ready(_init_jit(method, cell, k_init, xs, targets, mask))
    jax.block_until_ready(_step_jit(method, cell, gen_keys[0], state, xs, targets, mask))

    start = time.perf_counter()
    state = _init_jit(method, cell, k_init, xs, targets, mask)
    best_mse, wall_time = [], []
    stopped_by = "max_generations"
    for g in range(max_generations):
        state = _step_jit(method, cell, gen_keys[g], state, xs, targets, mask)
        best = float(state.best_mse)
        best_mse.append(best)
        wall_time.append(time.perf_counter() - start)
        reason = _stop_reason(best, target_fitness, min_mse)
        if reason is not None:
            stopped_by = reason
            break

    _, unravel = ravel_pytree(cell.init(jax.random.key(0), xs.dtype))
    return EvolveResult(
        params=unravel(state.best_x),
        best_mse=np.asarray(best_mse),
        wall_time=np.asarray(wall_time),
        generations=len(best_mse),
        stopped_by=stopped_by,
    )
