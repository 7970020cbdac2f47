"""What the alignment sweep measures: methods, cells, sizes, and the caps that keep it on 2 CPUs.

The task is delayed recall, ``target_t = x_{t−DELAY}`` (zeros before), inputs N(0, 1): every
step's loss depends on the past, so credit must travel back DELAY steps. Weights are each cell's
initialisation; every seed draws new weights and a new sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

import gradalgos as ga
from gradalgos.algorithms import registry

__all__ = ["CELLS", "DELAY", "METHODS", "Config", "cap", "configs", "make_cell", "task"]

IO = 4  # inputs m = outputs o
DELAY = 5


class Method(NamedTuple):
    label: str
    name: str  # registry name (its AlgorithmInfo)
    make: Callable[[], ga.AbstractOnlineAlgorithm]


#: Every approximate online method in the registry with its defaults, SnAp-2 (for the sparse
#: cells), and exact RTRL.
METHODS: tuple[Method, ...] = (
    Method("RTRL", "rtrl", ga.RTRL),
    *(
        Method(registry.info(name).label.split(" (")[0], name, registry.get(name))
        for name in registry.names(online=True, exact=False)
    ),
    Method("SnAp-2", "snap", lambda: ga.SnAp(2)),
)

#: Cell label → constructor of n units (m = o = IO).
CELLS: dict[str, Callable[[int], ga.cells.AbstractCell]] = {
    "Elman": lambda n: ga.cells.Elman(IO, n, IO),
    "LSTM": lambda n: ga.cells.LSTM(IO, n, IO),
    "GRU": lambda n: ga.cells.GRU(IO, n, IO),
    "IndRNN": lambda n: ga.cells.IndRNN(IO, n, IO, activation="tanh"),
    "LRU": lambda n: ga.cells.LRU(IO, n, IO),
    "element-wise LSTM": lambda n: ga.cells.ElementwiseLSTM(IO, n, IO),
    "Elman d=1/4": lambda n: ga.cells.Elman(IO, n, IO, density=0.25),
    "Elman d=1/16": lambda n: ga.cells.Elman(IO, n, IO, density=1 / 16),
    "CTRNN (leaky)": lambda n: ga.cells.CTRNN(IO, IO, taus=((n, 4.0),)),
}
DENSE = ("Elman", "LSTM", "GRU", "CTRNN (leaky)")
GATED = ("LSTM", "GRU")
SPARSE = ("Elman d=1/4", "Elman d=1/16")


def cap(method: str, cell: str) -> int | None:
    """The largest n run for ``(method, cell)`` on 2 CPUs, or ``None`` to skip the pair by
    choice (not by error). Stated in the study page."""
    if method == "SnAp-2":
        if cell not in SPARSE:
            return None  # on a dense cell SnAp-2 is RTRL
        return 256 if cell == "Elman d=1/16" else 128  # ≈ (1 + d·n) entries per parameter
    if method == "e-prop" and cell not in ("Elman", "CTRNN (leaky)"):
        return None  # with symmetric feedback it is SnAp-1 (tests/test_approx.py)
    if method == "RTRL" and cell in DENSE + SPARSE:
        return 64  # O(n⁴) time, O(n³) memory
    if method == "KF-RTRL":
        return 128  # O(n³)
    if method in ("SnAp-1", "e-prop") and cell in GATED:
        return 128  # S passes of the step per step for J^s's diagonal: O(n³)
    return 256


def make_cell(label: str, n: int) -> ga.cells.AbstractCell:
    return CELLS[label](n)


def task(cell: ga.cells.AbstractCell, T: int, key: jax.Array, dtype=jnp.float32):
    """``(params, state0, xs (T, m), targets (T, o))`` of delayed recall at the cell's init."""
    k_params, k_x = jax.random.split(key)
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), cell.init(k_params))
    xs = jax.random.normal(k_x, (T, IO), dtype)
    targets = jnp.concatenate([jnp.zeros((DELAY, IO), dtype), xs[:-DELAY]])
    return params, cell.initial_state(dtype), xs, targets


class Config(NamedTuple):
    method: str
    cell: str
    n: int
    T: int


def configs(sizes: tuple[int, ...], lengths: tuple[int, ...], cells: tuple[str, ...]) -> list:
    """Every (method, cell, n, T): the first length at every size, the others at the
    smallest-but-one size (the T dependence); pairs above their :func:`cap` left out."""
    out = []
    for cell in cells:
        for m in METHODS:
            top = cap(m.label, cell)
            if top is None:
                continue
            for T in lengths:
                for n in sizes if lengths[0] == T else sizes[1:2]:
                    if n <= top:
                        out.append(Config(m.label, cell, n, T))
    return out
