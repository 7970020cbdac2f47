"""Forward propagation of the sensitivity M = ∂s/∂θ: the engine shared by RTRL and the hybrid.

Both algorithms advance a block of ``h`` steps (h = 1 for RTRL) from a carry ``(s_b, M_b)``:

1. one reverse pass through the block with the block's loss gives the in-block gradient
   ``g`` and ``λ = ∂L_block/∂s_b``; the exact gradient contribution is ``g + λ·M_b``;
2. ``D = ∂s_{b+h}/∂θ`` (S×P) and ``J = ∂s_{b+h}/∂s_b`` (S×S) from S unit cotangents on
   ``s_{b+h}``, and ``M_{b+h} = J·M_b + D`` is one GEMM. For h = 1, one ``jax.vjp`` of the
   step pulled back along the S unit vectors (``jax.vmap``) gives both; for h > 1,
   :func:`block_jacobians` pulls the S cotangents back through the states only and gets D
   from one time-contracted pull-back (a GEMM, not a per-step accumulation).

For h = 1 this is RTRL (Williams & Zipser 1989) with the per-step Jacobians J^s_t, J^θ_t got in
one structured pass (never a P×P identity); for h > 1 it is the fixed-size-storage hybrid
(Williams 1989; Schmidhuber 1992). Cost per block: O(S·h·cost(step)) for the reverse passes and
O(S²·P) for the GEMM; memory O(S·P + h·S²). Exact for every h.

The state is flattened (``ravel_pytree``) to s ``(S,)``; the sensitivity is kept per parameter
leaf, a pytree like the parameters whose leaves are ``(S, *leaf.shape)`` (so the parameter axes
are plain array axes that a sharding annotation can split across devices, and no concatenated
``(S, P)`` copy is ever made). ``J·M`` is then one GEMM per leaf. Parameters the state cannot
depend on (readouts; :func:`gradalgos.cells.dependence.state_parameter_mask`) have ``∂s/∂θ ≡ 0``:
their leaf of M is ``None``, nothing is carried or multiplied for them, and their gradient is
the in-block one alone. So P in the costs above counts the state's parameters only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.sequence import Loss, scan_loss, step_loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import state_parameter_mask

__all__ = [
    "SensitivityState",
    "advance_block",
    "block_jacobians",
    "flatten_state",
    "initial_sensitivity",
    "sensitivity_sequence",
    "zero_sensitivity",
]

_HIGHEST = jax.lax.Precision.HIGHEST


class SensitivityState(NamedTuple):
    """Carry of the online algorithms.

    Attributes:
        state: the cell's state s_t (the cell's own pytree).
        sensitivity: M_t = ∂s_t/∂θ, a pytree like the parameters with leaves
            ``(S, *leaf.shape)`` for the parameters the state depends on and ``None`` for
            the others (readouts, whose sensitivity is identically 0): S·P_s numbers in all.
    """

    state: State
    sensitivity: Params


def flatten_state(state: State) -> jax.Array:
    """The state pytree as one ``(S,)`` vector."""
    return ravel_pytree(state)[0]


def zero_sensitivity(params: Params, state_size: int, mask: Params | None = None) -> Params:
    """M = 0: leaves ``(S, *leaf.shape)`` where ``mask`` (a pytree of bools like ``params``;
    default all ``True``) is ``True``, ``None`` where it is ``False``."""
    if mask is None:
        mask = jax.tree_util.tree_map(lambda _: True, params)
    return jax.tree_util.tree_map(
        lambda p, keep: jnp.zeros((state_size, *p.shape), p.dtype) if keep else None,
        params,
        mask,
    )


def initial_sensitivity(cell: AbstractCell, params: Params, state: State) -> Params:
    """M_0 = 0 for the parameters ``cell``'s state depends on, ``None`` for the others."""
    S = flatten_state(state).shape[0]
    return zero_sensitivity(params, S, state_parameter_mask(cell, params, state))


def _times(row_or_matrix: jax.Array, M: Params) -> Params:
    """``λ·M`` (λ ``(S,)``) or ``J·M`` (J ``(S, S)``), leaf by leaf (``None`` leaves stay)."""
    return jax.tree_util.tree_map(
        lambda m: jnp.tensordot(row_or_matrix, m, axes=1, precision=_HIGHEST), M
    )


def _split_last_row(stacked: Params) -> tuple[Params, Params]:
    """Leaves ``(R + 1, ...)`` → (their first R rows, their last row)."""
    return (
        jax.tree_util.tree_map(lambda m: m[:-1], stacked),
        jax.tree_util.tree_map(lambda m: m[-1], stacked),
    )


def _add_carried(full: Params, carried: Params, *, keep_uncarried: bool) -> Params:
    """``full + carried`` leaf by leaf. Where ``carried`` is ``None`` (a parameter the state
    does not depend on, whose carried term is 0): ``full``'s leaf if ``keep_uncarried``, else
    ``None`` (so a new M stays ``None`` there)."""
    return jax.tree_util.tree_map(
        lambda f, c: (f if keep_uncarried else None) if c is None else f + c, full, carried
    )


def advance_block(
    cell: AbstractCell,
    loss: Loss,
    unravel_state: Callable[[jax.Array], State],
    params: Params,
    s: jax.Array,
    M: Params,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    *,
    single_step: bool,
    propagate: bool,
) -> tuple[jax.Array, Params, jax.Array, Params]:
    """Advance ``(s, M)`` over one block and return ``(s', M', L_block, ∂L_block/∂θ)``.

    Arguments:
        params: the parameter pytree (P numbers).
        s: flat state ``(S,)`` at the block start.
        M: sensitivity at the block start, leaves ``(S, *leaf.shape)``.
        xs, targets, mask: the block's inputs ``(h, m)``, ``(h, ...)``, ``(h,)``; without the
            leading ``h`` axis when ``single_step``.
        single_step: the block is one step (RTRL), not a scan.
        propagate: compute M' (skip it for the last block of a sequence: M is then returned
            unchanged).

    Cost: O(h·cost(step)) for the loss gradient, plus, with ``propagate``, O(S·h·cost(step))
    for the S reverse passes and O(S²·P) for ``J·M``.
    """

    def block(params, s):
        state = unravel_state(s)
        if single_step:
            state, total = step_loss(cell, loss, params, state, xs, targets, mask)
        else:
            total, state = scan_loss(cell, loss, params, state, xs, targets, mask)
        return flatten_state(state), total

    (s_new, total), pullback = jax.vjp(block, params, s)
    g_in, lam = pullback((jnp.zeros_like(s_new), jnp.ones_like(total)))
    if not propagate:
        return s_new, M, total, _add_carried(g_in, _times(lam, M), keep_uncarried=True)
    if single_step:
        S = s_new.shape[0]
        basis = (jnp.eye(S, dtype=s_new.dtype), jnp.zeros((S,), total.dtype))
        # Row i of each leaf of D is e_iᵀ ∂s'/∂θ; row i of J is e_iᵀ ∂s'/∂s.
        D, J = jax.vmap(pullback)(basis)
        # One GEMM [J; λ]·M gives J·M and λ·M: M then has a single reader, so XLA writes M'
        # over it in the step loop (with two, it copied M every step: 3·S·P numbers of scratch
        # instead of 2, and a memory-bound pass). For a block, D is a GEMM output whose
        # buffer M' reuses; a stacked product would add one (measured: +24 % scratch).
        JM, lamM = _split_last_row(_times(jnp.concatenate([J, lam[None]]), M))
    else:
        J, D = block_jacobians(cell, unravel_state, params, s, xs)
        JM, lamM = _times(J, M), _times(lam, M)
    grad = _add_carried(g_in, lamM, keep_uncarried=True)
    return s_new, _add_carried(D, JM, keep_uncarried=False), total, grad


def block_jacobians(
    cell: AbstractCell,
    unravel_state: Callable[[jax.Array], State],
    params: Params,
    s: jax.Array,
    xs: jax.Array,
) -> tuple[jax.Array, Params]:
    """``J = ∂s_h/∂s_0`` ``(S, S)`` and ``D = ∂s_h/∂θ`` (leaves ``(S, *leaf.shape)``) of a
    block of ``h`` steps from the flat state ``s`` ``(S,)`` with inputs ``xs`` ``(h, m)``.

    1. a forward scan keeps the state entering each step, ``s_{t-1}`` ``(h, S)``;
    2. a reverse scan carries the S unit cotangents of s_h back through the states only,
       ``Λ_{t-1} = Λ_t·∂s_t/∂s_{t-1}`` (S×S, a GEMM per step for a dense cell), keeping every
       ``Λ_t`` ``(h, S, S)``; ``J = Λ_0``;
    3. ``D = Σ_t Λ_t·∂s_t/∂θ`` is one pull-back of the step mapped over all h steps at once
       (``jax.vmap`` over t with θ shared), so the sum over t is the contraction of a GEMM.

    Pulling the S cotangents back through a ``lax.scan`` instead (``jax.vmap`` of the block's
    ``jax.vjp``) gives the same numbers but adds each step's (S, P) parameter cotangent to a
    carried accumulator: S·P memory traffic per step, memory-bound once S·P leaves the cache
    (3.4× slower for an Elman cell at n = 256). Here the accumulation is a GEMM.

    Cost per block: O(h·S·cost(step)) (steps 2 and 3); memory O(h·S² + S·P).
    """

    def state_step(p: Params, s_prev: jax.Array, x: jax.Array) -> jax.Array:
        return flatten_state(cell.step(p, unravel_state(s_prev), x)[0])

    def forward(s_prev, x):
        return state_step(params, s_prev, x), s_prev

    _, s_prevs = jax.lax.scan(forward, s, xs)

    def backward(lam, inputs):
        s_prev, x = inputs
        _, pull = jax.vjp(lambda s_: state_step(params, s_, x), s_prev)
        return jax.vmap(pull)(lam)[0], lam

    S = s.shape[0]
    J, lams = jax.lax.scan(backward, jnp.eye(S, dtype=s.dtype), (s_prevs, xs), reverse=True)
    _, pull_params = jax.vjp(
        lambda p: jax.vmap(state_step, in_axes=(None, 0, 0))(p, s_prevs, xs), params
    )
    D = jax.vmap(lambda lam: pull_params(lam)[0], in_axes=1)(lams)
    return J, D


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
            unravel_state,
            params,
            s,
            M,
            x,
            t,
            m,
            single_step=single_step,
            propagate=propagate,
        )

    def block_inputs(i):
        """Block i's inputs, sliced inside the loop body: a reshaped ``(n_prop, h, ...)`` copy
        made before the loop would be O(T) memory (under a batch ``vmap``, a time-major copy)."""
        if single:
            take = lambda a: jax.lax.dynamic_index_in_dim(a, i, keepdims=False)  # noqa: E731
        else:
            take = lambda a: jax.lax.dynamic_slice_in_dim(a, i * h, h)  # noqa: E731
        return jax.tree_util.tree_map(take, (xs, targets, mask))

    def body(carry, i):
        s, M, grad, total = carry
        s, M, value, g = run(s, M, *block_inputs(i), single_step=single, propagate=True)
        return (s, M, jax.tree_util.tree_map(jnp.add, grad, g), total + value), None

    M0 = initial_sensitivity(cell, params, state0)
    grad0 = jax.tree_util.tree_map(jnp.zeros_like, params)
    carry = (s0, M0, grad0, jnp.zeros((), mask.dtype))
    if n_prop:
        carry, _ = jax.lax.scan(body, carry, jnp.arange(n_prop))
    s, M, grad, total = carry
    tail = jax.tree_util.tree_map(
        lambda a: a[T - 1] if single else a[T - last :], (xs, targets, mask)
    )
    s, _, value, g = run(s, M, *tail, single_step=single, propagate=False)
    return total + value, jax.tree_util.tree_map(jnp.add, grad, g), unravel_state(s)
