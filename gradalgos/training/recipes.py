"""Every built-in cell from one size ``n``: the registered constructor where it takes
``hidden_size``, a fixed recipe for those that do not (``ctrnn``, ``stack``, ``function``,
``bidirectional``, ``iir_mlp``).

The recipes are those of the benchmark (:func:`gradalgos.bench.case.make_cell`, which fixes
m = o = 8), for any input and output size.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos import cells
from gradalgos.cells.base import AbstractCell, check_positive_int

__all__ = ["RECIPES", "make_cell"]

#: What each recipe builds from n (the cells whose constructor has no ``hidden_size``).
RECIPES = {
    "ctrnn": "an MTRNN: n - n//4 fast units (tau = 2) and n//4 slow ones (tau = 8)",
    "stack": "a GRU layer of n units feeding an Elman layer of n units (S = 2n)",
    "function": "a tanh RNN h' = tanh(A h + B x), y = C h as plain JAX functions",
    "bidirectional": "Elman layers of n units forward and backward in time, outputs summed",
    "iir_mlp": "an IIR-MLP (m, n, o) whose synapses have 2 zeros and 2 poles (Back & Tsoi)",
}


def _tanh_rnn_init(n: int, m: int, o: int, key: jax.Array) -> dict[str, jax.Array]:
    """Parameters of the ``function`` recipe: ``A (n, n)`` (spectral radius ≈ 0.9),
    ``B (n, m)``, ``C (o, n)``."""
    k_a, k_b, k_c = jax.random.split(key, 3)
    return {
        "A": jax.random.normal(k_a, (n, n)) * 0.9 / jnp.sqrt(n),
        "B": jax.random.normal(k_b, (n, m)) / jnp.sqrt(m),
        "C": jax.random.normal(k_c, (o, n)) / jnp.sqrt(n),
    }


def _tanh_rnn_zeros(n: int) -> jax.Array:
    return jnp.zeros((n,))


def _tanh_rnn_step(params: Any, h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = jnp.tanh(params["A"] @ h + params["B"] @ x)
    return h, params["C"] @ h


def make_cell(name: str, input_size: int, hidden_size: int, output_size: int) -> AbstractCell:
    """The built-in cell ``name`` (:data:`gradalgos.cells.CELLS`, case-insensitive) with
    ``hidden_size`` = n hidden units per layer, input size m and output size o.

    Cells whose constructor has no ``hidden_size`` are built by a fixed recipe
    (:data:`RECIPES`): ``ctrnn`` an MTRNN with n − n//4 fast units (τ = 2) and n//4 slow ones
    (τ = 8; one group of n fast units if n < 4); ``stack`` a GRU layer of n units feeding an
    Elman layer of n units (S = 2n); ``function`` a tanh RNN written as plain JAX functions in
    a :class:`~gradalgos.cells.FunctionCell` (A ~ N(0, 0.81/n), B ~ N(0, 1/m), C ~ N(0, 1/n));
    ``iir_mlp`` an :class:`~gradalgos.cells.IIRMLP` (m, n, o) with L = I = 2.

    Raises:
        ValueError: unknown name (listing the built-in cells), or sizes the cell rejects.
    """
    cls = cells.get(name)
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                       ("output_size", output_size)):  # fmt: skip
        check_positive_int(arg, value)
    m, n, o = input_size, hidden_size, output_size
    key = name.lower()
    if key == "ctrnn":
        groups = ((n - n // 4, 2.0), (n // 4, 8.0)) if n >= 4 else ((n, 2.0),)
        return cells.CTRNN(input_size=m, output_size=o, taus=groups)
    if key == "stack":
        return cells.Stack(
            (
                cells.GRU(input_size=m, hidden_size=n, output_size=n),
                cells.Elman(input_size=n, hidden_size=n, output_size=o),
            )
        )
    if key == "bidirectional":
        return cells.Bidirectional(cells.Elman(m, n, o), cells.Elman(m, n, o))
    if key == "iir_mlp":
        return cells.IIRMLP((m, n, o), ff_order=2, fb_order=2)
    if key == "function":
        return cells.FunctionCell(
            _tanh_rnn_step,
            functools.partial(_tanh_rnn_init, n, m, o),
            functools.partial(_tanh_rnn_zeros, n),
            input_size=m,
            output_size=o,
        )
    return cls(input_size=m, hidden_size=n, output_size=o)
