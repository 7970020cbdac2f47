"""IRNN: ReLU Elman network with an identity-initialised recurrent matrix, Le et al. 2015."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from gradalgos.cells.base import AbstractCell
from gradalgos.cells.elman import Elman

__all__ = ["IRNN"]


@dataclasses.dataclass(frozen=True)
class IRNN(AbstractCell):
    """An :class:`Elman` cell with ReLU units, ``W_rec`` = identity and zero bias at init
    (Le, Jaitly & Hinton 2015, "A simple way to initialize recurrent networks of rectified
    linear units")::

        h_t = relu(W_rec h_{t-1} + W_in x_t + b)
        y_t = W_out h_t + b_out

    A thin wrapper: it builds the equivalent ``Elman(activation="relu",
    recurrent_init="identity")`` and delegates to it, so the parameters, state and cost are
    Elman's. **Parameters** (a dict): ``W_in (n, m)`` ~ N(0, 1/m), ``W_rec (n, n)`` =
    ``recurrent_scale``·I, ``b (n,)`` = 0, ``W_out (o, n)``, ``b_out (o,)``;
    P = n² + n·m + n + o·n + o. **State**: ``h (n,)``, zeros at t = 0; S = n.
    Cost of one step: O(n² + n·m + o·n).

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        recurrent_scale: the initial ``W_rec`` is ``recurrent_scale``·I (Le et al.: 1; a
            value slightly below 1 damps the memory, as in their "np-RNN" variants).
    """

    input_size: int
    hidden_size: int
    output_size: int
    recurrent_scale: float = 1.0

    def __post_init__(self) -> None:
        _ = self.elman  # Elman validates the sizes

    @property
    def elman(self) -> Elman:
        """The equivalent :class:`Elman` cell, which does all the work."""
        return Elman(
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            output_size=self.output_size,
            activation="relu",
            recurrent_init="identity",
            recurrent_scale=self.recurrent_scale,
        )

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        return self.elman.init(key, dtype)

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return self.elman.initial_state(dtype)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        return self.elman.step(params, state, x)

    def batch_step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        return self.elman.batch_step(params, state, x)
