"""Compile once, then time repeated calls; XLA's memory and cost accounting of the executable."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax

__all__ = [
    "PER_CALL_FIELDS",
    "CpuCounters",
    "Timed",
    "cost_flops",
    "counters_per_call",
    "cpu_counters",
    "memory_bytes",
    "time_calls",
    "time_compiled",
]

#: ``memory_analysis()`` attributes recorded, as ``mem_<name>`` (bytes).
MEMORY_FIELDS: tuple[str, ...] = (
    "temp_size_in_bytes",
    "argument_size_in_bytes",
    "output_size_in_bytes",
    "alias_size_in_bytes",
    "generated_code_size_in_bytes",
    "peak_memory_in_bytes",
)


class Timed(dict):
    """Result of :func:`time_compiled`: ``compile_s``, ``times_s`` (list), ``time_median_s``,
    ``time_min_s``, the process counters per timed call (:func:`counters_per_call`), the
    executable (``compiled``) and the last output (``output``)."""


class CpuCounters(NamedTuple):
    """The process's resource usage so far (``getrusage(RUSAGE_SELF)``, all threads):
    minor page faults, user and system CPU seconds."""

    page_faults: int
    user_s: float
    sys_s: float


#: Fields of :func:`counters_per_call`, in :class:`CpuCounters` order.
PER_CALL_FIELDS = ("page_faults_per_call", "cpu_user_s_per_call", "cpu_sys_s_per_call")


def cpu_counters() -> CpuCounters | None:
    """A :class:`CpuCounters` snapshot, or ``None`` where ``resource`` is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuCounters(int(usage.ru_minflt), float(usage.ru_utime), float(usage.ru_stime))


def counters_per_call(before: CpuCounters | None, calls: int) -> dict[str, float | None]:
    """:data:`PER_CALL_FIELDS` from the snapshot ``before`` (taken just before ``calls``
    calls) to now, divided by ``calls``; ``None`` values where not measurable.

    A minor page fault is the OS mapping a fresh page on its first touch (about 2 µs of system
    time each on a small x86 VM). XLA:CPU allocates each call's scratch memory afresh; when
    the C allocator serves it from new pages (glibc does above its mmap threshold, at most
    32 MiB, unless its heap holds a free block that large), every call pays one fault per
    4 KiB of scratch, in system time.
    """
    after = cpu_counters()
    if before is None or after is None or calls < 1:
        return dict.fromkeys(PER_CALL_FIELDS)
    return {
        name: (b - a) / calls for name, a, b in zip(PER_CALL_FIELDS, before, after, strict=True)
    }


#: Fast configs are timed over more calls, up to this much wall time in all [s].
MIN_TOTAL_S = 0.2
MAX_REPEATS = 100


def time_calls(
    call: Callable[[], Any], repeats: int, min_total_s: float = MIN_TOTAL_S
) -> dict[str, Any]:
    """Time ``call()`` (which must return only when its work is done): one warm-up call, then
    at least ``repeats`` timed calls (more, up to :data:`MAX_REPEATS`, while their total stays
    under ``min_total_s``: fast calls are noisy).

    Returns:
        ``times_s``, ``time_median_s``, ``time_min_s``, the process's page faults and CPU time
        per timed call (:func:`counters_per_call`) and the last call's ``output``.
    """
    t0 = time.perf_counter()
    output = call()  # warm-up
    first = time.perf_counter() - t0
    calls = max(repeats, min(MAX_REPEATS, int(min_total_s / max(first, 1e-9))))
    times = []
    before = cpu_counters()
    for _ in range(calls):
        t0 = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - t0)
    return {
        "times_s": times,
        "time_median_s": statistics.median(times),
        "time_min_s": min(times),
        **counters_per_call(before, calls),
        "output": output,
    }


def time_compiled(
    fn: Callable[..., Any],
    args: Sequence[Any],
    repeats: int,
    min_total_s: float = MIN_TOTAL_S,
    *,
    carry_arg: int | None = None,
) -> Timed:
    """``jax.jit(fn)``: lower and compile once (timed apart), then :func:`time_calls`, each
    call ended by ``block_until_ready``.

    Arguments:
        fn: a function of ``args`` returning arrays.
        args: its arguments (arrays on the target device).
        repeats: minimum number of timed calls (≥ 1).
        min_total_s: time budget that more calls of a fast function may fill.
        carry_arg: the position of an argument that ``fn`` returns updated as its first
            output (an online method's carry): it is donated, and each call is passed the
            previous call's (the donated one is invalid after the call).

    Returns:
        A :class:`Timed` with median and minimum wall time over the repeats, and the
        process's page faults and CPU time per timed call (:func:`cpu_counters`).
    """
    t0 = time.perf_counter()
    donate = () if carry_arg is None else (carry_arg,)
    compiled = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    current = list(args)

    def call() -> Any:
        out = jax.block_until_ready(compiled(*current))
        if carry_arg is not None:
            current[carry_arg] = out[0]
        return out

    timed = time_calls(call, repeats, min_total_s)
    return Timed(compile_s=compile_s, **timed, compiled=compiled)


def memory_bytes(compiled: Any) -> dict[str, int | None]:
    """XLA's memory accounting of a compiled executable, ``{"mem_temp_size_in_bytes": …}``
    (``None`` for fields this backend or version does not report)."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # some backends do not implement it
        stats = None
    out: dict[str, int | None] = {}
    for name in MEMORY_FIELDS:
        value = getattr(stats, name, None)
        out[f"mem_{name}"] = int(value) if value is not None else None
    return out


def cost_flops(compiled: Any) -> float | None:
    """``flops`` from XLA's ``cost_analysis()`` (a loop body counted once), or ``None``."""
    try:
        cost = compiled.cost_analysis()
    except Exception:
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops is not None and flops >= 0 else None
