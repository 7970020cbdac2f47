"""Small pieces shared by the built-in cells: argument checks, gate blocks and the read-out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells.activations import resolve_activation
from gradalgos.cells.base import check_positive_int, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = [
    "activate_and_read",
    "check_entry_indices",
    "check_fields",
    "check_positive_float",
    "gate_params",
    "input_readout_params",
    "linear_readout",
    "readout_params",
    "zeros_state",
]

SIZE_FIELDS = ("input_size", "hidden_size", "output_size")


def check_fields(cell: Any) -> None:
    """Check the common fields a cell dataclass has: the sizes (positive ints, ``TypeError`` /
    ``ValueError`` naming the field) and ``activation`` (a known name or a callable)."""
    fields = {field.name for field in dataclasses.fields(cell)}
    for name in SIZE_FIELDS:
        if name in fields:
            check_positive_int(name, getattr(cell, name))
    if "activation" in fields:
        resolve_activation(cell.activation)


def check_positive_float(name: str, value: Any) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` is a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a positive number, got {value!r} ({type(value).__name__})")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {value}")


def check_entry_indices(rows: Any, cols: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` and ``cols`` of a ``state_jacobian_entries`` call as NumPy ``intp`` arrays,
    checked: static (not traced), integer, 1-D, of one length K, each index in ``[0, size)``.
    Raises ``TypeError``/``ValueError`` naming the argument."""
    out = []
    for name, idx in (("rows", rows), ("cols", cols)):
        try:
            idx = np.asarray(idx)
        except jax.errors.TracerArrayConversionError:
            raise TypeError(
                f"{name} must be a static NumPy int array, got a traced array"
            ) from None
        if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise TypeError(
                f"{name} must be a 1-D NumPy int array, got dtype {idx.dtype}, shape {idx.shape}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(
                f"{name} must hold flat state indices in [0, {size}), "
                f"got min {idx.min()}, max {idx.max()}"
            )
        out.append(idx.astype(np.intp))
    if out[0].shape != out[1].shape:
        raise ValueError(
            f"rows and cols must have the same length, got {out[0].size} and {out[1].size}"
        )
    return out[0], out[1]


def readout_params(key: jax.Array, n: int, o: int, dtype: Any) -> dict[str, jax.Array]:
    """``W_out (o, n)`` ~ N(0, 1/n) and ``b_out (o,)`` = 0 for :func:`linear_readout`."""
    return {"W_out": scaled_normal(key, (o, n), n, dtype), "b_out": jnp.zeros((o,), dtype)}


def linear_readout(params: dict[str, jax.Array], h: jax.Array) -> jax.Array:
    """``y = W_out h + b_out``: ``h (n,)`` → ``y (o,)``. O(o·n)."""
    return params["W_out"] @ h + params["b_out"]


def input_readout_params(
    key: jax.Array, n: int, m: int, o: int, dtype: Any
) -> dict[str, jax.Array]:
    """``W_in (n, m)`` ~ N(0, 1/m), ``b (n,)`` = 0 and the read-out's ``W_out (o, n)``,
    ``b_out (o,)``: all but the recurrent weights of a simple recurrent layer."""
    k_in, k_out = jax.random.split(key)
    return {
        "W_in": scaled_normal(k_in, (n, m), m, dtype),
        "b": jnp.zeros((n,), dtype),
        **readout_params(k_out, n, o, dtype),
    }


def zeros_state(n: int, dtype: Any = None) -> jax.Array:
    """A zero hidden state ``(n,)`` of ``default_float(dtype)``."""
    return jnp.zeros((n,), default_float(dtype))


def activate_and_read(
    activation: str | Callable, params: dict[str, jax.Array], pre: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``h = act(pre)`` and ``(h, W_out h + b_out)``. O(n + o·n)."""
    h = resolve_activation(activation)(pre)
    return h, linear_readout(params, h)


def gate_params(key: jax.Array, gates: int, n: int, m: int, dtype: Any) -> dict[str, jax.Array]:
    """Stacked weights of ``gates`` blocks of n units: ``W_x (g·n, m)`` ~ N(0, 1/m),
    ``W_h (g·n, n)`` ~ N(0, 1/n) and ``b (g·n,)`` = 0."""
    k_x, k_h = jax.random.split(key)
    return {
        "W_x": scaled_normal(k_x, (gates * n, m), m, dtype),
        "W_h": scaled_normal(k_h, (gates * n, n), n, dtype),
        "b": jnp.zeros((gates * n,), dtype),
    }
