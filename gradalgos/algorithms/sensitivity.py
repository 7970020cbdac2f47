"""Forward propagation of the sensitivity M = ∂s/∂θ: the engine shared by RTRL and the hybrid.

Both algorithms advance a block of ``h`` steps (h = 1 for RTRL) from a carry ``(s_b, M_b)``:

1. one reverse pass through the block with the block's loss gives the in-block gradient
   ``g`` and ``λ = ∂L_block/∂s_b``; the exact gradient contribution is ``g + λ·M_b``;
2. ``S`` reverse passes with unit cotangents on ``s_{b+h}`` (``jax.vmap`` of one ``jax.vjp``,
   sharing its residuals) give ``D = ∂s_{b+h}/∂θ`` (S×P) and ``J = ∂s_{b+h}/∂s_b`` (S×S), and
   ``M_{b+h} = J·M_b + D`` is one GEMM.

For h = 1 this is RTRL (Williams & Zipser 1989) with the per-step Jacobians J^s_t, J^θ_t got in
one structured pass (never a P×P identity); for h > 1 it is the fixed-size-storage hybrid
(Williams 1989; Schmidhuber 1992). Cost per block: O(S·h·cost(step)) for the reverse passes and
O(S²·P) for the GEMM; memory O(S·P + h·S). Exact for every h.

The state and parameters are flattened (``ravel_pytree``): θ ``(P,)``, s ``(S,)``, and M is a
plain ``(S, P)`` array whose parameter axis can be sharded across devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.sequence import Loss, scan_loss, step_loss
from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["SensitivityState", "advance_block", "flatten_state", "sensitivity_sequence"]

_HIGHEST = jax.lax.Precision.HIGHEST


class SensitivityState(NamedTuple):
    """Carry of the online algorithms.

    Attributes:
        state: the cell's state s_t (the cell's own pytree).
        sensitivity: M_t = ∂s_t/∂θ, ``(S, P)``; columns in ``ravel_pytree(params)`` order.
    """

    state: State
    sensitivity: jax.Array


def flatten_state(state: State) -> jax.Array:
    """The state pytree as one ``(S,)`` vector."""
    return ravel_pytree(state)[0]


def advance_block(
    cell: AbstractCell,
    loss: Loss,
    unravel_params: Callable[[jax.Array], Params],
    unravel_state: Callable[[jax.Array], State],
    theta: jax.Array,
    s: jax.Array,
    M: jax.Array,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    *,
    single_step: bool,
    propagate: bool,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Advance ``(s, M)`` over one block and return ``(s', M', L_block, ∂L_block/∂θ)``.

    Arguments:
        theta: flat parameters ``(P,)``.
        s: flat state ``(S,)`` at the block start.
        M: sensitivity ``(S, P)`` at the block start.
        xs, targets, mask: the block's inputs ``(h, m)``, ``(h, ...)``, ``(h,)``; without the
            leading ``h`` axis when ``single_step``.
        single_step: the block is one step (RTRL), not a scan.
        propagate: compute M' (skip it for the last block of a sequence: M' is then returned
            unchanged).

    Cost: O(h·cost(step)) for the loss gradient, plus, with ``propagate``, O(S·h·cost(step))
    for the S reverse passes and O(S²·P) for ``J·M``.
    """

    def block(theta, s):
        params, state = unravel_params(theta), unravel_state(s)
        if single_step:
            state, total = step_loss(cell, loss, params, state, xs, targets, mask)
        else:
            total, state = scan_loss(cell, loss, params, state, xs, targets, mask)
        return flatten_state(state), total

    (s_new, total), pullback = jax.vjp(block, theta, s)
    g_in, lam = pullback((jnp.zeros_like(s_new), jnp.ones_like(total)))
    grad = g_in + jnp.matmul(lam, M, precision=_HIGHEST)
    if propagate:
        S = s_new.shape[0]
        basis = (jnp.eye(S, dtype=s_new.dtype), jnp.zeros((S,), total.dtype))
        D, J = jax.vmap(pullback)(basis)  # rows: e_iᵀ ∂s'/∂θ (S, P) and e_iᵀ ∂s'/∂s (S, S)
        M = jnp.matmul(J, M, precision=_HIGHEST) + D
    return s_new, M, total, grad


def sensitivity_sequence(
    cell: AbstractCell,
    loss: Loss,
    block: int,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> tuple[jax.Array, Params, State]:
    """``(L, ∂L/∂θ, s_T)`` of one sequence by blocks of ``block`` steps, starting from M = 0.

    The last block (``T mod block`` steps, or ``block`` if that is 0) does not propagate M.
    """
    theta, unravel_params = ravel_pytree(params)
    s0, unravel_state = ravel_pytree(state0)
    T = xs.shape[0]
    h = min(block, T)
    last = T % h or h
    n_prop = (T - last) // h  # blocks that carry M forward
    single = h == 1

    def run(s, M, x, t, m, *, single_step, propagate):
        return advance_block(
            cell,
            loss,
            unravel_params,
            unravel_state,
            theta,
            s,
            M,
            x,
            t,
            m,
            single_step=single_step,
            propagate=propagate,
        )

    def body(carry, blk):
        s, M, grad, total = carry
        s, M, value, g = run(s, M, *blk, single_step=single, propagate=True)
        return (s, M, grad + g, total + value), None

    M0 = jnp.zeros((s0.shape[0], theta.shape[0]), theta.dtype)
    carry = (s0, M0, jnp.zeros_like(theta), jnp.zeros((), mask.dtype))
    if n_prop:
        head = n_prop * h
        shape = (n_prop,) if single else (n_prop, h)
        blocks = jax.tree_util.tree_map(
            lambda a: a[:head].reshape((*shape, *a.shape[1:])), (xs, targets, mask)
        )
        carry, _ = jax.lax.scan(body, carry, blocks)
    s, M, grad, total = carry
    tail = jax.tree_util.tree_map(
        lambda a: a[T - 1] if single else a[T - last :], (xs, targets, mask)
    )
    s, _, value, g = run(s, M, *tail, single_step=single, propagate=False)
    return total + value, unravel_params(grad + g), unravel_state(s)
