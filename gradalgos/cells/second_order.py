"""Second-order (multiplicative) recurrent network, Giles et al. 1992."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells._common import activate_and_read, check_fields, readout_params
from gradalgos.cells.base import AbstractCell, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["SecondOrder"]


@dataclasses.dataclass(frozen=True)
class SecondOrder(AbstractCell):
    """Recurrent layer whose weights couple each (state, input) pair, linear read-out::

        h_{t,i} = σ(Σ_jk W_ijk h_{t-1,j} x_{t,k} + b_i)
        y_t = W_out h_t + b_out

    As in Giles et al. (1992, grammatical inference with one-hot inputs), σ is the logistic
    sigmoid by default and the start state is ``h_0 = e_1 = (1, 0, …, 0)``: with h_0 = 0 the
    first step would ignore its input.

    **Parameters** (a dict): ``W (n, n, m)`` ~ N(0, 1/(n·m)), ``b (n,)``, ``W_out (o, n)``,
    ``b_out (o,)``; P = n²·m + n + o·n + o. **State**: ``h (n,)``, ``e_1`` at t = 0; S = n.
    Cost of one step: O(n²·m + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        activation: ``"sigmoid"`` (default), ``"tanh"``, … or a callable.
    """

    input_size: int
    hidden_size: int
    output_size: int
    activation: str | Callable = "sigmoid"

    def __post_init__(self) -> None:
        check_fields(self)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_w, k_out = jax.random.split(key)
        W = scaled_normal(k_w, (n, n, m), n * m, dtype)
        return {"W": W, "b": jnp.zeros((n,), dtype), **readout_params(k_out, n, o, dtype)}

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return jnp.zeros((self.hidden_size,), default_float(dtype)).at[0].set(1)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        pre = jnp.einsum("ijk,j,k->i", params["W"], state, x) + params["b"]
        return activate_and_read(self.activation, params, pre)
