"""A rough cost model of a config, so that the progress bar's remaining time is weighted by
work rather than by the number of configs (RTRL at large n costs far more than BPTT)."""

from __future__ import annotations

from gradalgos.bench.affinity import cpus_in_use
from gradalgos.bench.config import BenchConfig

__all__ = ["estimated_seconds"]

#: Assumed compile + reference + process overhead per config [s], per-step overhead [s] and
#: sustained FLOP rates [FLOP/s] on a 2-core CPU: GEMM-bound (RTRL, hybrid) and
#: matrix-vector, memory-bound (BPTT-like at small batch). Only relative sizes matter.
OVERHEAD_S = 1.0
STEP_S = 3e-6
FLOPS = 1e10
GEMM_FLOPS = 1e11
#: The same on a GPU (H100 class: float32 GEMMs, memory-bound products, loop overhead).
GPU = {"STEP_S": 2e-5, "FLOPS": 5e11, "GEMM_FLOPS": 3e13}


def estimated_seconds(config: BenchConfig) -> float:
    """Estimated wall time of measuring ``config`` (compile, warm-up and repeats)."""
    n, B = config.n, config.batch
    P = n * n + 17 * n  # Elman-like, m = o = 8
    alg = config.algorithm
    gpu = config.device == "gpu"
    step_s, flops = (GPU["STEP_S"], GPU["FLOPS"]) if gpu else (STEP_S, FLOPS)
    rate = GPU["GEMM_FLOPS"] if gpu else GEMM_FLOPS
    if config.cpus is not None:  # pinned: that share of the CPUs' rate
        rate *= min(1.0, config.cpus / cpus_in_use())
    if alg == "rtrl":
        per_step = 2.0 * n * n * P
    elif alg == "hybrid":
        h = int(config.settings_dict.get("block") or n)
        per_step = 4.0 * n * P + 2.0 * n * n * P / h
    else:
        per_step, rate = 6.0 * P, flops
    calls = config.repeats + 1
    return OVERHEAD_S + calls * config.T * (step_s + B * per_step / rate)
