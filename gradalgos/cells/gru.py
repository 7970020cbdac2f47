"""Gated recurrent unit, Cho et al. 2014."""

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

__all__ = ["GRU"]


@dataclasses.dataclass(frozen=True)
class GRU(AbstractCell):
    """GRU layer (Cho et al. 2014, eqs. 5-8) with a linear read-out::

        z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)                   (update gate)
        r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)                   (reset gate)
        h̃_t = tanh(W_xh x_t + W_hh (r_t ⊙ h_{t-1}) + b_h)
        h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t                    (Cho's convention)
        y_t = W_out h_t + b_out

    **Parameters** (a dict): ``W_x (3n, m)``, ``W_h (3n, n)``, ``b (3n,)`` (blocks in the
    order z, r, h̃), ``W_out (o, n)``, ``b_out (o,)``; P = 3n(n + m + 1) + o·n + o.
    **State**: ``h (n,)``, zeros at t = 0; S = n. Cost of one step: O(3n(n + m) + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
    """

    input_size: int
    hidden_size: int
    output_size: int

    def __post_init__(self) -> None:
        check_fields(self)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_gates, k_out = jax.random.split(key)
        return gate_params(k_gates, 3, n, m, dtype) | readout_params(k_out, n, o, dtype)

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return zeros_state(self.hidden_size, dtype)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        n, W_h = self.hidden_size, params["W_h"]
        a = params["W_x"] @ x + params["b"]
        z, r = jnp.split(jax.nn.sigmoid(a[: 2 * n] + W_h[: 2 * n] @ state), 2)
        h_tilde = jnp.tanh(a[2 * n :] + W_h[2 * n :] @ (r * state))
        h = z * state + (1 - z) * h_tilde
        return h, linear_readout(params, h)
