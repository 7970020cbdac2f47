"""The problem a config measures: a cell and seeded random data, in a given dtype."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import gradalgos as ga
from gradalgos.bench.config import BenchConfig

__all__ = ["INPUT_SIZE", "OUTPUT_SIZE", "Case", "make_case", "make_cell"]

#: Input size m and output size o of every benchmarked cell (P ≈ n² for large n).
INPUT_SIZE = 8
OUTPUT_SIZE = 8


def make_cell(name: str, n: int) -> ga.cells.AbstractCell:
    """The registered cell ``name`` with ``n`` hidden units, m = o = 8.

    Uses ``gradalgos.cells.registry.get`` when the registry exists, so every registered cell
    is available by name; without it, only ``"elman"``.
    """
    try:
        from gradalgos.cells.registry import get
    except ImportError:  # an older gradalgos without the registry

        def get(cell_name: str) -> Any:
            if cell_name.lower() != "elman":
                raise ValueError(f"unknown cell {cell_name!r}; only 'elman' is available")
            return ga.cells.Elman

    return get(name)(input_size=INPUT_SIZE, hidden_size=n, output_size=OUTPUT_SIZE)


class Case(NamedTuple):
    """A cell and batched data. Arrays: params (pytree), state0 leaves ``(B, ...)``,
    xs ``(B, T, m)``, targets ``(B, T, o)``, mask ``(B, T)`` ones; all of one float dtype."""

    cell: ga.cells.AbstractCell
    params: Any
    state0: Any
    xs: jax.Array
    targets: jax.Array
    mask: jax.Array

    def astype(self, dtype: Any) -> Case:
        """The same case with every array cast to ``dtype``."""
        arrays = jax.tree_util.tree_map(
            lambda a: jnp.asarray(a, dtype), (self.params, self.state0, self.xs, self.targets)
        )
        return Case(self.cell, *arrays, jnp.asarray(self.mask, dtype))

    @property
    def args(self) -> tuple[Any, ...]:
        """``(params, state0, xs, targets, mask)``."""
        return self.params, self.state0, self.xs, self.targets, self.mask


def make_case(config: BenchConfig) -> Case:
    """The config's case in its dtype; the values are drawn in float64 and rounded, so the
    float64 reference of a float32 case (``case.astype(float64)``) sees the same numbers.

    Inputs and targets are N(0, 1); parameters from ``cell.init`` (seed ``config.seed``).
    """
    cell = make_cell(config.cell, config.n)
    k_par, k_x, k_y = jax.random.split(jax.random.key(config.seed), 3)
    B, T = config.batch, config.T
    params = cell.init(k_par, jnp.float64)
    state0 = jax.tree_util.tree_map(
        lambda s: jnp.broadcast_to(s, (B, *s.shape)), cell.initial_state(jnp.float64)
    )
    xs = jax.random.normal(k_x, (B, T, cell.input_size), jnp.float64)
    targets = jax.random.normal(k_y, (B, T, cell.output_size), jnp.float64)
    mask = jnp.ones((B, T), jnp.float64)
    return Case(cell, params, state0, xs, targets, mask).astype(config.dtype)
