"""A rough cost model of a config, so that the progress bar's remaining time is weighted by
work rather than by the number of configs (RTRL at large n costs far more than BPTT)."""

from __future__ import annotations

from gradalgos.algorithms import registry
from gradalgos.bench.affinity import cpus_in_use
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.specs import BASELINES

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
#: Wall time that more calls of a fast config fill (``timing.MIN_TOTAL_S``) [s].
TIMED_S = 0.2


def _per_step_flops(config: BenchConfig, n: int, P: int) -> tuple[float, bool]:
    """``(FLOPs per step, GEMM-bound?)`` from the registry's time exponent k (P ≈ n²): k ≤ 2
    costs a few passes over P (memory-bound); above, 2·n^(k−2)·P (RTRL: 2·n²·P); a block
    method carries M once per block of h steps (the hybrid: 4·n·P + 2·n²·P/h)."""
    alg = config.algorithm
    if alg in BASELINES:
        return 6.0 * P, False
    cls = registry.get(alg)
    k = cls.info.time_exponent
    if k <= 2:
        return 6.0 * P, False
    if not getattr(cls, "single_step", True):
        h = int(config.settings_dict.get("block") or n)
        return 4.0 * n * P + 2.0 * n * n * P / h, True
    return 2.0 * n ** (k - 2) * P, True


def estimated_seconds(config: BenchConfig) -> float:
    """Estimated wall time of measuring ``config`` (compile, warm-up and repeats)."""
    n, B = config.n, config.batch
    P = n * n + 17 * n  # Elman-like, m = o = 8
    gpu = config.device == "gpu"
    step_s, flops = (GPU["STEP_S"], GPU["FLOPS"]) if gpu else (STEP_S, FLOPS)
    rate = GPU["GEMM_FLOPS"] if gpu else GEMM_FLOPS
    if config.cpus is not None:  # pinned: that share of the CPUs' rate
        rate *= min(1.0, config.cpus / cpus_in_use())
    per_step, gemm = _per_step_flops(config, n, P)
    if not gemm:
        rate = flops
    calls = config.repeats + 1
    if config.sweep == "online-step":  # one step per call (and BPTT's T steps once per n)
        return OVERHEAD_S + TIMED_S + calls * (step_s + per_step / rate)
    return OVERHEAD_S + calls * config.T * (step_s + B * per_step / rate)
