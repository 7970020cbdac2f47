"""Jordan network: the context is the previous output, Jordan 1986."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from gradalgos.cells._common import (
    activate_and_read,
    check_fields,
    input_readout_params,
    zeros_state,
)
from gradalgos.cells.base import AbstractCell, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["Jordan"]


@dataclasses.dataclass(frozen=True)
class Jordan(AbstractCell):
    """Recurrent layer fed back from the previous *output* (Jordan 1986), linear read-out::

        h_t = act(W_rec y_{t-1} + W_in x_t + b)
        y_t = W_out h_t + b_out

    Jordan's original context units also decayed (``c_t = μ c_{t-1} + y_{t-1}``); here the
    context is ``y_{t-1}`` itself (μ = 0), the form in common use.

    **Parameters** (a dict): ``W_in (n, m)``, ``W_rec (n, o)``, ``b (n,)``, ``W_out (o, n)``,
    ``b_out (o,)``; P = 2·n·o + n·m + n + o. **State**: ``y (o,)``, the previous output,
    zeros at t = 0; S = o (independent of n, so RTRL costs only O(o²·P) per step).
    Cost of one step: O(n·o + n·m).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        activation: ``"tanh"`` (default), ``"relu"``, … (see ``cells.activations``) or a callable.
    """

    input_size: int
    hidden_size: int
    output_size: int
    activation: str | Callable = "tanh"

    def __post_init__(self) -> None:
        check_fields(self)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_rec, k_rest = jax.random.split(key)
        W_rec = scaled_normal(k_rec, (n, o), o, dtype)
        return {"W_rec": W_rec, **input_readout_params(k_rest, n, m, o, dtype)}

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return zeros_state(self.output_size, dtype)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        pre = params["W_rec"] @ state + params["W_in"] @ x + params["b"]
        _, y = activate_and_read(self.activation, params, pre)
        return y, y
