"""Which parameters can change a cell's state: a dependence walk over the step's jaxpr.

A readout parameter (an Elman cell's ``W_out``, ``b_out``) enters only the output ``y_t``, so
its sensitivity ``∂s_t/∂θ`` is identically zero at every step. RTRL and the hybrid carry
``M = ∂s/∂θ`` only for the parameters found here: the same exact gradient, with ``S·P_s``
instead of ``S·P`` numbers carried and multiplied (``P_s`` = parameters the state depends on).
For a cell whose readout is large (an output layer over a vocabulary), that is most of ``P``.

The walk is structural and conservative: it traces ``step`` to a jaxpr on shapes only and
marks every variable that the new state is computed from. An equation with a nested jaxpr
(a ``jit``, ``scan``, ``cond``, custom derivative) counts as depending on all of its inputs,
so a parameter is reported as state-independent only when no data path can reach the state.
Jordan networks, whose state is their output, keep their readout.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.extend.core
import jax.numpy as jnp

from gradalgos.cells.base import AbstractCell

__all__ = ["is_var", "num_state_params", "state_parameter_mask"]


def _spec(leaf: Any) -> tuple[tuple[int, ...], jnp.dtype]:
    """``(shape, dtype)`` of an array, tracer or ``ShapeDtypeStruct`` (read, not traced)."""
    if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
        leaf = jnp.asarray(leaf)
    return tuple(leaf.shape), jnp.dtype(leaf.dtype)


def state_parameter_mask(cell: AbstractCell, params: Any, state: Any) -> Any:
    """A pytree like ``params`` of Python bools: ``True`` where the leaf can change the state.

    Arguments:
        params, state: arrays or tracers (only shapes and dtypes are read), unbatched.

    Cost: one trace of ``cell.step`` to a jaxpr (no compilation) per (cell, shapes, dtypes);
    later calls with the same ones are a cache lookup. Usable under ``jit``.
    """
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    s_leaves, s_def = jax.tree_util.tree_flatten(state)
    key = (p_def, tuple(map(_spec, p_leaves)), s_def, tuple(map(_spec, s_leaves)))
    return jax.tree_util.tree_unflatten(p_def, _mask_leaves(cell, key))


@functools.lru_cache(maxsize=256)
def _mask_leaves(cell: AbstractCell, key: tuple[Any, ...]) -> tuple[bool, ...]:
    """The mask's leaves for ``key = (params treedef, leaf specs, state treedef, leaf specs)``."""
    p_def, p_shapes, s_def, s_shapes = key

    def rebuild(treedef: Any, shapes: tuple[Any, ...]) -> Any:
        specs = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in shapes]
        return jax.tree_util.tree_unflatten(treedef, specs)

    dtype = p_shapes[0][1] if p_shapes else jnp.dtype(jnp.float32)
    x_spec = jax.ShapeDtypeStruct((cell.input_size,), dtype)
    closed = jax.make_jaxpr(lambda p, s, x: cell.step(p, s, x)[0])(
        rebuild(p_def, p_shapes), rebuild(s_def, s_shapes), x_spec
    )
    return tuple(_used_inputs(closed.jaxpr)[: len(p_shapes)])


def is_var(atom: Any) -> bool:
    """A jaxpr variable, not a literal constant (public type ``jax.extend.core.Literal``)."""
    return not isinstance(atom, jax.extend.core.Literal)


def _used_inputs(jaxpr: Any) -> list[bool]:
    """For each input variable of ``jaxpr``: can any output be computed from it?"""
    needed = {v for v in jaxpr.outvars if is_var(v)}
    for eqn in reversed(jaxpr.eqns):
        if any(is_var(v) and v in needed for v in eqn.outvars):
            needed.update(v for v in eqn.invars if is_var(v))
    return [v in needed for v in jaxpr.invars]


@functools.lru_cache(maxsize=256)
def num_state_params(cell: AbstractCell) -> int:
    """P_s: the number of scalar parameters the state depends on (≤ ``cell.num_params``).

    Cached per cell (cells are frozen dataclasses); the first call traces ``cell.step`` once.
    """
    params = jax.eval_shape(cell.init, jax.random.key(0))
    mask = state_parameter_mask(cell, params, jax.eval_shape(cell.initial_state))
    leaves = zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(mask), strict=True)
    return int(sum(p.size for p, keep in leaves if keep))
