"""Pinning the worker process to a number of CPUs (Linux ``sched_setaffinity``).

A process started while its parent's thread is pinned inherits the pinning from its first
instruction, so every thread it creates — XLA's thread pool included, which is sized from the
CPUs the process may use — runs on those CPUs only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["PinningError", "cpus_in_use", "pinned"]


class PinningError(RuntimeError):
    """The worker cannot be pinned as asked (no ``sched_setaffinity``, or too few CPUs)."""


def cpus_in_use() -> int:
    """How many CPUs this thread may run on (its affinity; ``os.cpu_count()`` where the
    platform has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def pinned(cpus: int | None) -> Iterator[None]:
    """Inside the block, the calling thread (and any process it starts) may use only the first
    ``cpus`` of the CPUs it may use now; ``None`` changes nothing.

    Raises:
        PinningError: the platform cannot pin (not Linux), or ``cpus`` exceeds the CPUs
            available.
    """
    if cpus is None:
        yield
        return
    if not hasattr(os, "sched_setaffinity"):
        raise PinningError(
            f"cpus={cpus}: pinning the worker to CPUs needs os.sched_setaffinity (Linux)"
        )
    before = os.sched_getaffinity(0)
    if not 1 <= cpus <= len(before):
        raise PinningError(f"cpus={cpus}: expected 1 ≤ cpus ≤ {len(before)}, the CPUs available")
    os.sched_setaffinity(0, sorted(before)[:cpus])
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
