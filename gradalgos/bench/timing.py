"""Compile once, then time repeated calls; XLA's memory and cost accounting of the executable."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax

__all__ = ["attributable_peak", "cost_flops", "device_memory", "memory_bytes", "time_calls"]
__all__ += ["time_compiled"]

#: ``memory_analysis()`` attributes recorded, as ``mem_<name>`` (bytes).
MEMORY_FIELDS = tuple(f"{k}_size_in_bytes" for k in ("temp", "argument", "output", "alias"))
MEMORY_FIELDS += ("generated_code_size_in_bytes", "peak_memory_in_bytes")
#: Fast configs are timed over more calls, up to this much wall time in all [s].
MIN_TOTAL_S = 0.2
MAX_REPEATS = 100


def time_calls(
    call: Callable[[], Any], repeats: int, min_total_s: float = MIN_TOTAL_S
) -> dict[str, Any]:
    """Time ``call()`` (which returns when its work is done): one warm-up call, then at least
    ``repeats`` timed calls (more, up to :data:`MAX_REPEATS`, while their total stays under
    ``min_total_s``: fast calls are noisy). Returns ``times_s``, ``time_median_s``,
    ``time_min_s`` and the last call's ``output``."""
    t0 = time.perf_counter()
    output = call()  # warm-up
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(repeats, min(MAX_REPEATS, int(min_total_s / max(first, 1e-9))))):
        t0 = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - t0)
    median, fastest = statistics.median(times), min(times)
    return {"times_s": times, "time_median_s": median, "time_min_s": fastest, "output": output}


def time_compiled(
    fn: Callable[..., Any],
    args: Sequence[Any],
    repeats: int,
    min_total_s: float = MIN_TOTAL_S,
    *,
    carry_arg: int | None = None,
) -> dict[str, Any]:
    """``jax.jit(fn)`` lowered and compiled once (``compile_s``), then :func:`time_calls`,
    each call ended by ``block_until_ready``; the result also holds the executable
    (``compiled``). ``carry_arg``: the position of an argument that ``fn`` returns updated as
    its first output (an online method's carry): it is donated, and each call is passed the
    previous call's."""
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

    return {"compile_s": compile_s, **time_calls(call, repeats, min_total_s), "compiled": compiled}


def memory_bytes(compiled: Any) -> dict[str, int | None]:
    """XLA's memory accounting of an executable, ``{"mem_temp_size_in_bytes": …}`` (``None``
    for fields this backend does not report)."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # some backends do not implement it
        stats = None
    out: dict[str, int | None] = {}
    for name in MEMORY_FIELDS:
        value = getattr(stats, name, None)
        out[f"mem_{name}"] = None if value is None else int(value)
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


def device_memory() -> tuple[int, int] | None:
    """``(bytes_in_use, peak_bytes_in_use)`` of the default device; ``None`` on a CPU or where
    the backend does not report them."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats() or {}
        return int(stats["bytes_in_use"]), int(stats["peak_bytes_in_use"])
    except Exception:
        return None


def attributable_peak(before: tuple[int, int] | None, after: tuple[int, int] | None) -> int | None:
    """A config's own device peak [bytes] from :func:`device_memory` before and after it: the
    new high-water mark minus what was in use before, where the config raised the mark (it
    cannot be reset: otherwise ``None``; ``--fresh-process`` always knows it)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return after[1] - before[0]
