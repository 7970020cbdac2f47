"""A rough cost model of a config, so that the progress bar's remaining time is weighted by
work rather than by the number of configs (RTRL at large n costs far more than BPTT)."""

from __future__ import annotations

from gradalgos.bench.config import BenchConfig

__all__ = ["estimated_seconds"]

#: Assumed compile + reference + process overhead per config [s], per-step overhead [s] and
#: sustained FLOP rate [FLOP/s] (a 2-core CPU; only the relative sizes matter for the bar).
OVERHEAD_S = 1.5
STEP_S = 3e-6
FLOPS = 2e10


def estimated_seconds(config: BenchConfig) -> float:
    """Estimated wall time of measuring ``config`` (compile, warm-up and repeats)."""
    n, B = config.n, config.batch
    P = n * n + 17 * n  # Elman-like, m = o = 8
    alg = config.algorithm
    if alg == "rtrl":
        per_step = 2.0 * n * n * P
    elif alg == "hybrid":
        h = int(config.settings_dict.get("block") or n)
        per_step = 4.0 * n * P + 2.0 * n * n * P / h
    else:
        per_step = 6.0 * P
    calls = config.repeats + 1
    return OVERHEAD_S + calls * config.T * (STEP_S + B * per_step / FLOPS)
