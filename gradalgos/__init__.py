"""gradalgos: gradient algorithms for recurrent networks in JAX.

>>> import jax, gradalgos as ga
>>> cell = ga.cells.Elman(input_size=4, hidden_size=64, output_size=2)
>>> params, state0 = cell.init(jax.random.key(0)), cell.initial_state()
>>> loss, grads, state_T = ga.value_and_grad(ga.RTRL(), cell, params, state0, xs, targets)
"""

from gradalgos import algorithms, cells, gradient_free, losses, tasks, training
from gradalgos.algorithms import (
    BPTT,
    CRBP,
    KFRTRL,
    RFLO,
    RTRL,
    TBPTT,
    UORO,
    AbstractAlgorithm,
    AbstractOnlineAlgorithm,
    CheckpointedBPTT,
    EProp,
    Hybrid,
    Immediate,
    SensitivityState,
    SnAp,
    TraceState,
)
from gradalgos.alignment import Alignment, alignment
from gradalgos.planner import Auto, Plan, plan
from gradalgos.value_and_grad import value_and_grad

__version__ = "0.1.0"

__all__ = [
    "BPTT",
    "CRBP",
    "KFRTRL",
    "RFLO",
    "RTRL",
    "TBPTT",
    "UORO",
    "AbstractAlgorithm",
    "AbstractOnlineAlgorithm",
    "Alignment",
    "Auto",
    "CheckpointedBPTT",
    "EProp",
    "Hybrid",
    "Immediate",
    "Plan",
    "SensitivityState",
    "SnAp",
    "TraceState",
    "algorithms",
    "alignment",
    "cells",
    "gradient_free",
    "losses",
    "plan",
    "tasks",
    "training",
    "value_and_grad",
]
