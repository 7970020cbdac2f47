"""The baseline a JAX user writes by hand: ``jax.jit(jax.value_and_grad(loss over lax.scan))``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells.base import AbstractCell

__all__ = ["scan_value_and_grad"]


def scan_value_and_grad(cell: AbstractCell) -> Callable[..., tuple[jax.Array, Any]]:
    """``f(params, state0, xs, targets, mask) -> (L, ∂L/∂θ)`` written directly with ``lax.scan``
    over time and the cell's step ``vmap``-ed over the batch (no gradalgos algorithm).

    ``L`` = mean over the batch of Σ_t mask_t · mean((y_t − target_t)²), the same loss as
    ``ga.losses.mse`` under ``ga.value_and_grad``. Shapes: state0 leaves ``(B, ...)``,
    xs ``(B, T, m)``, targets ``(B, T, o)``, mask ``(B, T)``.
    """
    step = jax.vmap(cell.step, in_axes=(None, 0, 0))

    def loss(params: Any, state0: Any, xs: jax.Array, targets: jax.Array, mask: jax.Array):
        def body(state: Any, inputs: tuple[jax.Array, ...]) -> tuple[Any, jax.Array]:
            x, target, m = inputs
            state, y = step(params, state, x)
            return state, jnp.sum(m * jnp.mean(jnp.square(y - target), axis=-1))

        time_major = (jnp.swapaxes(xs, 0, 1), jnp.swapaxes(targets, 0, 1), mask.T)
        _, per_step = jax.lax.scan(body, state0, time_major)
        return jnp.sum(per_step) / xs.shape[0]

    return jax.value_and_grad(loss)
