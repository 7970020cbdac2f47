"""Simulated annealing: a population of independent Metropolis chains with geometric cooling."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.gradient_free.base import (
    AbstractGradientFree,
    MseFn,
    best_of,
    check_fraction,
    check_population,
    check_positive,
    update_best,
)

__all__ = ["AnnealingState", "SimulatedAnnealing"]


class AnnealingState(NamedTuple):
    """Chains ``x (N, P)``, their ``mse (N,)``, the generation count and the best vector."""

    x: jax.Array
    mse: jax.Array
    generation: jax.Array
    best_x: jax.Array
    best_mse: jax.Array


@dataclasses.dataclass(frozen=True)
class SimulatedAnnealing(AbstractGradientFree):
    """N independent simulated-annealing chains, run in parallel (vmapped evaluation).

    Generation g (from 0) proposes ``x' = x + σ_g ε``, ε ~ N(0, I), for every chain and accepts
    with the Metropolis probability ``min(1, exp(-(E(x') - E(x)) / T_g))``, where the energy is
    ``E = log MSE = -log fitness`` (so the temperature is relative: at T = 0.01 a 1 % worse MSE
    is accepted with probability ≈ e⁻¹). Schedules: ``T_g = initial_temperature · cooling^g``,
    ``σ_g = step_size · step_decay^g``. Cost: O(N·P) plus N evaluations.

    Arguments:
        population_size: N ≥ 2 chains.
        initial_temperature: T_0 > 0.
        cooling: geometric factor in (0, 1].
        step_size: σ_0 > 0, standard deviation of a proposal per weight.
        step_decay: geometric factor of σ in (0, 1].
    """

    population_size: int = 32
    initial_temperature: float = 0.01
    cooling: float = 0.99
    step_size: float = 0.03
    step_decay: float = 0.999

    def __post_init__(self) -> None:
        check_population(self.population_size)
        check_positive("initial_temperature", self.initial_temperature)
        check_positive("step_size", self.step_size)
        for name in ("cooling", "step_decay"):
            check_fraction(name, getattr(self, name))
            check_positive(name, getattr(self, name))

    def init(self, key: jax.Array, population: jax.Array, mse: jax.Array) -> AnnealingState:
        return AnnealingState(population, mse, jnp.zeros((), jnp.int32), *best_of(population, mse))

    def step(self, key: jax.Array, state: AnnealingState, mse_fn: MseFn) -> AnnealingState:
        x, mse = state.x, state.mse
        g = state.generation.astype(x.dtype)
        temperature = self.initial_temperature * self.cooling**g
        sigma = self.step_size * self.step_decay**g
        k_prop, k_acc = jax.random.split(key)
        proposal = x + sigma * jax.random.normal(k_prop, x.shape, x.dtype)
        new_mse = mse_fn(proposal)
        delta = jnp.log(new_mse) - jnp.log(mse)
        u = jax.random.uniform(k_acc, mse.shape, x.dtype)
        accept = (delta <= 0) | (u < jnp.exp(-delta / temperature))
        x = jnp.where(accept[:, None], proposal, x)
        mse = jnp.where(accept, new_mse, mse)
        best = update_best(state.best_x, state.best_mse, proposal, new_mse)
        return AnnealingState(x, mse, state.generation + 1, *best)
