"""Pieces every approximate online method shares: one step's pull-back and the immediate
credit ``q_t = ∂ℓ_t/∂s_t``.

The one gradient convention of the approximate methods (Marschall, Cho & Savin 2020)::

    g_t = q_t · M̃_t + ∂ℓ_t/∂θ|readout,      q_t = ∂ℓ_t/∂s_t

with ``M̃_t`` the method's estimate of ∂s_t/∂θ *after* step t's update and the readout term
taken at fixed ``s_t``. ``q_t`` needs ``y_t`` as a function of ``s_t``: the readout is derived
from the cell's step (:func:`gradalgos.cells.structure.readout_function`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.structure import readout_function

__all__ = ["Credit", "StepPullback", "check_readout", "immediate_credit", "step_pullback"]


class StepPullback(NamedTuple):
    """One step ``s_t = f(θ, s_{t-1}, x_t)`` with the state flattened."""

    state: State  # s_t, the cell's pytree
    flat: jax.Array  # s_t as (S,)
    pull_params: Callable[[jax.Array], Params]  # cotangent (S,) → its product with J^θ_t
    unravel: Callable[[jax.Array], State]


def step_pullback(cell: AbstractCell, params: Params, state: State, x: jax.Array) -> StepPullback:
    """The step and ``v ↦ v·J^θ_t`` (one ``jax.vjp`` in θ; ``jax.vmap`` it for many v).
    Cost O(cost(step)) plus O(cost(step)) per cotangent."""
    s_prev, unravel = ravel_pytree(state)

    def state_step(p: Params) -> jax.Array:
        return ravel_pytree(cell.step(p, unravel(s_prev), x)[0])[0]

    s_new, pull = jax.vjp(state_step, params)
    return StepPullback(unravel(s_new), s_new, lambda v: pull(v)[0], unravel)


class Credit(NamedTuple):
    """What step t's loss gives an online method at fixed ``s_t``."""

    value: jax.Array  # mask_t · ℓ_t
    direct: Params  # ∂(mask_t ℓ_t)/∂θ at fixed s_t (the readout's gradient)
    q: jax.Array  # ∂(mask_t ℓ_t)/∂s_t (S,)
    dy: jax.Array  # ∂(mask_t ℓ_t)/∂y_t (o,), for feedback alignment


def immediate_credit(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    state: State,
    x: jax.Array,
    target: jax.Array,
    mask: jax.Array,
) -> Credit:
    """``mask·ℓ(readout(θ, s_t, x_t), target)``, its gradient in θ at fixed ``s_t`` and
    ``q_t`` (flat). Cost O(cost(readout)).

    Raises:
        ValueError: (while tracing) for a cell whose output is not a function of ``s_t``.
    """
    readout = readout_function(cell, params, state)
    y, pull = jax.vjp(lambda p, s: readout(p, s, x), params, state)
    value, dy = jax.value_and_grad(loss)(y, target)
    dy = mask * dy
    direct, q = pull(dy)
    return Credit(mask * value, direct, ravel_pytree(q)[0], dy)


def check_readout(algorithm: object, cell: AbstractCell, params: Params, state: State) -> None:
    """``ValueError`` naming ``algorithm`` and ``cell`` unless the cell's output is a function
    of ``(θ, s_t, x_t)`` (the immediate credit q_t is then defined)."""
    try:
        readout_function(cell, params, state)
    except ValueError as err:
        raise ValueError(f"{type(algorithm).__name__} does not apply to this cell: {err}") from None


def add(a: Params, b: Params) -> Params:
    """``a + b`` leaf by leaf where ``b`` has a leaf (``None`` leaves of ``b`` add nothing)."""
    return jax.tree_util.tree_map(
        lambda x, y: x if y is None else x + y, a, b, is_leaf=lambda v: v is None
    )


def zeros_like_state(state: State) -> jax.Array:
    """A flat zero vector of the state's size and dtype."""
    return jnp.zeros_like(ravel_pytree(state)[0])
