"""A rough cost model of a config, so that the progress bar's remaining time is weighted by
work rather than by the number of configs (RTRL at large n costs far more than BPTT)."""

from __future__ import annotations

from gradalgos.bench.config import BenchConfig

__all__ = ["estimated_seconds"]

#: Assumed compile + reference + process overhead per config [s], per-step overhead [s] and
#: sustained FLOP rates [FLOP/s] on a 2-core CPU: GEMM-bound (RTRL, hybrid) and
#: matrix-vector, memory-bound (BPTT-like at small batch). Only relative sizes matter.
OVERHEAD_S = 1.0
STEP_S = 3e-6
FLOPS = 1e10
GEMM_FLOPS = 1e11


def estimated_seconds(config: BenchConfig) -> float:
    """Estimated wall time of measuring ``config`` (compile, warm-up and repeats)."""
    n, B = config.n, config.batch
    P = n * n + 17 * n  # Elman-like, m = o = 8
    alg = config.algorithm
    rate = GEMM_FLOPS
    if alg == "rtrl":
        per_step = 2.0 * n * n * P
    elif alg == "hybrid":
        h = int(config.settings_dict.get("block") or n)
        per_step = 4.0 * n * P + 2.0 * n * n * P / h
    else:
        per_step, rate = 6.0 * P, FLOPS
    calls = config.repeats + 1
    return OVERHEAD_S + calls * config.T * (STEP_S + B * per_step / rate)
