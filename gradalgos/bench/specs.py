"""Algorithm names used in configs → gradalgos algorithm values, and what XLA's FLOP count means.

The benchmark names algorithms by strings only in its configs and result files; the measured
code always receives an algorithm *value* (``ga.RTRL()``), as every user does.
"""

from __future__ import annotations

from typing import Any

import gradalgos as ga

__all__ = ["ALGORITHMS", "BASELINES", "loop_body_runs", "make_algorithm"]

#: Algorithms of gradalgos measured by the benchmark.
ALGORITHMS: tuple[str, ...] = ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")
#: Baselines a user would pick instead: hand-written ``jax.grad`` over ``lax.scan``; PyTorch.
BASELINES: tuple[str, ...] = ("jax-scan", "torch")


def make_algorithm(name: str, settings: dict[str, Any]) -> ga.AbstractAlgorithm:
    """The gradalgos algorithm for a config name and its settings.

    Arguments:
        name: one of :data:`ALGORITHMS`.
        settings: ``k1``/``k2`` (tbptt), ``segment`` (checkpointed), ``block`` (hybrid; absent
            means h = S).

    Raises:
        ValueError: for an unknown name (baselines are not gradalgos algorithms).
    """
    if name == "bptt":
        return ga.BPTT()
    if name == "checkpointed":
        return ga.CheckpointedBPTT(segment=settings.get("segment"))
    if name == "tbptt":
        return ga.TBPTT(settings["k1"], settings.get("k2"))
    if name == "rtrl":
        return ga.RTRL()
    if name == "hybrid":
        return ga.Hybrid(block=settings.get("block"))
    raise ValueError(f"unknown algorithm {name!r}; expected one of {ALGORITHMS + BASELINES}")


def loop_body_runs(name: str, T: int) -> int | None:
    """How often one call runs the loop body that XLA's ``cost_analysis()`` counts, or ``None``.

    ``cost_analysis()`` counts a loop body once, whatever its trip count. BPTT and the scan
    baseline run their forward and backward bodies (each counted once) T times: their executed
    FLOPs are ``xla_flops · T``. RTRL runs its propagating step T − 1 times (the last step,
    which does not propagate M, is outside the loop and counted once: ``xla_flops · (T − 1)``
    overcounts it by T − 2 cheap steps). Checkpointed and truncated BPTT and the hybrid (whose
    block body holds scans over the block's steps) nest loops, so their count has no simple
    multiple (``None``: no GFLOP/s reported).
    """
    if name in ("bptt", "jax-scan"):
        return T
    if name == "rtrl":
        return max(T - 1, 1)
    return None
