"""Structure of a cell's step, derived once from its jaxpr and a structural probe.

The approximate online methods and the O(P) exact RTRL need to know, per (cell, shapes):

- **touch**: which flat state entries k each scalar parameter θ_j changes in one step
  (``J^θ[k, j] ≠ 0``); the *units* (entries some parameter touches together, an LSTM's
  ``(h_i, c_i)``) that touch reaches are the pattern of SnAp-1 (Menick et al. 2021);
- the **pattern of J^s** = ∂s_t/∂s_{t-1} (S×S), whose reachability gives SnAp-n's masks and
  tells whether J^s is block-diagonal (then SnAp-∞ = exact RTRL at O(P) cost);
- the **readout**: ``y_t`` as a function of ``(θ, s_t, x_t)``, so that the immediate credit
  ``q_t = ∂ℓ_t/∂s_t`` exists (the published convention of every approximate method).

The patterns are *structural*: S reverse passes (in chunks) of a surrogate of the step at a
random point, where every piecewise selection that depends on the inputs (``max``, ``min``,
``select_n``, ``clamp``, ``reduce_max``) is replaced by a sum, so a ReLU unit that happens to
be off at the probe point still counts as connected; a ``where`` with a constant condition (a
fixed sparsity mask) keeps its zeros. Nested ``jit`` and custom-derivative calls are inlined;
loops and conditionals inside a step are evaluated as they are (a selection inside them could
hide a connection). Cost: one RTRL step's worth of reverse passes, O(S·cost(step)), once per
(cell, shapes), with memory O(chunk·P); later calls are a cache lookup.

The readout is read off the step's jaxpr: the equations ``y`` needs, cut at the new state. A
cell whose output depends on ``s_{t-1}`` other than through ``s_t`` has none (``ValueError``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import is_var

__all__ = ["CellStructure", "SparsePattern", "cell_structure", "readout_function"]

#: Reverse passes are batched in chunks holding at most this many numbers of J^θ.
_CHUNK_NUMBERS = 1 << 23
#: Call primitives whose inner jaxpr is evaluated in place (custom derivatives: the primal).
_CALLS = ("pjit", "jit", "closed_call", "core_call")
_SELECTIONS = ("max", "min", "select_n", "clamp", "reduce_max", "reduce_min")


def _inner(eqn: Any) -> Any:
    """The closed jaxpr an inlinable call equation runs (``jit``, custom derivatives)."""
    for name in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        inner = eqn.params.get(name)
        if inner is not None and hasattr(inner, "jaxpr") and hasattr(inner, "consts"):
            return inner
    return None


def _surrogate(name: str, eqn: Any, vals: list[Any]) -> Any:
    """A sum standing in for a selection whose condition depends on the inputs."""
    if name in ("max", "min"):
        return jnp.add(vals[0], vals[1])
    if name == "select_n":
        return functools.reduce(jnp.add, vals[1:])
    if name == "clamp":
        return vals[0] + vals[1] + vals[2]
    return jnp.sum(vals[0], axis=tuple(eqn.params["axes"]))  # reduce_max / reduce_min


def bind(eqn: Any, vals: list[Any]) -> list[Any]:
    """Apply one (non-call) jaxpr equation to ``vals``; a list of outputs."""
    out = eqn.primitive.bind(*vals, **eqn.params)
    return out if eqn.primitive.multiple_results else [out]


def evaluate(
    jaxpr: Any,
    consts: list[Any],
    args: list[Any],
    *,
    surrogate: bool,
    arg_depends: list[bool] | None = None,
) -> list[Any]:
    """Evaluate ``jaxpr`` on ``args``, inlining nested ``jit`` and custom-derivative calls
    (whose primal is then differentiated, not their custom rule), and with ``surrogate``
    replacing input-dependent selections by sums (see the module docstring). ``arg_depends``
    says which ``args`` depend on the inputs (default: all)."""
    env: dict[Any, Any] = {}
    if arg_depends is None:
        arg_depends = [True] * len(jaxpr.invars)
    depends = {v for v, d in zip(jaxpr.invars, arg_depends, strict=True) if d}
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        env[v] = c
    for v, a in zip(jaxpr.invars, args, strict=True):
        env[v] = a

    def read(v: Any) -> Any:
        return env[v] if is_var(v) else v.val

    for eqn in jaxpr.eqns:
        vals = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        arg_dep = [is_var(v) and v in depends for v in eqn.invars]
        dep = any(arg_dep)
        # a select_n's selection depends on the inputs only through its predicate
        selects = arg_dep[0] if name == "select_n" else dep
        inner = _inner(eqn)
        if inner is not None and (name in _CALLS or name.startswith("custom_")):
            out = evaluate(
                inner.jaxpr, inner.consts, vals, surrogate=surrogate, arg_depends=arg_dep
            )
        elif surrogate and selects and name in _SELECTIONS:
            out = [_surrogate(name, eqn, vals)]
        else:
            out = bind(eqn, vals)
        for v, val in zip(eqn.outvars, out, strict=True):
            env[v] = val
            if dep:
                depends.add(v)
    return [read(v) for v in jaxpr.outvars]


def _step_jaxpr(cell: AbstractCell, params: Any, state: Any) -> Any:
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    x = jax.ShapeDtypeStruct((cell.input_size,), dtype)
    return jax.make_jaxpr(lambda p, s, x_: cell.step(p, s, x_))(params, state, x)


@dataclasses.dataclass(frozen=True, eq=False)
class SparsePattern:
    """Per parameter leaf, a set of flat state entries per scalar parameter (CSR form).

    ``indptr[leaf]`` ``(size + 1,)`` and ``indices[leaf]``: the entries of parameter j of
    that leaf (in its C order) are ``indices[indptr[j]:indptr[j + 1]]``, sorted.
    """

    indptr: tuple[np.ndarray, ...]
    indices: tuple[np.ndarray, ...]

    def max_size(self) -> int:
        """The largest set."""
        return max((int(np.diff(p).max(initial=0)) for p in self.indptr), default=0)


@dataclasses.dataclass(frozen=True, eq=False)
class CellStructure:
    """What :func:`cell_structure` derives (NumPy arrays; static under ``jit``).

    Attributes:
        state_size: S.
        touch: the SnAp-1 pattern (which entries each parameter changes in one step).
        state_pattern: ``(S, S)`` bool, the structural pattern of J^s.
        leaf_sizes: scalar parameters per leaf (the leaves of ``params``, flattened order).
    """

    state_size: int
    touch: SparsePattern
    state_pattern: np.ndarray
    leaf_sizes: tuple[int, ...]

    @functools.cached_property
    def units(self) -> np.ndarray:
        """``(S,)`` the unit of each state entry: the blocks of J^s where J^s is block-diagonal
        with blocks of at most :data:`UNIT_LIMIT` entries (an element-wise LSTM's ``(h_i, c_i)``),
        else single entries. SnAp-1's mask is the one-step pattern of J^θ (Menick et al. 2021)
        widened to these units, so that it is exact on block-diagonal cells; on a dense cell (a
        GRU, whose reset gate reaches every h̃_i) it stays the one-step pattern."""
        return _units(self.state_pattern, UNIT_LIMIT)

    def reach(self, order: int | None) -> SparsePattern:
        """SnAp-``order``'s mask: the units a parameter touches in one step, grown by
        ``order − 1`` further steps of J^s (``None``: any number, the exact support of M)."""
        return _reach(self, order)

    def block_diagonal(self, limit: int = 8) -> bool:
        """Whether every parameter's exact support (``reach(None)``) has at most ``limit``
        entries: J^s is block-diagonal with small blocks, each parameter feeding one, so
        SnAp-∞ is exact RTRL at O(P) cost (Zucchet et al. 2023; Irie et al. 2024)."""
        return self.reach(None).max_size() <= limit


@functools.lru_cache(maxsize=64)
def _reach(structure: CellStructure, order: int | None) -> SparsePattern:
    unit = structure.units
    adjacency = structure.state_pattern.astype(np.int64)
    cache: dict[tuple[int, ...], np.ndarray] = {}
    indptr, indices = [], []
    for ptr, idx in zip(structure.touch.indptr, structure.touch.indices, strict=True):
        sets = []
        for j in range(len(ptr) - 1):
            start = tuple(idx[ptr[j] : ptr[j + 1]])
            if start not in cache:
                cache[start] = _reachable(adjacency, unit, start, order)
            sets.append(cache[start])
        indptr.append(np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64))
        indices.append(np.concatenate(sets).astype(np.int64) if sets else np.zeros(0, np.int64))
    return SparsePattern(tuple(indptr), tuple(indices))


#: The largest block of J^s that SnAp-1 treats as one unit.
UNIT_LIMIT = 8


def _units(pattern: np.ndarray, limit: int) -> np.ndarray:
    """``(S,)`` unit label of each state entry: the connected components of J^s's pattern
    (union-find) if there are several and none has more than ``limit`` entries (J^s is
    block-diagonal), else every entry alone."""
    S = pattern.shape[0]
    parent = np.arange(S)

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, k in zip(*np.nonzero(pattern), strict=True):
        parent[find(int(i))] = find(int(k))
    labels = np.array([find(k) for k in range(S)])
    sizes = np.bincount(labels)
    blocks = np.count_nonzero(sizes)
    return labels if blocks > 1 and sizes.max() <= limit else np.arange(S)


def _reachable(
    adjacency: np.ndarray, unit: np.ndarray, start: tuple[int, ...], order: int | None
) -> np.ndarray:
    """Sorted entries of the units reachable from ``start``'s units in at most ``order − 1``
    steps of J^s (``None``: any number)."""
    reached = np.isin(unit, unit[list(start)])
    steps = adjacency.shape[0] if order is None else order - 1
    for _ in range(steps):
        grown = reached | (adjacency[:, reached].sum(axis=1) > 0)
        grown = np.isin(unit, unit[grown])
        if (grown == reached).all():
            break
        reached = grown
    return np.flatnonzero(reached)


def cell_structure(cell: AbstractCell, params: Params, state: State) -> CellStructure:
    """The structure of ``cell``'s step for parameters and state of these shapes (only
    shapes and dtypes are read; usable under ``jit``). Cached per (cell, shapes, dtypes)."""
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    s_leaves, s_def = jax.tree_util.tree_flatten(state)
    key = (p_def, tuple(map(_spec, p_leaves)), s_def, tuple(map(_spec, s_leaves)))
    return _cell_structure(cell, key)


def _spec(leaf: Any) -> tuple[tuple[int, ...], Any]:
    return tuple(jnp.shape(leaf)), jnp.dtype(leaf.dtype)


def _random_like(tree_def: Any, specs: tuple[Any, ...], seed: int, scale: float = 1.0) -> Any:
    rng = np.random.default_rng(seed)
    leaves = [jnp.asarray(scale * rng.standard_normal(shape), dtype) for shape, dtype in specs]
    return jax.tree_util.tree_unflatten(tree_def, leaves)


@functools.lru_cache(maxsize=64)
def _cell_structure(cell: AbstractCell, key: tuple[Any, ...]) -> CellStructure:
    p_def, p_specs, s_def, s_specs = key
    with jax.ensure_compile_time_eval():
        # N(0, 1/(S + m)) keeps pre-activations O(1): at N(0, 1), tanh and sigmoid saturate
        # (a derivative of exactly 0, a connection missed) for wide cells, and in float32 often
        scale = 1 / np.sqrt(sum(int(np.prod(shape)) for shape, _ in s_specs) + cell.input_size)
        params = _random_like(p_def, p_specs, 1, scale)
        state = _random_like(s_def, s_specs, 2, scale)
        x = _random_like(jax.tree_util.tree_structure(0), (((cell.input_size,), p_specs[0][1]),), 3)
        closed = _step_jaxpr(cell, params, state)
        s_flat, unravel = ravel_pytree(state)
        n_state_leaves = len(s_specs)

        def surrogate(p: Params, s: jax.Array) -> jax.Array:
            args = [*jax.tree_util.tree_leaves(p), *jax.tree_util.tree_leaves(unravel(s)), x]
            out = evaluate(closed.jaxpr, closed.consts, args, surrogate=True)
            return jnp.concatenate([jnp.ravel(o) for o in out[:n_state_leaves]])

        _, pullback = jax.vjp(surrogate, params, s_flat)
        S = s_flat.shape[0]
        P = sum(int(np.prod(shape)) for shape, _ in p_specs)
        chunk = max(1, min(S, _CHUNK_NUMBERS // max(P, 1)))
        pull = jax.jit(jax.vmap(pullback))
        rows_of: list[list[np.ndarray]] = [[] for _ in p_specs]
        cols_of: list[list[np.ndarray]] = [[] for _ in p_specs]
        state_pattern = np.zeros((S, S), bool)
        for start in range(0, S, chunk):
            stop = min(S, start + chunk)
            basis = jnp.eye(S, dtype=s_flat.dtype)[start:stop]
            d_params, d_state = pull(basis)
            state_pattern[start:stop] = _nonzero(d_state)
            for i, leaf in enumerate(jax.tree_util.tree_leaves(d_params)):
                r, c = np.nonzero(_nonzero(leaf).reshape(stop - start, -1))
                rows_of[i].append(r + start)
                cols_of[i].append(c)
    indptr, indices = [], []
    for (shape, _), rows, cols in zip(p_specs, rows_of, cols_of, strict=True):
        size = int(np.prod(shape))
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        order = np.lexsort((rows, cols))
        counts = np.bincount(cols, minlength=size)
        indptr.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        indices.append(rows[order].astype(np.int64))
    sizes = tuple(int(np.prod(shape)) for shape, _ in p_specs)
    return CellStructure(S, SparsePattern(tuple(indptr), tuple(indices)), state_pattern, sizes)


def _nonzero(a: jax.Array) -> np.ndarray:
    a = np.asarray(a)
    return (a != 0) | ~np.isfinite(a)


def readout_function(
    cell: AbstractCell, params: Params, state: State
) -> Callable[[Params, State, jax.Array], jax.Array]:
    """``readout(params, s_t, x_t) -> y_t``, the part of ``cell.step`` after the new state.
    Its attribute ``uses_params`` says whether any parameter enters it (a Jordan network's
    output is its state: none does).

    Raises:
        ValueError: if ``y_t`` depends on ``s_{t-1}`` other than through ``s_t``.
    """
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    s_leaves, s_def = jax.tree_util.tree_flatten(state)
    key = (p_def, tuple(map(_spec, p_leaves)), s_def, tuple(map(_spec, s_leaves)))
    return _readout(cell, key)


@functools.lru_cache(maxsize=64)
def _readout(cell: AbstractCell, key: tuple[Any, ...]) -> Callable[..., jax.Array]:
    p_def, p_specs, s_def, s_specs = key

    def rebuild(treedef: Any, specs: tuple[Any, ...]) -> Any:
        leaves = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in specs]
        return jax.tree_util.tree_unflatten(treedef, leaves)

    params, state = rebuild(p_def, p_specs), rebuild(s_def, s_specs)
    closed = _step_jaxpr(cell, params, state)
    # inline nested jit calls, so that the cut below sees individual equations
    flat = jax.make_jaxpr(
        lambda *args: evaluate(closed.jaxpr, closed.consts, list(args), surrogate=False)
    )(
        *jax.tree_util.tree_leaves(params),
        *jax.tree_util.tree_leaves(state),
        jax.ShapeDtypeStruct((cell.input_size,), p_specs[0][1]),
    )
    jaxpr = flat.jaxpr
    n_p, n_s = len(p_specs), len(s_specs)
    new_state = list(jaxpr.outvars[:n_s])
    (y_var,) = jaxpr.outvars[n_s:]
    old_state = set(jaxpr.invars[n_p : n_p + n_s])
    cut = {v for v in new_state if is_var(v)}
    needed = {y_var} if is_var(y_var) else set()
    eqns = []
    for eqn in reversed(jaxpr.eqns):
        if any(is_var(v) and v in needed and v not in cut for v in eqn.outvars):
            eqns.append(eqn)
            needed.update(v for v in eqn.invars if is_var(v))
    if needed & (old_state - cut):
        raise ValueError(
            f"{type(cell).__name__}'s output y_t depends on s_(t-1) other than through s_t, so "
            "the immediate credit ∂ℓ_t/∂s_t that the approximate online methods use is not "
            "defined for it"
        )
    eqns.reverse()
    consts = flat.consts

    def readout(p: Params, s: State, x: jax.Array) -> jax.Array:
        env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts, strict=True))
        env.update(zip(jaxpr.invars[:n_p], jax.tree_util.tree_leaves(p), strict=True))
        env[jaxpr.invars[-1]] = x
        for v, val in zip(new_state, jax.tree_util.tree_leaves(s), strict=True):
            if is_var(v):
                env[v] = val
        for eqn in eqns:
            vals = [env[v] if is_var(v) else v.val for v in eqn.invars]
            for v, val in zip(eqn.outvars, bind(eqn, vals), strict=True):
                env[v] = val
        return env[y_var] if is_var(y_var) else jnp.asarray(y_var.val)

    readout.uses_params = bool(needed & set(jaxpr.invars[:n_p]))  # type: ignore[attr-defined]
    return readout
