"""Every algorithm of gradalgos, by name: what the harness, plots, CLI and tests iterate over.

Adding a method is its own file plus one line in :data:`ALGORITHMS`; its metadata lives on
its class (``cls.info``, an :class:`~gradalgos.algorithms.info.AlgorithmInfo`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.checkpointed import CheckpointedBPTT
from gradalgos.algorithms.crbp import CRBP
from gradalgos.algorithms.eprop import EProp
from gradalgos.algorithms.hybrid import Hybrid
from gradalgos.algorithms.immediate import Immediate
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.kfrtrl import KFRTRL
from gradalgos.algorithms.replay import ReplayTBPTT
from gradalgos.algorithms.rflo import RFLO
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.snap import SnAp
from gradalgos.algorithms.tbptt import TBPTT
from gradalgos.algorithms.uoro import UORO

__all__ = ["ALGORITHMS", "get", "info", "make", "names"]

#: The algorithm classes, in the order tables and legends list them.
ALGORITHMS: tuple[type[AbstractAlgorithm], ...] = (
    BPTT,
    CheckpointedBPTT,
    TBPTT,
    RTRL,
    Hybrid,
    UORO,
    KFRTRL,
    SnAp,
    RFLO,
    EProp,
    Immediate,
    CRBP,
    ReplayTBPTT,
)


def names(
    *, online: bool | None = None, exact: bool | None = None, cell: str | None = None
) -> tuple[str, ...]:
    """The registered names, optionally only the online (or offline), exact (or not) ones, or
    those that apply to the registered cell ``cell`` (``info.cells`` empty or naming it)."""
    return tuple(
        cls.info.name
        for cls in ALGORITHMS
        if (online is None or cls.info.online == online)
        and (exact is None or cls.info.exact == exact)
        and (cell is None or not cls.info.cells or cell in cls.info.cells)
    )


def get(name: str) -> type[AbstractAlgorithm]:
    """The class registered as ``name`` (``"rtrl"`` → :class:`RTRL`)."""
    if not isinstance(name, str):
        raise TypeError(f"algorithm name must be a str, got {type(name).__name__}")
    for cls in ALGORITHMS:
        if cls.info.name == name.lower():
            return cls
    raise ValueError(f"unknown algorithm {name!r}; expected one of {names()}")


def info(name: str) -> AlgorithmInfo:
    """The metadata of the algorithm registered as ``name``."""
    return get(name).info


def make(name: str, **settings: Any) -> AbstractAlgorithm:
    """An instance of ``name`` from its settings (the dataclass fields, e.g. ``block=8`` for
    the hybrid); settings ``None`` or not fields of the class are ignored, so one dict of
    CLI options serves every algorithm."""
    cls = get(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in settings.items() if k in fields and v is not None})
