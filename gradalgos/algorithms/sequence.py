"""The forward pass shared by all algorithms: per-step loss and a scan over time.

Conventions (after validation by :func:`gradalgos.value_and_grad`): one sequence is
``xs (T, m)``, ``targets (T, ...)``, ``mask (T,)`` (float, same dtype as the params); a batch
has a leading ``B`` axis on each, and on the state.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gradalgos.cells.base import AbstractCell, Params, State

Loss = Callable[[jax.Array, jax.Array], jax.Array]

__all__ = ["Loss", "batch_loss", "scan_loss", "step_loss"]


def step_loss(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    state: State,
    x: jax.Array,
    target: jax.Array,
    mask: jax.Array,
) -> tuple[State, jax.Array]:
    """One step and its masked loss: ``(s_t, mask_t · ℓ(y_t, target_t))``."""
    state, y = cell.step(params, state, x)
    return state, mask * loss(y, target)


def scan_loss(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    active: jax.Array | None = None,
    return_states: bool = False,
) -> tuple[jax.Array, State] | tuple[jax.Array, State, State]:
    """``(Σ_t mask_t ℓ_t, s_T)`` of one sequence, by ``lax.scan``. O(T·cost(step)).

    ``active (T,)`` (bool), if given, freezes the state on inactive steps (used for padding:
    an inactive step leaves the state as it was and its loss must be masked out).
    With ``return_states`` the states after every step are returned too (a pytree, ``(T, ...)``).
    """

    def body(carry, inputs):
        state, total = carry
        if active is None:
            x, target, m = inputs
            new_state, l_t = step_loss(cell, loss, params, state, x, target, m)
        else:
            x, target, m, a = inputs
            new_state, l_t = step_loss(cell, loss, params, state, x, target, m)
            new_state = jax.tree_util.tree_map(
                lambda new, old: jnp.where(a, new, old), new_state, state
            )
        return (new_state, total + l_t), (new_state if return_states else None)

    inputs = (xs, targets, mask) if active is None else (xs, targets, mask, active)
    zero = jnp.zeros((), mask.dtype)
    (state_T, total), states = jax.lax.scan(body, (state0, zero), inputs)
    if return_states:
        return total, state_T, states
    return total, state_T


def batch_loss(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> tuple[jax.Array, State]:
    """``(mean over the batch of Σ_t mask_t ℓ_t, s_T (B, ...))`` for batched inputs.

    One scan over time of :meth:`~gradalgos.cells.AbstractCell.batch_step` (the cell's
    batch form, by default ``vmap`` of its step), the same sums as ``vmap`` of
    :func:`scan_loss` over the sequences.
    """
    per_example = jax.vmap(loss)

    def body(carry, inputs):
        state, total = carry
        x, target, m = inputs
        state, y = cell.batch_step(params, state, x)
        return (state, total + m * per_example(y, target)), None

    time_major = (xs.swapaxes(0, 1), targets.swapaxes(0, 1), mask.swapaxes(0, 1))
    zero = jnp.zeros(mask.shape[:1], mask.dtype)
    (state_T, totals), _ = jax.lax.scan(body, (state0, zero), time_major)
    return jnp.mean(totals), state_T
