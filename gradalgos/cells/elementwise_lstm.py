"""Element-wise LSTM: an LSTM whose recurrent matrices are diagonal (vectors), after Irie,
Gopalakrishnan & Schmidhuber 2023."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells._common import check_fields, linear_readout, readout_params, zeros_state
from gradalgos.cells.base import AbstractCell, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["ElementwiseLSTM"]


@dataclasses.dataclass(frozen=True)
class ElementwiseLSTM(AbstractCell):
    """LSTM layer whose gates see only their own unit's previous output (element-wise
    recurrence), with a forget gate and a linear read-out::

        [a_i, a_f, a_g, a_o] = W_x x_t + u ⊙ [h_{t-1}, h_{t-1}, h_{t-1}, h_{t-1}] + b
        c_t = σ(a_f) ⊙ c_{t-1} + σ(a_i) ⊙ tanh(a_g)
        h_t = σ(a_o) ⊙ tanh(c_t)
        y_t = W_out h_t + b_out

    It is :class:`~gradalgos.cells.LSTM` (no peepholes) with each ``n × n`` recurrent block of
    ``W_h`` replaced by a diagonal, stored as the vector ``u``. Unit k's state ``(h_k, c_k)``
    depends on the past only through itself, so the state Jacobian is block-diagonal (2 × 2
    blocks per unit) and RTRL's sensitivities are sparse: the setting of Irie, Gopalakrishnan &
    Schmidhuber (2023, "Exploring the promise and limits of real-time recurrent learning"),
    who use element-wise recurrences to make RTRL tractable. Their eLSTM is a variant of this
    (a tied input gate ``1 − f``, recurrence from ``c``); this cell keeps the gate layout of
    ``lstm.py``.

    **Parameters** (a dict): ``W_x (4n, m)`` ~ N(0, 1/m), ``u (4n,)`` ~ U(−1, 1) (fan-in 1:
    each entry alone plays the part of a row of ``W_h``; bounded so that a unit's initial
    self-loop is at most 1), ``b (4n,)`` (gate blocks in the order i, f, g, o; the forget
    block starts at ``forget_bias``, the rest at 0), ``W_out (o, n)``, ``b_out (o,)``;
    P = 4n(m + 2) + o·n + o. **State**: ``(h (n,), c (n,))``, zeros at t = 0; S = 2n.
    Cost of one step: O(4n·m + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        forget_bias: initial bias of the forget gate (default 1, Gers et al. 2000).
    """

    input_size: int
    hidden_size: int
    output_size: int
    forget_bias: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self)
        if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, int | float):
            raise TypeError(
                f"forget_bias must be a number, got {self.forget_bias!r} "
                f"({type(self.forget_bias).__name__})"
            )

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_x, k_u, k_out = jax.random.split(key, 3)
        b = jnp.zeros((4 * n,), dtype).at[n : 2 * n].set(self.forget_bias)
        return {
            "W_x": scaled_normal(k_x, (4 * n, m), m, dtype),
            "u": jax.random.uniform(k_u, (4 * n,), dtype, -1.0, 1.0),
            "b": b,
            **readout_params(k_out, n, o, dtype),
        }

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
        pre = params["W_x"] @ x + params["u"] * jnp.tile(h, 4) + params["b"]
        a_i, a_f, a_g, a_o = jnp.split(pre, 4)
        c = jax.nn.sigmoid(a_f) * c + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
        h = jax.nn.sigmoid(a_o) * jnp.tanh(c)
        return (h, c), linear_readout(params, h)
