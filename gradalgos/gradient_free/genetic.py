"""Genetic algorithm: tournament selection, uniform crossover, Gaussian mutation, elitism."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int
from gradalgos.gradient_free.base import (
    AbstractGradientFree,
    MseFn,
    best_of,
    check_fraction,
    check_population,
    check_positive,
    update_best,
)

__all__ = ["GeneticAlgorithm", "GeneticState"]


class GeneticState(NamedTuple):
    """``population (N, P)``, its ``mse (N,)``, and the best vector ever seen."""

    population: jax.Array
    mse: jax.Array
    best_x: jax.Array
    best_mse: jax.Array


@dataclasses.dataclass(frozen=True)
class GeneticAlgorithm(AbstractGradientFree):
    """A real-coded generational GA (one gene per weight).

    Each generation keeps the ``elitism`` best vectors unchanged and breeds ``N - elitism``
    children: two parents, each the best of ``tournament_size`` uniform draws; with probability
    ``crossover_rate`` uniform crossover (each gene from either parent with probability ½), else
    a copy of the first parent; then each gene, with probability ``mutation_rate``, gets
    ``N(0, mutation_scale²)`` added. Only children are evaluated (the MSE is deterministic).
    Cost: O(N·P) for breeding plus N − elitism evaluations.

    Arguments:
        population_size: N ≥ 2.
        elitism: number of best vectors copied unchanged, 0 ≤ elitism < N.
        tournament_size: ≥ 1 (1 = uniform random parents).
        crossover_rate: probability that a child is a crossover, in [0, 1].
        mutation_rate: per-gene mutation probability, in [0, 1].
        mutation_scale: standard deviation of a mutation, > 0.
    """

    population_size: int = 64
    elitism: int = 2
    tournament_size: int = 3
    crossover_rate: float = 0.5
    mutation_rate: float = 0.1
    mutation_scale: float = 0.1

    def __post_init__(self) -> None:
        check_population(self.population_size)
        if isinstance(self.elitism, bool) or not isinstance(self.elitism, int):
            raise TypeError(f"elitism must be an int, got {self.elitism!r}")
        if not 0 <= self.elitism < self.population_size:
            raise ValueError(
                f"elitism must be in [0, population_size={self.population_size}), "
                f"got {self.elitism}"
            )
        check_positive_int("tournament_size", self.tournament_size)
        check_fraction("crossover_rate", self.crossover_rate)
        check_fraction("mutation_rate", self.mutation_rate)
        check_positive("mutation_scale", self.mutation_scale)

    def init(self, key: jax.Array, population: jax.Array, mse: jax.Array) -> GeneticState:
        return GeneticState(population, mse, *best_of(population, mse))

    def step(self, key: jax.Array, state: GeneticState, mse_fn: MseFn) -> GeneticState:
        pop, mse = state.population, state.mse
        n, p = pop.shape
        n_child = n - self.elitism
        k1, k2, k_cross, k_genes, k_mut, k_noise = jax.random.split(key, 6)

        def tournament(k: jax.Array) -> jax.Array:
            entrants = jax.random.randint(k, (n_child, self.tournament_size), 0, n)
            winner = jnp.argmin(mse[entrants], axis=1)
            return pop[jnp.take_along_axis(entrants, winner[:, None], axis=1)[:, 0]]

        first, second = tournament(k1), tournament(k2)
        cross = jax.random.bernoulli(k_cross, self.crossover_rate, (n_child, 1))
        genes = jax.random.bernoulli(k_genes, 0.5, (n_child, p))
        children = jnp.where(cross & genes, second, first)
        mutate = jax.random.bernoulli(k_mut, self.mutation_rate, (n_child, p))
        noise = self.mutation_scale * jax.random.normal(k_noise, (n_child, p), pop.dtype)
        children = children + jnp.where(mutate, noise, jnp.zeros_like(noise))
        child_mse = mse_fn(children)

        elite = jnp.argsort(mse)[: self.elitism]
        pop = jnp.concatenate([pop[elite], children])
        mse = jnp.concatenate([mse[elite], child_mse])
        return GeneticState(pop, mse, *update_best(state.best_x, state.best_mse, pop, mse))
