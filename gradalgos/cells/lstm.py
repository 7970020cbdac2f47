"""Long short-term memory, Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
2000 and optional peepholes (Gers & Schmidhuber 2000)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells._common import (
    check_fields,
    gate_params,
    linear_readout,
    readout_params,
    zeros_state,
)
from gradalgos.cells.base import AbstractCell, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["LSTM"]


@dataclasses.dataclass(frozen=True)
class LSTM(AbstractCell):
    """LSTM layer with a forget gate, optional peepholes and a linear read-out::

        [a_i, a_f, a_g, a_o] = W_x x_t + W_h h_{t-1} + b        (four blocks of n)
        i_t = σ(a_i + p_i ⊙ c_{t-1})      f_t = σ(a_f + p_f ⊙ c_{t-1})      g_t = tanh(a_g)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        o_t = σ(a_o + p_o ⊙ c_t)
        h_t = o_t ⊙ tanh(c_t)
        y_t = W_out h_t + b_out

    The ``p_*`` terms are present only with ``peepholes=True``.

    **Parameters** (a dict): ``W_x (4n, m)``, ``W_h (4n, n)``, ``b (4n,)`` (gate blocks in
    the order i, f, g, o; the forget block of ``b`` starts at 1, the rest at 0), with
    peepholes ``p (3, n)`` (rows p_i, p_f, p_o; N(0, 1/n) at init), ``W_out (o, n)``,
    ``b_out (o,)``; P = 4n(n + m + 1) + o·n + o (+ 3n with peepholes).
    **State**: ``(h (n,), c (n,))``, zeros at t = 0; S = 2n.
    Cost of one step: O(4n(n + m) + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        peepholes: add the peephole connections ``p`` from the cell state to the gates.
        forget_bias: initial bias of the forget gate (default 1, Gers et al. 2000).
    """

    input_size: int
    hidden_size: int
    output_size: int
    peepholes: bool = False
    forget_bias: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self)
        if not isinstance(self.peepholes, bool):
            raise TypeError(f"peepholes must be a bool, got {self.peepholes!r}")

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_gates, k_peep, k_out = jax.random.split(key, 3)
        params = gate_params(k_gates, 4, n, m, dtype)
        params["b"] = params["b"].at[n : 2 * n].set(self.forget_bias)
        if self.peepholes:
            params["p"] = scaled_normal(k_peep, (3, n), n, dtype)
        return params | readout_params(k_out, n, o, dtype)

    def initial_state(self, dtype: Any = None) -> tuple[jax.Array, jax.Array]:
        zeros = zeros_state(self.hidden_size, dtype)
        return zeros, zeros

    def step(
        self,
        params: dict[str, jax.Array],
        state: tuple[jax.Array, jax.Array],
        x: jax.Array,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        h, c = state
        a_i, a_f, a_g, a_o = jnp.split(params["W_x"] @ x + params["W_h"] @ h + params["b"], 4)
        if self.peepholes:
            p_i, p_f, p_o = params["p"]
            a_i, a_f = a_i + p_i * c, a_f + p_f * c
        c = jax.nn.sigmoid(a_f) * c + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
        if self.peepholes:
            a_o = a_o + p_o * c
        h = jax.nn.sigmoid(a_o) * jnp.tanh(c)
        return (h, c), linear_readout(params, h)
