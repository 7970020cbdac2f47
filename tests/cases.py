"""The cells every algorithm test is parametrized over (small sizes: tests check exactness).

Each entry builds a cell with input_size=3 and output_size=2 so that one data generator serves
all of them. Add every new built-in cell here.
"""

from __future__ import annotations

from collections.abc import Callable

import gradalgos as ga

CELL_CASES: dict[str, Callable[[], ga.cells.AbstractCell]] = {
    "elman-tanh": lambda: ga.cells.Elman(input_size=3, hidden_size=4, output_size=2),
    "elman-relu": lambda: ga.cells.Elman(
        input_size=3, hidden_size=4, output_size=2, activation="relu", recurrent_scale=0.9
    ),
}
