"""Recurrent cells: one file per family, one interface (:class:`AbstractCell`)."""

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
from gradalgos.cells.registry import CELLS, get
from gradalgos.cells.second_order import SecondOrder
from gradalgos.cells.stack import Stack

__all__ = [
    "CELLS",
    "CTRNN",
    "GRU",
    "IIRMLP",
    "IRNN",
    "LRU",
    "LSTM",
    "AbstractCell",
    "Bidirectional",
    "ElementwiseLSTM",
    "Elman",
    "FunctionCell",
    "IndRNN",
    "Jordan",
    "SecondOrder",
    "Stack",
    "get",
]
