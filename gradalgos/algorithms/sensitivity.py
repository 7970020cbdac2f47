"""Forward propagation of the sensitivity M = ∂s/∂θ: the engine shared by RTRL and the hybrid.

Both algorithms advance a block of ``h`` steps (h = 1 for RTRL) from a carry ``(s_b, M_b)``:

1. the block's loss pulled back through the block gives the in-block gradient ``g`` and
   ``λ = ∂L_block/∂s_b``; the exact gradient contribution is ``g + λ·M_b``;
2. ``D = ∂s_{b+h}/∂θ`` (S×P) and ``J = ∂s_{b+h}/∂s_b`` (S×S) from S unit cotangents on
   ``s_{b+h}``, and ``M_{b+h} = J·M_b + D`` is one GEMM. For h = 1, one ``jax.vjp`` of the
   step pulled back along the S unit vectors and the loss (``jax.vmap``) gives all four; for
   h > 1, :func:`block_pullback` runs one forward and one reverse pass over the block,
   carrying the S unit cotangents and the loss's together, and gets D and g from one
   time-contracted pull-back each (a GEMM, not a per-step accumulation).

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
    "BlockPullback",
    "SensitivityState",
    "advance_block",
    "block_pullback",
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
    for the S unit cotangents' reverse pass and O(S²·P) for ``J·M``.
    """

    if propagate and not single_step:
        b = block_pullback(cell, loss, unravel_state, params, s, xs, targets, mask)
        grad = _add_carried(b.grad, _times(b.lam, M), keep_uncarried=True)
        return b.state, _add_carried(b.D, _times(b.J, M), keep_uncarried=False), b.total, grad

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
    S = s_new.shape[0]
    basis = (jnp.eye(S, dtype=s_new.dtype), jnp.zeros((S,), total.dtype))
    # Row i of each leaf of D is e_iᵀ ∂s'/∂θ; row i of J is e_iᵀ ∂s'/∂s.
    D, J = jax.vmap(pullback)(basis)
    # One GEMM [J; λ]·M gives J·M and λ·M: M then has a single reader, so XLA writes M' over
    # it in the step loop (with two, it copied M every step: 3·S·P numbers of scratch instead
    # of 2, and a memory-bound pass). For a block, D is a GEMM output whose buffer M' reuses;
    # a stacked product would add one (measured: +24 % scratch).
    JM, lamM = _split_last_row(_times(jnp.concatenate([J, lam[None]]), M))
    grad = _add_carried(g_in, lamM, keep_uncarried=True)
    return s_new, _add_carried(D, JM, keep_uncarried=False), total, grad


class BlockPullback(NamedTuple):
    """What one forward and one reverse pass over a block give (:func:`block_pullback`)."""

    state: jax.Array  # s_{b+h} (S,)
    total: jax.Array  # L_block = Σ_t mask_t·ℓ_t
    J: jax.Array  # ∂s_{b+h}/∂s_b (S, S)
    lam: jax.Array  # λ = ∂L_block/∂s_b (S,)
    D: Params  # ∂s_{b+h}/∂θ, leaves (S, *leaf.shape)
    grad: Params  # ∂L_block/∂θ with s_b held fixed (the in-block gradient)


def block_pullback(
    cell: AbstractCell,
    loss: Loss,
    unravel_state: Callable[[jax.Array], State],
    params: Params,
    s: jax.Array,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> BlockPullback:
    """Everything the hybrid needs from a block of ``h`` steps, in one forward and one reverse
    pass: from the flat state ``s`` ``(S,)`` with inputs ``xs`` ``(h, m)``, ``targets``
    ``(h, ...)``, ``mask`` ``(h,)``.

    1. a forward scan keeps the state entering each step, ``s_{t-1}`` ``(h, S)``, the block's
       loss and the loss's output cotangent ``mask_t·∂ℓ_t/∂y_t`` ``(h, o)``;
    2. a reverse scan carries the S unit cotangents on s_h back through the states,
       ``Λ_{t-1} = Λ_t·∂s_t/∂s_{t-1}`` (S×S, a GEMM per step for a dense cell), and beside
       them the loss's cotangent ``λ_t`` (BPTT of the block's loss, a GEMV per step); it keeps
       every ``Λ_t`` ``(h, S, S)`` and ``λ_t`` ``(h, S)``; ``J = Λ_0``, ``λ = λ_0``;
    3. ``D = Σ_t Λ_t·∂s_t/∂θ`` is one pull-back of the step mapped over all h steps at once
       (``jax.vmap`` over t with θ shared), so the sum over t is the contraction of a GEMM;
       the in-block gradient is the same pull-back of ``(λ_t, output cotangents)``.

    One loop each way per block: a separate BPTT pass of the loss would add a forward and a
    reverse loop (on a GPU, loop iterations set the time per step at small n). λ is not
    stacked under the S unit rows (as RTRL stacks ``[J; λ]``): measured on the CPU, the
    (S + 1)-row GEMMs ran up to 1.5× slower at n = 64, and M' could no longer reuse D's
    buffer (+24 % scratch over several blocks). Pulling the S cotangents back through a
    ``lax.scan`` with the parameters instead (``jax.vmap`` of the block's ``jax.vjp``) adds
    each step's (S, P) parameter cotangent to a carried accumulator: S·P memory traffic per
    step, memory-bound once S·P leaves the cache (3.4× slower for an Elman cell at n = 256).

    Cost per block: O(h·S·cost(step)) (steps 2 and 3); memory O(h·S² + S·P).
    """

    def step(p: Params, s_prev: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        state, y = cell.step(p, unravel_state(s_prev), x)
        return flatten_state(state), y

    def forward(carry, inputs):
        s_prev, total = carry
        x, target, m = inputs
        s_next, y = step(params, s_prev, x)
        value, g_y = jax.value_and_grad(loss)(y, target)
        return (s_next, total + m * value), (s_prev, m * g_y)

    zero = jnp.zeros((), mask.dtype)
    (s_new, total), (s_prevs, g_ys) = jax.lax.scan(forward, (s, zero), (xs, targets, mask))

    def state_step(p: Params, s_prev: jax.Array, x: jax.Array) -> jax.Array:
        return step(p, s_prev, x)[0]

    def backward(carry, inputs):
        Lam, lam = carry
        s_prev, x, g_y = inputs
        _, pull_state = jax.vjp(lambda s_: state_step(params, s_, x), s_prev)
        _, pull_step = jax.vjp(lambda s_: step(params, s_, x), s_prev)
        return (jax.vmap(pull_state)(Lam)[0], pull_step((lam, g_y))[0]), (Lam, lam)

    S = s.shape[0]
    start = (jnp.eye(S, dtype=s.dtype), jnp.zeros((S,), s.dtype))
    (J, lam), (Lams, lams) = jax.lax.scan(backward, start, (s_prevs, xs, g_ys), reverse=True)

    def over_steps(f):
        """``f`` mapped over the block's steps with θ shared, as a function of θ."""
        return lambda p: jax.vmap(f, in_axes=(None, 0, 0))(p, s_prevs, xs)

    _, pull_states = jax.vjp(over_steps(state_step), params)
    _, pull_steps = jax.vjp(over_steps(step), params)
    D = jax.vmap(lambda rows: pull_states(rows)[0], in_axes=1)(Lams)
    (grad,) = pull_steps((lams, g_ys))
    return BlockPullback(s_new, total, J, lam, D, grad)


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
