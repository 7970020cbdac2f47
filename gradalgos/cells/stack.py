"""A multi-layer cell: a tuple of cells, each layer's output the next layer's input."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["Stack"]


@dataclasses.dataclass(frozen=True)
class Stack(AbstractCell):
    """Layers ``cells[0], …, cells[L-1]`` applied in turn within one time step::

        s^1_t, y^1_t = cells[0].step(θ^1, s^1_{t-1}, x_t)
        s^l_t, y^l_t = cells[l-1].step(θ^l, s^l_{t-1}, y^{l-1}_t)      l = 2 … L
        y_t = y^L_t

    so ``cells[l].output_size`` must equal ``cells[l+1].input_size``; m is the first layer's
    input size, o the last layer's output size.

    **Parameters**: a tuple ``(θ^1, …, θ^L)`` of the layers' parameters; P = Σ_l P_l.
    **State**: a tuple ``(s^1, …, s^L)`` of the layers' states, each its own initial state at
    t = 0; S = Σ_l S_l. Cost of one step: the sum of the layers' costs.

    Arguments:
        cells: the layers, a non-empty tuple of cells (a list is stored as a tuple).
    """

    cells: tuple[AbstractCell, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.cells, tuple | list) or not self.cells:
            raise TypeError(f"cells must be a non-empty tuple of cells, got {self.cells!r}")
        object.__setattr__(self, "cells", tuple(self.cells))
        for i, cell in enumerate(self.cells):
            if not isinstance(cell, AbstractCell):
                raise TypeError(f"cells[{i}] must be a cell, got {type(cell).__name__}")
        for i, (lower, upper) in enumerate(zip(self.cells, self.cells[1:], strict=False)):
            if lower.output_size != upper.input_size:
                raise ValueError(
                    f"cells[{i}].output_size={lower.output_size} must equal "
                    f"cells[{i + 1}].input_size={upper.input_size} (layer i's output feeds "
                    f"layer i+1)"
                )

    @property
    def input_size(self) -> int:  # type: ignore[override]
        """m, the first layer's input size."""
        return self.cells[0].input_size

    @property
    def output_size(self) -> int:  # type: ignore[override]
        """o, the last layer's output size."""
        return self.cells[-1].output_size

    def init(self, key: jax.Array, dtype: Any = None) -> tuple[Params, ...]:
        keys = jax.random.split(key, len(self.cells))
        return tuple(cell.init(k, dtype) for cell, k in zip(self.cells, keys, strict=True))

    def initial_state(self, dtype: Any = None) -> tuple[State, ...]:
        return tuple(cell.initial_state(dtype) for cell in self.cells)

    def step(
        self, params: tuple[Params, ...], state: tuple[State, ...], x: jax.Array
    ) -> tuple[tuple[State, ...], jax.Array]:
        states = []
        for cell, theta, s in zip(self.cells, params, state, strict=True):
            s, x = cell.step(theta, s, x)
            states.append(s)
        return tuple(states), x
