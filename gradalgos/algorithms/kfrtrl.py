"""Kronecker-factored RTRL, KF-RTRL (Mujika, Meier & Steger, NeurIPS 2018)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.credit import add, check_readout, immediate_credit, step_pullback
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.noise import check_carry_key, signs_and_next_key
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.algorithms.uoro import balance, state_jvp
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import state_parameter_mask
from gradalgos.cells.structure import cell_structure

__all__ = ["KFRTRL", "KFRTRLState"]


class KFRTRLState(NamedTuple):
    """Carry of :class:`KFRTRL`: per state-parameter leaf, viewed as ``(r, rest)`` (its
    leading index r, the rest flattened), the factors of M̃_leaf[k, (i, j)] = A[k, i]·u[j].

    Attributes:
        state: the cell's state s_t.
        A: a pytree like the parameters, leaves ``(S, r)``; ``None`` for the parameters the
            state does not depend on (readouts).
        u: a pytree like the parameters, leaves ``(rest,)`` (``(1,)`` for a vector leaf);
            ``None`` where ``A`` is.
        key: the PRNG key of the next step's signs.
    """

    state: State
    A: Params
    u: Params
    key: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class KroneckerPlan:
    """Per parameter leaf (flattened order): ``None`` for a readout, else the state entry
    ``rows[i]`` that row i of the leaf changes (−1: none), ``(r,)`` NumPy."""

    rows: tuple[np.ndarray | None, ...]


def _split(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(r, rest)``: a leaf viewed as its leading index and the rest flattened."""
    size = int(np.prod(shape))
    r = shape[0] if shape else 1
    return r, (size // r if r else 0)


def _spec(leaf: Any) -> tuple[tuple[int, ...], Any]:
    return tuple(jnp.shape(leaf)), jnp.dtype(leaf.dtype)


def kronecker_plan(cell: AbstractCell, params: Params, state: State) -> KroneckerPlan:
    """The plan of :class:`KFRTRL` for ``cell`` at these shapes (only shapes and dtypes are
    read; usable under ``jit``; cached).

    Raises:
        ValueError: naming KFRTRL, the cell and the leaf, where a state parameter's J^θ block
            is not ``D ⊗ âᵀ`` with each row of the leaf changing one state entry.
    """
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    s_leaves, s_def = jax.tree_util.tree_flatten(state)
    key = (p_def, tuple(map(_spec, p_leaves)), s_def, tuple(map(_spec, s_leaves)))
    return _kronecker_plan(cell, key)


@functools.lru_cache(maxsize=64)
def _kronecker_plan(cell: AbstractCell, key: tuple[Any, ...]) -> KroneckerPlan:
    p_def, p_specs, s_def, s_specs = key
    shapes = [jax.ShapeDtypeStruct(s, d) for s, d in p_specs]
    params = jax.tree_util.tree_unflatten(p_def, shapes)
    state = jax.tree_util.tree_unflatten(s_def, [jax.ShapeDtypeStruct(s, d) for s, d in s_specs])
    structure = cell_structure(cell, params, state)
    keep = jax.tree_util.tree_leaves(state_parameter_mask(cell, params, state))
    names = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(params)]
    where = f"KFRTRL does not apply to {type(cell).__name__}"
    rows: list[np.ndarray | None] = []
    for name, (shape, _), kept, ptr, idx in zip(
        names, p_specs, keep, structure.touch.indptr, structure.touch.indices, strict=True
    ):
        if not kept:
            rows.append(None)
            continue
        r, rest = _split(shape)
        counts = np.diff(ptr).reshape(r, rest)
        if counts.max(initial=0) > 1:
            raise ValueError(
                f"{where}: a scalar of parameter {name} changes {int(counts.max())} state "
                "entries in one step; KF-RTRL needs each to change one (J^θ = D ⊗ âᵀ per leaf, "
                "as in a vanilla cell's weights; gated cells such as LSTM and GRU are not)"
            )
        entry = np.full(r * rest, -1, np.int64)
        one = np.diff(ptr) == 1
        entry[one] = idx[ptr[:-1][one]]
        entry = entry.reshape(r, rest)
        first = entry[:, 0] if rest else np.full(r, -1, np.int64)
        if not (entry == first[:, None]).all():
            raise ValueError(
                f"{where}: the scalars of one row of parameter {name} (its leading index) "
                "change different state entries (or some none); KF-RTRL needs each row to "
                "change one state entry"
            )
        rows.append(first.astype(np.int64))
    _check_rank_one(cell, params, state, tuple(rows), names, where)
    return KroneckerPlan(tuple(rows))


def _check_rank_one(
    cell: AbstractCell,
    params: Params,
    state: State,
    rows: tuple[np.ndarray | None, ...],
    names: list[str],
    where: str,
) -> None:
    """At a random probe point (the cell's initial parameters, a random state and input),
    each state leaf's ``(r, rest)`` matrix of J^θ values has one non-zero singular value."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    with jax.ensure_compile_time_eval():
        k_p, k_s, k_x = jax.random.split(jax.random.key(20181203), 3)
        probe_params = cell.init(k_p, dtype)
        s_flat, unravel = ravel_pytree(cell.initial_state(dtype))
        probe_state = unravel(s_flat + 0.5 * jax.random.normal(k_s, s_flat.shape, dtype))
        x = jax.random.normal(k_x, (cell.input_size,), dtype)
        step = step_pullback(cell, probe_params, probe_state, x)
        values = jax.tree_util.tree_leaves(step.pull_params(jnp.ones_like(step.flat)))
        tol = 100 * float(np.sqrt(np.finfo(np.dtype(dtype)).eps))
        for name, leaf_rows, g in zip(names, rows, values, strict=True):
            if leaf_rows is None:
                continue
            r, rest = _split(tuple(g.shape))
            sv = np.linalg.svd(np.asarray(g, np.float64).reshape(r, rest), compute_uv=False)
            if not np.isfinite(sv).all():
                raise ValueError(f"{where}: J^θ of parameter {name} is not finite at a probe point")
            if len(sv) > 1 and sv[1] > tol * sv[0]:
                raise ValueError(
                    f"{where}: the J^θ block of parameter {name} is not of rank one (D ⊗ âᵀ) at "
                    f"a random probe point (singular values {sv[0]:.3g}, {sv[1]:.3g}, …)"
                )


def factor(G: jax.Array) -> tuple[jax.Array, jax.Array]:
    """An exact factorisation ``G = D âᵀ`` of a rank-one ``(r, rest)`` matrix: ``â = Gᵀ g /
    ‖g‖²`` with ``g`` its largest column (so â[j*] = 1), ``D = G â / ‖â‖²``; both zero for
    ``G = 0``. O(r·rest)."""
    cols = jnp.sum(jnp.square(G), axis=0)
    j = jnp.argmax(cols)
    g = G[:, j]
    gg = cols[j]
    nonzero = gg > 0
    a_hat = jnp.where(nonzero, G.T @ g / jnp.where(nonzero, gg, 1), 0)
    aa = jnp.sum(jnp.square(a_hat))
    D = jnp.where(nonzero, G @ a_hat / jnp.where(nonzero, aa, 1), 0)
    return D, a_hat


def _leaves(tree: Params) -> list[Any]:
    return jax.tree_util.tree_leaves(tree, is_leaf=lambda v: v is None)


@dataclasses.dataclass(frozen=True)
class KFRTRL(AbstractOnlineAlgorithm):
    """KF-RTRL: per parameter leaf, an unbiased Kronecker-factored estimate of RTRL's
    M = ∂s/∂θ, M̃_leaf[k, (i, j)] = A[k, i]·u[j], for cells whose J^θ has that structure.

    A leaf (viewed as ``(r, rest)``: its leading index i, the rest j flattened) qualifies when
    every row i changes one state entry k(i) in a step and its J^θ block is rank one,
    ``J^θ[k(i), (i, j)] = D_i â_j``: a vanilla cell's ``W_in``, ``W_rec``, ``b`` (D = φ'(a),
    â the layer's input), IndRNN's, CTRNN's. Checked once per (cell, shapes) from
    :func:`gradalgos.cells.structure.cell_structure` and an SVD at a random probe point;
    other cells (LSTM's gates touch h and c, GRU's reset gate every unit) get a ValueError.
    (The map i ↦ k(i) need not be injective.) Per step, per leaf, with independent signs
    c1, c2 ∈ {±1}::

        D, â   from J^θ_t's values (one reverse pass with cotangent 1 for all leaves; each
               parameter touches one entry) factored exactly; D̃ (S, r) = D scattered to k(i)
        A' = J^s_t A                                    (r forward-mode passes)
        ρ0 = √(‖A'‖/‖u‖),  ρ1 = √(‖D̃‖/‖â‖)
        u ← c1 ρ0 u + c2 ρ1 â,     A ← c1 A'/ρ0 + c2 D̃/ρ1
        g_leaf = outer(q_t A, u) + ∂ℓ_t/∂θ|readout,      q_t = ∂ℓ_t/∂s_t

    ``E[A ⊗ u] = J^s A_{t-1} ⊗ u_{t-1} + D̃ ⊗ â`` (E[c1 c2] = 0): unbiased, with far less
    variance than UORO (Mujika et al. 2018). The gradient uses the carry after step t's
    update (the published convention, :mod:`gradalgos.algorithms.credit`). Zero norms are
    guarded (t = 0: u = c2 ρ1 â, A = c2 D̃/ρ1).

    Noise: the carry holds a PRNG key; each step draws its signs and the next key from it
    (:func:`~gradalgos.algorithms.noise.signs_and_next_key`; same ``init`` key, same numbers);
    ``value_and_grad(..., key=k)`` gives sequence i the key ``jax.random.split(k, B)[i]``.

    Time per step O(R·cost(step)) with R = Σ r over the leaves (O(n³) for a fully connected
    cell: the J^s A products), memory O(S·R + P/r) = O(n²).
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "kfrtrl",
        "KF-RTRL",
        exact=False,
        online=True,
        stochastic=True,
        time_exponent=3,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Mujika, Meier & Steger 2018",
    )
    carry_type: ClassVar[type] = KFRTRLState

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        check_readout(self, cell, params, state)
        kronecker_plan(cell, params, state)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> KFRTRLState:
        plan = kronecker_plan(cell, params, state)
        S = ravel_pytree(state)[0].shape[0]
        leaves, treedef = jax.tree_util.tree_flatten(params)
        A, u = [], []
        for p, rows in zip(leaves, plan.rows, strict=True):
            r, rest = _split(tuple(p.shape))
            A.append(None if rows is None else jnp.zeros((S, r), p.dtype))
            u.append(None if rows is None else jnp.zeros((rest,), p.dtype))
        unflatten = functools.partial(jax.tree_util.tree_unflatten, treedef)
        return KFRTRLState(state, unflatten(A), unflatten(u), key)

    def check_carry(self, cell: AbstractCell, params: Params, carry: KFRTRLState) -> None:
        from gradalgos._validation import check_leaf_shapes

        plan = kronecker_plan(cell, params, carry.state)
        S = cell.state_size
        where = f"for KFRTRL on {type(cell).__name__}"

        def want(field: str) -> Callable[[int, Any], tuple | None]:
            def shape(i: int, p: Any) -> tuple | None:
                r, rest = _split(tuple(jnp.shape(p)))
                return None if plan.rows[i] is None else ((S, r) if field == "A" else (rest,))

            return shape

        for field in ("A", "u"):
            check_leaf_shapes(f"carry.{field}", getattr(carry, field), params, want(field), where)
        check_carry_key(self, carry.key)

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: KFRTRLState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[KFRTRLState, jax.Array, Params]:
        plan = kronecker_plan(cell, params, carry.state)
        step = step_pullback(cell, params, carry.state, xs)
        j_theta = _leaves(step.pull_params(jnp.ones_like(step.flat)))
        credit = immediate_credit(cell, loss, params, step.state, xs, targets, mask)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        A_old, u_old = _leaves(carry.A), _leaves(carry.u)
        active = [i for i, rows in enumerate(plan.rows) if rows is not None]
        signs, key = signs_and_next_key(carry.key, (max(len(active), 1), 2), step.flat.dtype)
        A_new: list[Any] = [None] * len(leaves)
        u_new: list[Any] = [None] * len(leaves)
        grads: list[Any] = [jnp.zeros_like(p) for p in leaves]
        if active:
            _, jvp = state_jvp(cell, params, carry.state, xs)
            stacked = jnp.concatenate([A_old[i] for i in active], axis=1)  # (S, R)
            propagated = jax.vmap(jvp, in_axes=1, out_axes=1)(stacked)
            offsets = np.cumsum([0] + [A_old[i].shape[1] for i in active])
            S = step.flat.shape[0]
            for n, i in enumerate(active):
                p, rows, u = leaves[i], plan.rows[i], u_old[i]
                r, rest = _split(tuple(p.shape))
                A_prop = propagated[:, offsets[n] : offsets[n + 1]]
                D, a_hat = factor(j_theta[i].reshape(r, rest))
                hit = rows >= 0
                D_tilde = jnp.zeros((S, r), D.dtype).at[rows[hit], np.flatnonzero(hit)].set(D[hit])
                rho0 = balance(jnp.linalg.norm(A_prop), jnp.linalg.norm(u))
                rho1 = balance(jnp.linalg.norm(D), jnp.linalg.norm(a_hat))
                c1, c2 = signs[n, 0], signs[n, 1]
                u_new[i] = c1 * rho0 * u + c2 * rho1 * a_hat
                A_new[i] = c1 * A_prop / rho0 + c2 * D_tilde / rho1
                qA = jnp.dot(credit.q, A_new[i], precision=jax.lax.Precision.HIGHEST)
                grads[i] = jnp.outer(qA, u_new[i]).reshape(p.shape)
        unflatten = functools.partial(jax.tree_util.tree_unflatten, treedef)
        new = KFRTRLState(step.state, unflatten(A_new), unflatten(u_new), key)
        return new, credit.value, add(credit.direct, unflatten(grads))
