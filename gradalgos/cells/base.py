"""The one interface every recurrent cell implements.

A cell is one time step of a recurrent network::

    state_t, y_t = cell.step(params, state_{t-1}, x_t)

``params`` and ``state`` are arbitrary pytrees of floating arrays (an LSTM's state is
``(h, c)``). A cell knows nothing of gradient algorithms: every algorithm in
:mod:`gradalgos.algorithms` sees a cell only through :meth:`AbstractCell.init`,
:meth:`AbstractCell.initial_state` and :meth:`AbstractCell.step`.

Cells are frozen dataclasses: hashable, so they are passed to ``jax.jit`` as static
arguments, and they hold only hyper-parameters (sizes, activation names), never arrays.
"""

from __future__ import annotations

import abc
import functools
from typing import Any

import jax
import jax.numpy as jnp

PyTree = Any
Params = PyTree
State = PyTree

__all__ = [
    "AbstractCell",
    "Params",
    "PyTree",
    "State",
    "check_init_key",
    "check_positive_int",
    "default_float",
]


def default_float(dtype: Any = None) -> jnp.dtype:
    """``dtype`` if given, else JAX's default float (float64 under ``jax_enable_x64``)."""
    if dtype is None:
        return jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return dtype


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` is an int ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")


def check_init_key(key: Any) -> Any:
    """``key`` unchanged if it is one PRNG key: a typed key from ``jax.random.key(seed)``, or
    a legacy raw ``uint32`` key from ``jax.random.PRNGKey(seed)``. Otherwise a ``TypeError``
    that says what to pass. Reads only the dtype and shape (works on traced keys)."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.shape(key) != ():
            raise TypeError(
                f"key must be a single PRNG key, got a key array of shape {jnp.shape(key)}; "
                "pass one of them (e.g. keys[0])"
            )
        return key
    if dtype is not None and jnp.dtype(dtype) == jnp.uint32 and jnp.ndim(key) == 1:
        return key  # raw key data from jax.random.PRNGKey(seed): JAX still accepts it
    if isinstance(key, int) and not isinstance(key, bool):
        hint, got = f"jax.random.key({key})", f"the int {key}"
    else:
        hint = "jax.random.key(seed)"
        got = type(key).__name__ if dtype is None else f"an array of dtype {dtype}"
        if dtype is not None:
            got += f" and shape {tuple(jnp.shape(key))}"
    raise TypeError(f"key must be a PRNG key: pass {hint}, got {got}")


class AbstractCell(abc.ABC):
    """Base class of all cells.

    Subclasses are frozen dataclasses with (at least) the fields ``input_size`` (m) and
    ``output_size`` (o), and implement :meth:`init`, :meth:`initial_state` and :meth:`step`.

    Sizes used in docstrings across gradalgos: ``m`` inputs, ``n`` hidden units, ``o`` outputs,
    ``S`` = size of the flattened state, ``P`` = number of parameters, ``T`` steps.
    """

    input_size: int
    output_size: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every subclass's own :meth:`init` checks its key first (:func:`check_init_key`):
        ``cell.init(0)`` says to pass ``jax.random.key(0)`` instead of failing inside JAX."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("init")
        if init is None or getattr(init, "__isabstractmethod__", False):
            return

        @functools.wraps(init)
        def checked_init(self: AbstractCell, key: Any, *args: Any, **kwargs: Any) -> Params:
            return init(self, check_init_key(key), *args, **kwargs)

        cls.init = checked_init

    @abc.abstractmethod
    def init(self, key: jax.Array, dtype: Any = None) -> Params:
        """Random parameters (a pytree of arrays of ``dtype``, default JAX's default float)."""

    @abc.abstractmethod
    def initial_state(self, dtype: Any = None) -> State:
        """The state before the first step (a pytree, unbatched)."""

    @abc.abstractmethod
    def step(self, params: Params, state: State, x: jax.Array) -> tuple[State, jax.Array]:
        """One time step: ``x (m,)`` → ``(new_state, y (o,))``. Unbatched; vmap for batches."""

    def batch_step(self, params: Params, state: State, x: jax.Array) -> tuple[State, jax.Array]:
        """:meth:`step` on a batch: state leaves ``(B, ...)``, ``x (B, m)`` → ``(state, y (B, o))``.

        ``vmap`` of :meth:`step`; a cell may override it with a batch-first form of the same
        equations that XLA runs faster (BPTT's scan over time calls it).
        """
        return jax.vmap(self.step, in_axes=(None, 0, 0))(params, state, x)

    # Derived sizes (cheap: evaluated on shapes only, cached per cell).
    @property
    def state_size(self) -> int:
        """S, the number of scalars in the flattened state."""
        return _state_size(self)

    @property
    def num_params(self) -> int:
        """P, the number of scalar parameters."""
        return _num_params(self)


@functools.lru_cache(maxsize=256)
def _state_size(cell: AbstractCell) -> int:
    shapes = jax.eval_shape(cell.initial_state)
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(shapes)))


@functools.lru_cache(maxsize=256)
def _num_params(cell: AbstractCell) -> int:
    shapes = jax.eval_shape(cell.init, jax.random.key(0))
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(shapes)))
