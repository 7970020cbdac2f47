"""Masked sensitivity traces: the engine of SnAp-n, RFLO, e-prop and O(P) exact RTRL.

SnAp-n (Menick et al., ICLR 2021) keeps the entries of M = ∂s/∂θ that a parameter can reach
within n steps, ``M̃_t = Mask_n ⊙ (J^s_t M̃_{t-1} + J^θ_t)``. For parameter θ_j with mask
``K_j`` (a few state entries) the carry is one number per (entry of K_j, j). The entries of
every mask are coloured so that no mask holds two entries of one colour; the trace of a
parameter leaf is then an array ``(C, *leaf.shape)``, row c holding the entry of colour c.

Per step, from the cell's structure (:mod:`gradalgos.cells.structure`), with no S×P object:

- ``J^θ`` on the masks: C reverse passes, cotangent = the indicator of colour c (a parameter
  touches at most one entry of each colour, so the sum over the colour is that entry);
- ``J^s`` on pairs of entries of one mask: the cell's ``state_jacobian_entries`` if it has
  one, else compressed forward passes (Curtis–Powell–Reid): the columns of J^s are coloured
  so that no needed row meets two columns of a colour; one JVP per colour. That is 1–2
  passes for element-wise cells and S for a dense cell without the method;
- ``e_t[c, j] = Σ_c' J^s[k_c(j), k_c'(j)] e_{t-1}[c', j] + J^θ[k_c(j), j]``, and the gradient
  ``q_t·M̃_t`` is ``Σ_c q_t[k_c(j)] e_t[c, j]``.

Time per step O(C·cost(step) + C²·P), memory O(C·P). For a fully connected vanilla cell
SnAp-1 has C = 1: O(n²). Where J^s is block-diagonal and the masks are the blocks (``order``
``None``), the traces are exact RTRL (Zucchet et al. 2023; Irie et al. 2024).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.credit import add, immediate_credit, step_pullback
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.structure import CellStructure, cell_structure

__all__ = ["TracePlan", "TraceState", "initial_traces", "trace_plan", "trace_step"]

#: Use the cell's ``state_jacobian_entries`` (if any) once CPR needs more colours than this.
_CPR_LIMIT = 4
#: Propagate traces of up to this many colours by C² element-wise products, not an einsum:
#: XLA's CPU backend hands a small contraction to a library call that costs ~60 µs a step
#: from some size on (RTRL on LRU, 2 colours: 18 µs a step at n = 224, 160 at n = 256).
_UNROLL = 4


class TraceState(NamedTuple):
    """Carry of the trace methods (SnAp-n, RFLO, e-prop, element-wise RTRL).

    Attributes:
        state: the cell's state s_t.
        traces: a pytree like the parameters: leaves ``(C, *leaf.shape)`` (row c: the
            estimate of ∂s_k/∂θ for the mask entry k of colour c) for the parameters that
            touch the state, ``None`` for readouts.
        feedback: a fixed random ``(o, S)`` matrix replacing ∂y/∂s in the learning signal
            (feedback alignment), or ``None`` for the exact (symmetric) signal.
    """

    state: State
    traces: Params
    feedback: jax.Array | None = None


def _greedy_coloring(conflict: np.ndarray) -> np.ndarray:
    """Colours ``(V,)`` of a symmetric bool conflict matrix, smallest-first greedy."""
    V = conflict.shape[0]
    colors = np.full(V, -1, np.int64)
    for v in range(V):
        used = colors[conflict[v] & (colors >= 0)]
        free = np.ones(len(used) + 1, bool)
        free[used[used <= len(used)]] = False
        colors[v] = int(np.argmax(free))
    return colors


@dataclasses.dataclass(frozen=True, eq=False)
class TracePlan:
    """The static index arrays of one (cell structure, order) (NumPy; built once).

    Attributes:
        colors: C.
        entry_color: ``(S,)`` colour of each state entry (−1: in no mask).
        rows: per leaf ``(C, size)`` the mask entry of colour c (−1: none), or ``None`` for a
            leaf that touches no state entry.
        mask_id: per leaf ``(size,)`` the index of each parameter's mask among the distinct
            masks (or ``None``).
        pair_index: ``(U, C, C)`` for distinct mask u, the index of the pair
            (k_c, k_c') in ``pair_rows``/``pair_cols`` (−1: absent).
        pair_rows, pair_cols: ``(K,)`` the J^s entries the update reads.
        cpr_colors: ``(S,)`` column colours of J^s for compressed forward passes.
    """

    colors: int
    entry_color: np.ndarray
    rows: tuple[np.ndarray | None, ...]
    mask_id: tuple[np.ndarray | None, ...]
    pair_index: np.ndarray
    pair_rows: np.ndarray
    pair_cols: np.ndarray
    cpr_colors: np.ndarray


def trace_plan(structure: CellStructure, order: int | None) -> TracePlan:
    """The plan of SnAp-``order`` (``None``: the exact support) for ``structure``."""
    return _trace_plan(structure, order)


@functools.lru_cache(maxsize=64)
def _trace_plan(structure: CellStructure, order: int | None) -> TracePlan:
    pattern = structure.reach(order)
    S = structure.state_size
    masks: dict[tuple[int, ...], int] = {}
    ids = []
    for ptr, idx in zip(pattern.indptr, pattern.indices, strict=True):
        leaf_ids = np.empty(len(ptr) - 1, np.int64)
        for j in range(len(ptr) - 1):
            leaf_ids[j] = masks.setdefault(tuple(idx[ptr[j] : ptr[j + 1]]), len(masks))
        ids.append(leaf_ids)
    distinct = list(masks)
    conflict = np.zeros((S, S), bool)
    for m in distinct:
        conflict[np.ix_(m, m)] = True
    np.fill_diagonal(conflict, False)
    in_mask = np.zeros(S, bool)
    for m in distinct:
        in_mask[list(m)] = True
    entry_color = np.where(in_mask, _greedy_coloring(conflict), -1)
    C = max(1, int(entry_color.max(initial=-1)) + 1)
    table = np.full((len(distinct), C), -1, np.int64)
    for u, m in enumerate(distinct):
        table[u, entry_color[list(m)]] = m
    pairs: dict[tuple[int, int], int] = {}
    pair_index = np.full((len(distinct), C, C), -1, np.int64)
    for u in range(len(distinct)):
        for a in range(C):
            for b in range(C):
                if table[u, a] >= 0 and table[u, b] >= 0:
                    pair = (int(table[u, a]), int(table[u, b]))
                    pair_index[u, a, b] = pairs.setdefault(pair, len(pairs))
    pair_rows = np.array([k for k, _ in pairs], np.int64)
    pair_cols = np.array([c for _, c in pairs], np.int64)
    rows, mask_id = [], []
    for leaf_ids in ids:
        leaf_rows = table[leaf_ids].T  # (C, size)
        touches = (leaf_rows >= 0).any()
        rows.append(leaf_rows if touches else None)
        mask_id.append(leaf_ids if touches else None)
    return TracePlan(
        C,
        entry_color,
        tuple(rows),
        tuple(mask_id),
        pair_index,
        pair_rows,
        pair_cols,
        _cpr_coloring(structure.state_pattern, pair_rows, pair_cols),
    )


def _cpr_coloring(pattern: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Column colours of J^s such that ``(J^s·1_colour(k'))[k] = J^s[k, k']`` for every
    needed pair (k, k'): two columns conflict when a needed row of one has the other."""
    S = pattern.shape[0]
    needed = np.zeros((S, S), np.float32)
    needed[rows, cols] = 1.0
    conflict = (needed.T @ pattern.astype(np.float32)) > 0
    conflict = conflict | conflict.T
    np.fill_diagonal(conflict, False)
    return _greedy_coloring(conflict)


def _leaves(tree: Params) -> list[Any]:
    """Leaves of a parameter-like tree, ``None`` kept as a leaf."""
    return jax.tree_util.tree_leaves(tree, is_leaf=lambda v: v is None)


def initial_traces(cell: AbstractCell, params: Params, state: State, plan: TracePlan) -> Params:
    """Zero traces: leaves ``(C, *leaf.shape)`` where the leaf touches the state, else None."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    out = [
        None if rows is None else jnp.zeros((plan.colors, *p.shape), p.dtype)
        for p, rows in zip(leaves, plan.rows, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


def state_jacobian_values(
    cell: AbstractCell, params: Params, state: State, x: jax.Array, plan: TracePlan
) -> jax.Array:
    """``J^s_t[pair_rows, pair_cols]`` ``(K,)``: by the cell's ``state_jacobian_entries`` where
    CPR would need more than a few passes, else by one JVP per CPR colour."""
    if plan.pair_rows.size == 0:
        return jnp.zeros((0,), ravel_pytree(state)[0].dtype)
    n_colors = int(plan.cpr_colors.max()) + 1
    hook = getattr(cell, "state_jacobian_entries", None)
    if hook is not None and n_colors > _CPR_LIMIT:
        return hook(params, state, x, plan.pair_rows, plan.pair_cols)
    s, unravel = ravel_pytree(state)

    def state_step(v: jax.Array) -> jax.Array:
        return ravel_pytree(cell.step(params, unravel(v), x)[0])[0]

    seeds = jnp.asarray(plan.cpr_colors[None, :] == np.arange(n_colors)[:, None], s.dtype)
    _, lin = jax.linearize(state_step, s)
    compressed = jax.vmap(lin)(seeds)  # (colours, S)
    return compressed[plan.cpr_colors[plan.pair_cols], plan.pair_rows]


def _by_leading_index(
    rows: np.ndarray, ids: np.ndarray, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``rows (C, size)`` and ``ids (size,)`` as ``(C, r)``, ``(r,)`` over the leaf's leading
    axis when they depend on it alone (a weight row feeds one unit: Elman's ``W_rec[i, :]``),
    so the update gathers r numbers and broadcasts them, not one per parameter; else
    ``r = size``."""
    C = rows.shape[0]
    r = shape[0] if len(shape) else 1
    rows3, ids2 = rows.reshape(C, r, -1), ids.reshape(r, -1)
    if (rows3 == rows3[:, :, :1]).all() and (ids2 == ids2[:, :1]).all():
        return rows3[:, :, 0], ids2[:, 0]
    return rows, ids


def trace_step(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    carry: TraceState,
    x: jax.Array,
    target: jax.Array,
    mask: jax.Array,
    *,
    order: int | None,
    leak: jax.Array | None = None,
) -> tuple[TraceState, jax.Array, Params]:
    """One step of the masked traces → ``(carry_t, mask·ℓ_t, g_t)``.

    Arguments:
        order: SnAp's n (``None``: the exact support).
        leak: ``None`` to propagate with J^s; else RFLO's α ``(S,)``: the J^s blocks are
            replaced by ``(1 − α_k)`` on the diagonal (Murray 2019).
    """
    plan = trace_plan(cell_structure(cell, params, carry.state), order)
    step = step_pullback(cell, params, carry.state, x)
    color_cotangents = jnp.asarray(
        plan.entry_color[None, :] == np.arange(plan.colors)[:, None], step.flat.dtype
    )
    j_theta = jax.vmap(step.pull_params)(color_cotangents)  # leaves (C, *leaf.shape)
    if leak is None:
        values = state_jacobian_values(cell, params, carry.state, x, plan)
        blocks = jnp.concatenate([values, jnp.zeros((1,), values.dtype)])[plan.pair_index]
    credit = immediate_credit(cell, loss, params, step.state, x, target, mask)
    q = credit.q if carry.feedback is None else credit.dy @ carry.feedback
    q_ext = jnp.concatenate([q, jnp.zeros((1,), q.dtype)])
    leaves, treedef = jax.tree_util.tree_flatten(params)
    traces, grads = [], []
    for p, e, jt, rows, ids in zip(
        leaves,
        _leaves(carry.traces),
        jax.tree_util.tree_leaves(j_theta),
        plan.rows,
        plan.mask_id,
        strict=True,
    ):
        if rows is None:
            traces.append(None)
            grads.append(jnp.zeros_like(p))
            continue
        C = plan.colors
        rows, ids = _by_leading_index(rows, ids, p.shape)  # (C, r), (r,)
        e = e.reshape(C, rows.shape[1], -1)
        if leak is None:
            b = blocks[ids]  # (r, C, C)
            if C <= _UNROLL:  # C² element-wise products: no dot, no reduce (see _UNROLL)
                carried = sum(jnp.moveaxis(b[:, :, j], 1, 0)[..., None] * e[j] for j in range(C))
            else:
                carried = jnp.einsum("rab,brk->ark", b, e, precision=jax.lax.Precision.HIGHEST)
        else:
            decay = jnp.concatenate([1 - leak, jnp.zeros((1,), leak.dtype)])[rows]
            carried = decay[..., None] * e
        e = carried + jt.reshape(e.shape)
        traces.append(e.reshape(C, *p.shape))
        credited = q_ext[rows][..., None] * e  # (C, r, k)
        grads.append(sum(credited[j] for j in range(C)).reshape(p.shape))
    grads = add(credit.direct, jax.tree_util.tree_unflatten(treedef, grads))
    new = TraceState(step.state, jax.tree_util.tree_unflatten(treedef, traces), carry.feedback)
    return new, credit.value, grads
