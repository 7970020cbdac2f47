"""Synthetic, seeded sequence tasks: batches ``(xs, targets, mask)`` with a loss and a metric.

>>> task = make_task("adding", length=50)
>>> xs, targets, mask = task.sample(jax.random.key(0), batch_size=32)  # (32, 50, 2), (32, 50, 1)
"""

from gradalgos.tasks.adding import Adding
from gradalgos.tasks.anbn import AnBn
from gradalgos.tasks.base import (
    AbstractTask,
    Batch,
    ClassificationTask,
    RegressionTask,
    masked_mean,
)
from gradalgos.tasks.char_lm import CharLM
from gradalgos.tasks.copy_memory import Copy
from gradalgos.tasks.mackey_glass import MackeyGlass, mackey_glass
from gradalgos.tasks.middle_label import MiddleLabel
from gradalgos.tasks.parity import DelayedParity
from gradalgos.tasks.registry import TASKS, make_task
from gradalgos.tasks.sine import Sine
from gradalgos.tasks.sysid import SystemIdentification
from gradalgos.tasks.w1000 import W1000

__all__ = [
    "TASKS",
    "W1000",
    "AbstractTask",
    "Adding",
    "AnBn",
    "Batch",
    "CharLM",
    "ClassificationTask",
    "Copy",
    "DelayedParity",
    "MackeyGlass",
    "MiddleLabel",
    "RegressionTask",
    "Sine",
    "SystemIdentification",
    "mackey_glass",
    "make_task",
    "masked_mean",
]
