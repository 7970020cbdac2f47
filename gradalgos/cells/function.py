"""Adapter: any user functions (e.g. a Flax or Equinox module's apply) as a gradalgos cell."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells._common import check_fields
from gradalgos.cells.base import AbstractCell, Params, State, default_float

__all__ = ["FunctionCell"]


@dataclasses.dataclass(frozen=True)
class FunctionCell(AbstractCell):
    """A cell made of three user functions::

        params        = init_fn(key)
        state_0       = initial_state_fn()
        state_t, y_t  = step_fn(params, state_{t-1}, x_t)      x_t (m,), y_t (o,)

    ``params`` and the state may be any pytrees whose leaves are float arrays (an Equinox
    module whose fields are all arrays or static, a Flax ``variables`` dict, a tuple of them;
    split other leaves off with ``eqx.partition`` and close over them in ``step_fn``).
    :meth:`init` and :meth:`initial_state` cast their floating leaves to ``dtype``.
    S and P are those of the pytrees the functions return; the cost of a step is ``step_fn``'s.

    The functions must be hashable and stable: define them at module level (not as a fresh
    ``lambda`` or ``functools.partial`` per call), since the cell is a static argument of
    ``jax.jit`` and a new function object means a new compilation.

    Example (Equinox)::

        def init(key):
            k1, k2 = jax.random.split(key)
            return eqx.nn.GRUCell(3, 4, key=k1), eqx.nn.Linear(4, 2, key=k2)

        def zeros():
            return jnp.zeros(4)

        def step(params, h, x):
            gru, readout = params
            h = gru(x, h)
            return h, readout(h)

        cell = FunctionCell(step, init, zeros, input_size=3, output_size=2)

    Arguments:
        step_fn: ``(params, state, x (m,)) -> (state, y (o,))``, unbatched, JAX-traceable.
        init_fn: ``key -> params``.
        initial_state_fn: ``() -> state``.
        input_size: m.
        output_size: o.
    """

    step_fn: Callable[[Params, State, jax.Array], tuple[State, jax.Array]]
    init_fn: Callable[[jax.Array], Params]
    initial_state_fn: Callable[[], State]
    input_size: int
    output_size: int

    def __post_init__(self) -> None:
        for name in ("step_fn", "init_fn", "initial_state_fn"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {getattr(self, name)!r}")
        check_fields(self)

    def init(self, key: jax.Array, dtype: Any = None) -> Params:
        return _cast_floats(self.init_fn(key), dtype)

    def initial_state(self, dtype: Any = None) -> State:
        return _cast_floats(self.initial_state_fn(), dtype)

    def step(self, params: Params, state: State, x: jax.Array) -> tuple[State, jax.Array]:
        return self.step_fn(params, state, x)


def _cast_floats(tree: Any, dtype: Any) -> Any:
    """``tree`` with every floating array leaf cast to ``default_float(dtype)``."""
    dtype = default_float(dtype)

    def cast(leaf: Any) -> Any:
        floating = hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating)
        return jnp.asarray(leaf, dtype) if floating else leaf

    return jax.tree_util.tree_map(cast, tree)
