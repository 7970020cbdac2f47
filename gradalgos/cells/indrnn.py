"""Independently recurrent neural network (IndRNN), Li et al. 2018."""

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

__all__ = ["IndRNN"]


@dataclasses.dataclass(frozen=True)
class IndRNN(AbstractCell):
    """Recurrent layer whose units recur only on themselves (element-wise), linear read-out::

        h_t = act(u ⊙ h_{t-1} + W_in x_t + b)
        y_t = W_out h_t + b_out

    **Parameters** (a dict): ``W_in (n, m)``, ``u (n,)`` (uniform in ``u_range`` at init),
    ``b (n,)``, ``W_out (o, n)``, ``b_out (o,)``; P = n·m + 2n + o·n + o.
    **State**: ``h (n,)``, zeros at t = 0; S = n. Its state Jacobian is diagonal, but the
    generic algorithms do not exploit that. Cost of one step: O(n·m + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        activation: ``"relu"`` (default, as in Li et al.), ``"tanh"``, … or a callable.
        u_range: ``(low, high)`` of the uniform initial ``u`` (default ``(0, 1)``; Li et al.
            bound |u| by 2^{1/T} for long memories).
    """

    input_size: int
    hidden_size: int
    output_size: int
    activation: str | Callable = "relu"
    u_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        check_fields(self)
        if not (
            isinstance(self.u_range, tuple)
            and len(self.u_range) == 2
            and all(isinstance(v, int | float) for v in self.u_range)
            and self.u_range[0] <= self.u_range[1]
        ):
            raise ValueError(
                f"u_range must be a tuple (low, high) with low ≤ high, got {self.u_range!r}"
            )

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_u, k_rest = jax.random.split(key)
        u = jax.random.uniform(k_u, (n,), dtype, *self.u_range)
        return {"u": u, **input_readout_params(k_rest, n, m, o, dtype)}

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return zeros_state(self.hidden_size, dtype)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        pre = params["u"] * state + params["W_in"] @ x + params["b"]
        return activate_and_read(self.activation, params, pre)
