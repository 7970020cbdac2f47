"""The built-in cells by name: ``get("lstm")`` → :class:`LSTM`."""

from __future__ import annotations

from gradalgos.cells.base import AbstractCell
from gradalgos.cells.bidirectional import Bidirectional
from gradalgos.cells.ctrnn import CTRNN
from gradalgos.cells.elementwise_lstm import ElementwiseLSTM
from gradalgos.cells.elman import Elman
from gradalgos.cells.function import FunctionCell
from gradalgos.cells.gru import GRU
from gradalgos.cells.iir_mlp import IIRMLP
from gradalgos.cells.indrnn import IndRNN
from gradalgos.cells.irnn import IRNN
from gradalgos.cells.jordan import Jordan
from gradalgos.cells.lru import LRU
from gradalgos.cells.lstm import LSTM
from gradalgos.cells.second_order import SecondOrder
from gradalgos.cells.stack import Stack

__all__ = ["CELLS", "get"]

CELLS: dict[str, type[AbstractCell]] = {
    "bidirectional": Bidirectional,
    "ctrnn": CTRNN,
    "elementwise_lstm": ElementwiseLSTM,
    "elman": Elman,
    "function": FunctionCell,
    "gru": GRU,
    "iir_mlp": IIRMLP,
    "indrnn": IndRNN,
    "irnn": IRNN,
    "jordan": Jordan,
    "lru": LRU,
    "lstm": LSTM,
    "second_order": SecondOrder,
    "stack": Stack,
}


def get(name: str) -> type[AbstractCell]:
    """The cell class registered as ``name`` (case-insensitive), e.g. ``get("gru")(3, 8, 2)``."""
    if not isinstance(name, str):
        raise TypeError(f"cell name must be a str, got {type(name).__name__}")
    try:
        return CELLS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; the built-in cells are {sorted(CELLS)}") from None
