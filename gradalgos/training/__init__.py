"""Training: any task × any cell × any gradient algorithm × any optax optimiser.

>>> import jax, gradalgos as ga, gradalgos.training
>>> cell = ga.cells.Elman(input_size=2, hidden_size=16, output_size=1)
>>> result = ga.training.train("adding", cell, ga.BPTT(), "adam", steps=500,
...                            learning_rate=1e-2, clip=1.0, key=jax.random.key(0))
>>> result.history.eval_metric[-1]  # test MSE

Online (one stream, never reset): :func:`train_online` with any online method (``RTRL()``,
``Hybrid()``, ``SnAp(1)``, ``RFLO()``, …: ``algorithms.registry.names(online=True)``) or
``TBPTT(k)``. Gradient-free (GA, SA, PSO on one fixed batch): :func:`train_gradient_free`.
Command line: ``python -m gradalgos.training train|compare --help``.
"""

from gradalgos.training.common import TrainResult
from gradalgos.training.evaluate import evaluate, predict
from gradalgos.training.evolution import train_gradient_free
from gradalgos.training.history import History
from gradalgos.training.offline import train
from gradalgos.training.online import block_length, online_names, train_online
from gradalgos.training.optimizers import OPTIMIZERS, make_optimizer

__all__ = [
    "OPTIMIZERS",
    "History",
    "TrainResult",
    "block_length",
    "evaluate",
    "make_optimizer",
    "online_names",
    "predict",
    "train",
    "train_gradient_free",
    "train_online",
]
