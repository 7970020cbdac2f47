"""Particle swarm optimisation with a global-best topology (Kennedy & Eberhart 1995)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.gradient_free.base import (
    AbstractGradientFree,
    MseFn,
    best_of,
    check_population,
    check_positive,
    update_best,
)

__all__ = ["ParticleSwarm", "SwarmState"]


class SwarmState(NamedTuple):
    """Positions ``x (N, P)``, velocities ``v (N, P)``, personal bests ``(N, P)``/``(N,)``, and
    the swarm's best (``best_x (P,)``, ``best_mse ()``)."""

    x: jax.Array
    v: jax.Array
    personal_x: jax.Array
    personal_mse: jax.Array
    best_x: jax.Array
    best_mse: jax.Array


@dataclasses.dataclass(frozen=True)
class ParticleSwarm(AbstractGradientFree):
    """Global-best PSO. Per generation, with r₁, r₂ ~ U(0, 1) per particle and weight::

        v ← inertia · v + cognitive · r₁ (personal_best − x) + social · r₂ (swarm_best − x)
        x ← x + v        (v clipped to ±max_velocity per weight if max_velocity is set)

    Defaults are Clerc & Kennedy's (2002) constriction values. Velocities start at 0.
    Cost: O(N·P) plus N evaluations.

    Arguments:
        population_size: N ≥ 2 particles.
        inertia: w ≥ 0.
        cognitive: c₁ ≥ 0 (pull towards the particle's own best).
        social: c₂ ≥ 0 (pull towards the swarm's best).
        max_velocity: per-weight velocity bound > 0, or None for no bound.
    """

    population_size: int = 32
    inertia: float = 0.7298
    cognitive: float = 1.49618
    social: float = 1.49618
    max_velocity: float | None = None

    def __post_init__(self) -> None:
        check_population(self.population_size)
        for name in ("inertia", "cognitive", "social"):
            check_positive(name, getattr(self, name), allow_zero=True)
        if self.max_velocity is not None:
            check_positive("max_velocity", self.max_velocity)

    def init(self, key: jax.Array, population: jax.Array, mse: jax.Array) -> SwarmState:
        zeros = jnp.zeros_like(population)
        return SwarmState(population, zeros, population, mse, *best_of(population, mse))

    def step(self, key: jax.Array, state: SwarmState, mse_fn: MseFn) -> SwarmState:
        x = state.x
        r1, r2 = jax.random.uniform(key, (2, *x.shape), x.dtype)
        v = (
            self.inertia * state.v
            + self.cognitive * r1 * (state.personal_x - x)
            + self.social * r2 * (state.best_x - x)
        )
        if self.max_velocity is not None:
            v = jnp.clip(v, -self.max_velocity, self.max_velocity)
        x = x + v
        mse = mse_fn(x)
        improved = mse < state.personal_mse
        personal_x = jnp.where(improved[:, None], x, state.personal_x)
        personal_mse = jnp.where(improved, mse, state.personal_mse)
        best = update_best(state.best_x, state.best_mse, x, mse)
        return SwarmState(x, v, personal_x, personal_mse, *best)
