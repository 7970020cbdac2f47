"""The problem a config measures: a cell and seeded random data, in a given dtype."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import gradalgos as ga
from gradalgos.bench.config import BenchConfig

__all__ = ["INPUT_SIZE", "OUTPUT_SIZE", "Case", "make_case", "make_cell"]

#: Input size m and output size o of every benchmarked cell (P ≈ n² for large n).
INPUT_SIZE = 8
OUTPUT_SIZE = 8


def _tanh_rnn_init(n: int, key: jax.Array) -> dict[str, jax.Array]:
    """Parameters of the ``function`` recipe: a tanh RNN written as plain JAX functions."""
    k_a, k_b, k_c = jax.random.split(key, 3)
    return {
        "A": jax.random.normal(k_a, (n, n)) * 0.9 / jnp.sqrt(n),
        "B": jax.random.normal(k_b, (n, INPUT_SIZE)) / jnp.sqrt(INPUT_SIZE),
        "C": jax.random.normal(k_c, (OUTPUT_SIZE, n)) / jnp.sqrt(n),
    }


def _tanh_rnn_zeros(n: int) -> jax.Array:
    return jnp.zeros((n,))


def _tanh_rnn_step(params: Any, h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = jnp.tanh(params["A"] @ h + params["B"] @ x)
    return h, params["C"] @ h


def make_cell(name: str, n: int) -> ga.cells.AbstractCell:
    """The registered cell ``name`` with ``n`` hidden units, m = o = 8; recipes for cells
    without ``hidden_size``: ``ctrnn`` (n − n//4 fast units, τ = 2, and n//4 slow, τ = 8),
    ``stack`` (a GRU of n units feeding an Elman of n, S = 2n) and ``function`` (a tanh RNN of
    plain JAX functions in a :class:`FunctionCell`)."""
    from gradalgos.cells.registry import get

    m, o = INPUT_SIZE, OUTPUT_SIZE
    key = name.lower() if isinstance(name, str) else name
    if key == "ctrnn":
        groups = ((n - n // 4, 2.0), (n // 4, 8.0)) if n >= 4 else ((n, 2.0),)
        return ga.cells.CTRNN(input_size=m, output_size=o, taus=groups)
    if key == "stack":
        return ga.cells.Stack(
            (
                ga.cells.GRU(input_size=m, hidden_size=n, output_size=n),
                ga.cells.Elman(input_size=n, hidden_size=n, output_size=o),
            )
        )
    if key == "function":
        return ga.cells.FunctionCell(
            _tanh_rnn_step,
            functools.partial(_tanh_rnn_init, n),
            functools.partial(_tanh_rnn_zeros, n),
            input_size=m,
            output_size=o,
        )
    return get(name)(input_size=m, hidden_size=n, output_size=o)


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
    """The config's case drawn in its dtype (its float64 reference, ``astype``, sees the same
    values): N(0, 1) inputs and targets, parameters from ``cell.init``, seed ``config.seed``."""
    cell = make_cell(config.cell, config.n)
    k_par, k_x, k_y = jax.random.split(jax.random.key(config.seed), 3)
    B, T, dtype = config.batch, config.T, jnp.dtype(config.dtype)
    params = cell.init(k_par, dtype)
    state0 = jax.tree_util.tree_map(
        lambda s: jnp.broadcast_to(s, (B, *s.shape)), cell.initial_state(dtype)
    )
    xs = jax.random.normal(k_x, (B, T, cell.input_size), dtype)
    targets = jax.random.normal(k_y, (B, T, cell.output_size), dtype)
    mask = jnp.ones((B, T), dtype)
    return Case(cell, params, state0, xs, targets, mask)
