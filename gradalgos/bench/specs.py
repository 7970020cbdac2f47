"""Which algorithms the benchmark measures, read from :mod:`gradalgos.algorithms.registry`, and
what XLA's FLOP count means.

The benchmark names algorithms by strings only in its configs and result files; the measured
code always receives an algorithm *value* (``registry.make("rtrl")`` = ``ga.RTRL()``), as
every user does. Adding a method to the registry adds it here: nothing in ``bench/`` or
``plots/`` lists the algorithms by hand.
"""

from __future__ import annotations

from typing import Any

from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.bench.schema import BASELINES

__all__ = [
    "ALGORITHMS",
    "BASELINES",
    "loop_body_runs",
    "make_algorithm",
    "whole_sequence",
]

#: Every algorithm of gradalgos, in registry order (``--algorithms`` chooses among them).
ALGORITHMS: tuple[str, ...] = registry.names()


def make_algorithm(name: str, settings: dict[str, Any]) -> AbstractAlgorithm:
    """The gradalgos algorithm for a config name and its settings (:func:`registry.make`:
    e.g. ``k1``/``k2`` for TBPTT, ``segment`` for checkpointed BPTT, ``block`` for the hybrid,
    absent meaning h = S).

    Raises:
        ValueError: for an unknown name (the baselines are not gradalgos algorithms).
    """
    if name in BASELINES:
        raise ValueError(f"{name!r} is a baseline, not a gradalgos algorithm")
    return registry.make(name, **settings)


def whole_sequence(name: str) -> bool:
    """Whether the whole-sequence sweeps (``agreement`` runs each on every cell) measure the
    registered algorithm ``name``: the offline ones and the exact online ones. The approximate
    online methods are measured one step at a time (sweep ``online-step``): their gradients
    are biased by design, and some refuse some cells."""
    info = registry.info(name)
    return not info.online or info.exact


def loop_body_runs(name: str, T: int) -> int | None:
    """How often one call runs the loop body that XLA's ``cost_analysis()`` counts, or ``None``.

    ``cost_analysis()`` counts a loop body once, whatever its trip count. BPTT and the scan
    baseline run their forward and backward bodies (each counted once) T times: their executed
    FLOPs are ``xla_flops · T``. RTRL runs its propagating step T − 1 times (the last step,
    which does not propagate M, is outside the loop and counted once: ``xla_flops · (T − 1)``
    overcounts it by T − 2 cheap steps). These are facts about how those implementations
    compile; every other algorithm (checkpointed and truncated BPTT and the hybrid nest loops,
    the approximate online methods scan their step offline) gets ``None``: no GFLOP/s reported.
    """
    if name in ("bptt", "jax-scan"):
        return T
    if name == "rtrl":
        return max(T - 1, 1)
    return None
