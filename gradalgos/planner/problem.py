"""The shapes of one gradient call: everything a plan depends on, hashable (the cache key)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos._validation import check_cell
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell
from gradalgos.cells.dependence import num_state_params

__all__ = ["Problem", "TreeSpec", "make_problem", "struct"]


class TreeSpec(NamedTuple):
    """A pytree of arrays as its structure and leaf ``ShapeDtypeStruct`` s (hashable)."""

    treedef: Any
    leaves: tuple[jax.ShapeDtypeStruct, ...]

    def tree(self) -> Any:
        return jax.tree_util.tree_unflatten(self.treedef, self.leaves)

    @property
    def nbytes(self) -> int:
        return sum(nbytes(leaf) for leaf in self.leaves)


def struct(x: Any, device: jax.Device | None = None) -> jax.ShapeDtypeStruct:
    """``x`` (an array, a tracer or a ``ShapeDtypeStruct``) as a ``ShapeDtypeStruct``, placed
    on ``device`` where one is given."""
    sharding = None if device is None else jax.sharding.SingleDeviceSharding(device)
    return jax.ShapeDtypeStruct(tuple(np.shape(x)), x.dtype, sharding=sharding)


def nbytes(leaf: jax.ShapeDtypeStruct) -> int:
    """Bytes of an array of this shape and dtype (a PRNG key: its key data)."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return 8 * int(np.prod(leaf.shape, dtype=np.int64))
    return int(np.prod(leaf.shape, dtype=np.int64)) * jnp.dtype(leaf.dtype).itemsize


def tree_spec(tree: Any, device: jax.Device | None = None) -> TreeSpec:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return TreeSpec(treedef, tuple(struct(leaf, device) for leaf in leaves))


@dataclasses.dataclass(frozen=True)
class Problem:
    """One call of :func:`gradalgos.value_and_grad` by its shapes and dtypes.

    ``xs`` is ``(T, m)`` or ``(B, T, m)``; ``state0`` unbatched or ``(B, ...)``; ``key`` the
    caller's PRNG key (``None``: a key is passed to exactly the methods that need one).
    """

    cell: AbstractCell
    loss: Loss
    params: TreeSpec
    state0: TreeSpec
    xs: jax.ShapeDtypeStruct
    targets: jax.ShapeDtypeStruct
    mask: jax.ShapeDtypeStruct | None
    key: jax.ShapeDtypeStruct | None
    device: jax.Device | None

    @property
    def batched(self) -> bool:
        return len(self.xs.shape) == 3

    @property
    def B(self) -> int:
        return self.xs.shape[0] if self.batched else 1

    @property
    def T(self) -> int:
        return self.xs.shape[-2]

    @property
    def S(self) -> int:
        return self.cell.state_size

    @property
    def P(self) -> int:
        return self.cell.num_params

    @property
    def P_state(self) -> int:
        """P_s, the parameters the state depends on (what M = ∂s/∂θ carries)."""
        return num_state_params(self.cell)

    @property
    def dtype(self) -> jnp.dtype:
        return jnp.dtype(self.xs.dtype)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    def io_bytes(self) -> int:
        """Bytes of the call's arguments (params, state0, xs, targets, mask, key) and outputs
        (the loss, a gradient like params, the final state batched like ``xs``)."""
        args = self.params.nbytes + self.state0.nbytes + nbytes(self.xs) + nbytes(self.targets)
        args += (nbytes(self.mask) if self.mask is not None else 0) + 8 * (self.key is not None)
        state_T = self.S * self.B * self.itemsize
        return args + self.itemsize + self.params.nbytes + state_T

    def step_structs(self) -> tuple[Any, Any, jax.ShapeDtypeStruct, jax.ShapeDtypeStruct]:
        """Unbatched ``(params, state, x (m,), target)`` of one time step."""
        state = jax.eval_shape(functools.partial(self.cell.initial_state, self.dtype))
        lead = len(self.xs.shape) - 1
        x = jax.ShapeDtypeStruct(self.xs.shape[lead:], self.xs.dtype)
        target = jax.ShapeDtypeStruct(self.targets.shape[lead:], self.targets.dtype)
        return self.params.tree(), state, x, target

    def describe(self) -> str:
        device = "" if self.device is None else f" on {self.device}"
        return (
            f"{type(self.cell).__name__} S={self.S} P={self.P}, T={self.T}, B={self.B}, "
            f"{self.dtype}{device}"
        )


def _check_xs_shape(cell: AbstractCell, xs_shape: Any) -> tuple[int, ...]:
    if not isinstance(xs_shape, tuple | list) or any(
        isinstance(d, bool) or not isinstance(d, int | np.integer) for d in xs_shape
    ):
        raise TypeError(f"xs_shape must be a tuple of ints (T, m) or (B, T, m), got {xs_shape!r}")
    shape = tuple(int(d) for d in xs_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(
            f"xs_shape must be (T, input_size) or (B, T, input_size) with positive sizes, got "
            f"{shape}"
        )
    if shape[-1] != cell.input_size:
        raise ValueError(f"xs_shape must end with input_size={cell.input_size}, got {shape}")
    return shape


def make_problem(
    cell: AbstractCell,
    params: Any,
    state0: Any,
    xs: Any,
    *,
    loss: Loss,
    targets: Any = None,
    mask: Any = None,
    key: Any = None,
    device: jax.Device | None = None,
) -> Problem:
    """A :class:`Problem` from arrays or ``ShapeDtypeStruct`` s; ``xs`` may be a shape tuple
    (then in the params' dtype, and ``targets`` default to floats ``(*xs.shape[:-1], o)``)."""
    cell = check_cell(cell)
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or any(not hasattr(leaf, "dtype") for leaf in leaves):
        raise TypeError("params must be a pytree of arrays (as from cell.init)")
    dtype = jnp.dtype(leaves[0].dtype)
    if not (hasattr(xs, "shape") and hasattr(xs, "dtype")):  # a shape
        xs = jax.ShapeDtypeStruct(_check_xs_shape(cell, xs), dtype)
    if targets is None:
        targets = jax.ShapeDtypeStruct((*xs.shape[:-1], cell.output_size), dtype)
    return Problem(
        cell=cell,
        loss=loss,
        params=tree_spec(params, device),
        state0=tree_spec(state0, device),
        xs=struct(xs, device),
        targets=struct(targets, device),
        mask=None if mask is None else struct(mask, device),
        key=None if key is None else struct(key, device),
        device=device,
    )
