"""Built-in tasks by name."""

from __future__ import annotations

from typing import Any

from gradalgos.tasks.adding import Adding
from gradalgos.tasks.anbn import AnBn
from gradalgos.tasks.base import AbstractTask
from gradalgos.tasks.char_lm import CharLM
from gradalgos.tasks.copy_memory import Copy
from gradalgos.tasks.mackey_glass import MackeyGlass
from gradalgos.tasks.middle_label import MiddleLabel
from gradalgos.tasks.parity import DelayedParity
from gradalgos.tasks.sine import Sine
from gradalgos.tasks.sysid import SystemIdentification
from gradalgos.tasks.w1000 import W1000

__all__ = ["TASKS", "make_task"]

TASKS: dict[str, type[AbstractTask]] = {
    "adding": Adding,
    "copy": Copy,
    "parity": DelayedParity,
    "sine": Sine,
    "mackey-glass": MackeyGlass,
    "anbn": AnBn,
    "w1000": W1000,
    "middle": MiddleLabel,
    "sysid": SystemIdentification,
    "char-lm": CharLM,
}


def make_task(name: str, **kwargs: Any) -> AbstractTask:
    """The task called ``name`` (see ``TASKS``), built with ``kwargs`` (e.g. ``length=50``)."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name](**kwargs)
