"""The sweeps of a run (which configs are measured) for ``--quick``, the default and ``--full``.

Sweeps (the ``sweep`` field of every row):

- ``n``: time and memory vs hidden size n. BPTT-like algorithms (O(n²) per step) at T fixed;
  RTRL (O(n⁴)) at a small T; the hybrid with h = S at T = 2·n (:data:`HYBRID_BLOCKS` blocks).
  BPTT-like algorithms at batch 1 are matrix-vector products, bound by memory traffic, not
  FLOPs: on a CPU their time per step has three regimes — W_rec in cache with efficiency
  still rising with n (local slope < 2), the cache-to-DRAM transition (> 2; W_rec and its
  gradient leave a 32 MiB L3 at n ≈ 2048), and DRAM-bound (→ 2) — so the default sweep runs
  to n = 16384 (at a short T = 8; TBPTT with k = T/4), putting the fitted top two octaves in
  the last regime; checkpointed BPTT and TBPTT stop at 8192 there (budget), so their fits
  span the transition.
  RTRL and the hybrid are GEMM-bound; their sweeps run to n = 512 (``--full``: 1024), where
  the GEMMs reach most of the CPU's peak (the fitted exponent is low while their efficiency
  still rises). The hybrid at n = 1024 needs about 13 GB of XLA temp memory (4·S·P bytes ×
  3.0, 12.1 GiB) and a minute per call on a 2-core CPU.
  RTRL runs at T = 2 and the hybrid at T = 2·S: in both, 1 of every 2 steps (blocks) propagates
  M — the last step or block of a sequence does not, it has no later step to serve — so their
  times per step compare. The propagating step sets the exponent either way; T = 4 and 4·S
  (3 of 4 propagate, measured until 2026-11) cost 3× as much per call and pushed the default
  run past 10 minutes on a slower 2-core CPU.
  On a GPU (``--device gpu``) every kernel is cheap below these sizes and the time per step
  is set by launch and loop overheads, so the n sweeps go further (:data:`GPU_EXTRA_N`: BPTT-like
  to 32768, RTRL and the hybrid to 1536, which fit an 80 GB card; a smaller card records the
  largest as failed, out of memory).
- ``n-1cpu``: RTRL's and the hybrid's n sweeps again (same T), with the worker pinned to one
  CPU (CPU only; Linux). On several cores a small GEMM does not keep them all busy: the
  speed-up over one core rises with n towards the core count, and the all-core time exponent
  falls below the one-core exponent by exactly the slope of that speed-up (the same points,
  least squares being linear). One core shows the exponent without that part (the core's
  own rate, still rising with n, and the page faults' system time remain in it).
  Measured last, so that the worker restarts once to pin and not again.
- ``T``: memory and time vs sequence length at fixed n.
- ``tbptt-k``: TBPTT(k, k) bias and cost vs k.
- ``hybrid-h``: hybrid cost and memory vs block length h (h ≤ T/8).
- ``batch``: BPTT vs RTRL cost vs batch size.
- ``agreement``: every algorithm of the whole-sequence sweeps (``specs.whole_sequence``: the
  offline and the exact online ones) × cell, float32 and float64, against the float64
  reference (the torch baseline only on the cells torch.nn has: elman, lstm, gru).
- ``online-step``: the cost of ONE online step of every online method of the registry
  (:func:`gradalgos.algorithms.registry.names` with ``online=True``; settings
  :data:`ONLINE_SETTINGS`, a fixed key where one is needed) on Elman, B = 1: its pure
  ``update`` jitted with the carry donated (time, XLA FLOPs and memory of that one step, and
  the carry's bytes), beside BPTT's cost per step on the same cell (T = ``online_T``) measured
  in the same worker; plus RTRL on IndRNN and LRU (:data:`ELEMENTWISE_CELLS`), where it takes
  its exact O(P) element-wise path. Methods whose carry is O(n³) (the registry's
  ``memory_exponent`` ≥ 3: dense RTRL, the hybrid; their n sweep above measures them) stop at
  ``online_n_max_cubic``. Measured after the n sweep, so that it changes nothing of the
  allocator history the earlier sweeps' timings depend on, and before ``n-1cpu``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gradalgos.algorithms import registry
from gradalgos.bench.baseline_torch import TORCH_CELLS
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.specs import BASELINES, whole_sequence

__all__ = [
    "ELEMENTWISE_CELLS",
    "GPU_EXTRA_N",
    "HYBRID_BLOCKS",
    "ONLINE_SETTINGS",
    "SIZES",
    "SWEEPS",
    "Sizes",
    "SweepOptions",
    "build_configs",
]

#: The hybrid's n sweep runs T = HYBRID_BLOCKS · n steps with h = n (RTRL's: T = T_rtrl = 2).
HYBRID_BLOCKS = 2

SWEEPS: tuple[str, ...] = (
    "n",
    "n-1cpu",
    "T",
    "tbptt-k",
    "hybrid-h",
    "batch",
    "agreement",
    "online-step",
)

#: Settings of the online-step sweep where a method's defaults do not run on Elman (RFLO takes
#: the cell's own leak by default, and Elman has none); other methods run with their defaults.
#: Listed in full, so that the rows say what was measured.
ONLINE_SETTINGS: dict[str, dict[str, Any]] = {"rflo": {"leak": 0.5, "feedback": "random"}}
#: Cells with a diagonal state Jacobian on which the online-step sweep times RTRL's exact
#: element-wise path, O(P) per step (two of ``gradalgos.plots.theory.ELEMENTWISE_CELLS``).
ELEMENTWISE_CELLS: tuple[str, ...] = ("indrnn", "lru")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of every sweep (see the module docstring)."""

    n_bptt: tuple[int, ...]
    T_bptt: int
    n_rtrl: tuple[int, ...]
    T_rtrl: int
    n_hybrid: tuple[int, ...]
    T_values: tuple[int, ...]
    T_n: int
    T_max_rtrl: int
    k_values: tuple[int, ...]
    k_n: int
    k_T: int
    h_values: tuple[int, ...]
    h_n: int
    h_T: int
    batch_values: tuple[int, ...]
    batch_n: int
    batch_T: int
    agreement_cells: tuple[str, ...]
    agreement_n: int
    agreement_T: int
    agreement_dtypes: tuple[str, ...] = ("float32", "float64")
    tbptt_k: int = 16
    #: Checkpointed BPTT and TBPTT stop here in the n sweep (None: at max(n_bptt)); BPTT and
    #: the jax.grad(scan) baseline, which carry the time-exponent criterion, go on.
    n_max_variants: int | None = None
    #: Hidden sizes of the one-CPU sweep (RTRL and the hybrid).
    n_one_cpu: tuple[int, ...] = ()
    #: Hidden sizes of the online-step sweep, BPTT's T there, and the largest n of the methods
    #: whose carry is O(n³).
    n_online: tuple[int, ...] = ()
    online_T: int = 64
    online_n_max_cubic: int = 128


_P2 = tuple(2**i for i in range(13))  # 1 … 4096

SIZES: dict[str, Sizes] = {
    "quick": Sizes(
        n_bptt=(8, 32),
        T_bptt=16,
        n_rtrl=(8, 16),
        T_rtrl=8,
        n_hybrid=(8, 16),
        T_values=(16, 256),
        T_n=8,
        T_max_rtrl=256,
        k_values=(1, 16),
        k_n=8,
        k_T=16,
        h_values=(1, 8),
        h_n=8,
        h_T=32,
        batch_values=(1, 4),
        batch_n=8,
        batch_T=16,
        agreement_cells=("elman",),
        agreement_n=8,
        agreement_T=16,
        agreement_dtypes=("float64",),
        tbptt_k=4,
        n_one_cpu=(8,),
        n_online=(8, 16),
        online_T=16,
    ),
    "default": Sizes(
        n_bptt=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384),
        T_bptt=8,
        n_rtrl=(8, 16, 32, 64, 96, 128, 192, 256, 384, 512),
        T_rtrl=2,
        n_hybrid=(16, 32, 64, 96, 128, 192, 256, 384, 512),
        T_values=(64, 256, 1024, 2048, 4096, 8192),
        T_n=64,
        T_max_rtrl=2048,
        k_values=tuple(k for k in _P2 if k <= 256),
        k_n=32,
        k_T=256,
        h_values=tuple(h for h in _P2 if h <= 256),
        h_n=64,
        h_T=2048,
        batch_values=(1, 4, 16, 64),
        batch_n=32,
        batch_T=64,
        agreement_cells=("elman", "lstm", "gru", "ctrnn", "stack"),
        agreement_n=16,
        agreement_T=64,
        n_max_variants=8192,  # n = 16384 costs them ~90 s of the 10-minute budget
        n_one_cpu=(128, 192, 256, 512),  # ~110 s on a 2-core CPU
        n_online=(32, 64, 128, 256),
    ),
    "full": Sizes(
        n_bptt=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 23170),
        T_bptt=8,
        n_rtrl=(8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024),
        T_rtrl=2,
        n_hybrid=(16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024),
        T_values=(*tuple(t for t in _P2 if t >= 64), 8192, 16384, 32768),
        T_n=64,
        T_max_rtrl=8192,
        k_values=tuple(k for k in _P2 if k <= 1024),
        k_n=64,
        k_T=1024,
        h_values=tuple(h for h in _P2 if h <= 1024),
        h_n=64,
        h_T=4096,
        batch_values=(1, 4, 16, 64, 256),
        batch_n=64,
        batch_T=64,
        agreement_cells=(
            "elman",
            "lstm",
            "gru",
            "irnn",
            "jordan",
            "indrnn",
            "second_order",
            "ctrnn",
            "stack",
            "function",
        ),
        agreement_n=16,
        agreement_T=64,
        n_one_cpu=(64, 96, 128, 192, 256, 384, 512, 768),
        n_online=(16, 32, 64, 128, 256, 512),
        online_n_max_cubic=256,
    ),
}


#: Extra hidden sizes of the n sweeps on a GPU (not with ``--quick`` or an explicit ``--n``).
GPU_EXTRA_N: dict[str, tuple[int, ...]] = {
    "bptt": (32768,),
    "rtrl": (768, 1024, 1536),
    "hybrid": (768, 1024, 1536),
}


def _extend(sizes: tuple[int, ...], extra: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(sizes) | set(extra)))


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """What the command line selects (``None``: the mode's default)."""

    mode: str = "default"
    sweeps: tuple[str, ...] = SWEEPS
    #: ``None``: every algorithm of the registry (as it is when the configs are built) and
    #: the jax-scan baseline.
    algorithms: tuple[str, ...] | None = None
    cells: tuple[str, ...] | None = None
    n: tuple[int, ...] | None = None
    T: tuple[int, ...] | None = None
    batch: tuple[int, ...] | None = None
    dtype: str | None = None
    device: str = "cpu"
    repeats: int = 5
    precision: str = "highest"


def build_configs(opts: SweepOptions) -> list[BenchConfig]:
    """Every config of the selected sweeps, in run order (cheap sweeps first)."""
    z = SIZES[opts.mode]
    if opts.n is not None:
        z = dataclasses.replace(
            z,
            n_bptt=opts.n,
            n_rtrl=opts.n,
            n_hybrid=opts.n,
            n_one_cpu=opts.n,
            n_online=opts.n,
            online_n_max_cubic=max(opts.n),
        )
    elif opts.device == "gpu" and opts.mode != "quick":
        z = dataclasses.replace(
            z,
            n_bptt=_extend(z.n_bptt, GPU_EXTRA_N["bptt"]),
            n_rtrl=_extend(z.n_rtrl, GPU_EXTRA_N["rtrl"]),
            n_hybrid=_extend(z.n_hybrid, GPU_EXTRA_N["hybrid"]),
            n_max_variants=None,
        )
    if opts.T is not None:
        z = dataclasses.replace(z, T_values=opts.T)
    if opts.batch is not None:
        z = dataclasses.replace(z, batch_values=opts.batch)
    cells = opts.cells or ("elman",)
    dtype = opts.dtype or "float32"
    algs = (*registry.names(), "jax-scan") if opts.algorithms is None else opts.algorithms
    out: list[BenchConfig] = []

    def add(
        sweep: str,
        alg: str,
        n: int,
        T: int,
        B: int = 1,
        dt: str = dtype,
        cell_list: Sequence[str] = cells,
        cpus: int | None = None,
        **settings: Any,
    ) -> None:
        if alg not in algs:
            return
        for cell in cell_list:
            if alg == "torch" and cell not in TORCH_CELLS:
                continue  # torch.nn has no counterpart (the agreement table shows "—")
            s = tuple(sorted(settings.items()))
            out.append(
                BenchConfig(
                    sweep,
                    alg,
                    cell,
                    n,
                    T,
                    B,
                    dt,
                    opts.device,
                    opts.repeats,
                    s,
                    precision=opts.precision,
                    cpus=cpus,
                )
            )

    k = z.tbptt_k
    if "agreement" in opts.sweeps:
        # Cell by cell, so that the algorithms of one cell share its cached case and reference.
        for dt in (opts.dtype,) if opts.dtype else z.agreement_dtypes:
            for cell in opts.cells or z.agreement_cells:
                for alg in (a for a in algs if a in BASELINES or whole_sequence(a)):
                    settings = {"k1": k} if alg == "tbptt" else {}
                    add("agreement", alg, z.agreement_n, z.agreement_T, 2, dt, (cell,), **settings)
    if "tbptt-k" in opts.sweeps:
        for kk in z.k_values:
            if kk <= z.k_T:
                add("tbptt-k", "tbptt", z.k_n, z.k_T, k1=kk)
    if "hybrid-h" in opts.sweeps:
        for h in z.h_values:
            # The last block of a sequence does not propagate M: h ≤ T/8 keeps that skipped
            # work under 1/8 of the steps, so it does not flatter large h.
            if 8 * h <= z.h_T:
                add("hybrid-h", "hybrid", z.h_n, z.h_T, block=h)
    if "batch" in opts.sweeps:
        for B in z.batch_values:
            add("batch", "bptt", z.batch_n, z.batch_T, B)
            add("batch", "rtrl", z.batch_n, z.batch_T, B)
    if "T" in opts.sweeps:
        for T in z.T_values:
            for alg in ("bptt", "checkpointed"):
                add("T", alg, z.T_n, T)
            add("T", "tbptt", z.T_n, T, k1=min(k, T))
            if z.T_max_rtrl >= T:
                add("T", "rtrl", z.T_n, T)
            if 4 * z.T_n <= T:
                add("T", "hybrid", z.T_n, T)
    if "n" in opts.sweeps:
        for n in z.n_bptt:
            for alg in ("bptt", "jax-scan", "torch"):
                add("n", alg, n, z.T_bptt)
            if z.n_max_variants is None or n <= z.n_max_variants:
                add("n", "checkpointed", n, z.T_bptt)
                add("n", "tbptt", n, z.T_bptt, k1=max(1, z.T_bptt // 4))
        for n in z.n_rtrl:
            add("n", "rtrl", n, z.T_rtrl)
        for n in z.n_hybrid:
            add("n", "hybrid", n, HYBRID_BLOCKS * n)
    if "online-step" in opts.sweeps:
        _online_step(z, cells, add)
    if "n-1cpu" in opts.sweeps and opts.device == "cpu":
        for n in z.n_one_cpu:
            add("n-1cpu", "rtrl", n, z.T_rtrl, cpus=1)
            add("n-1cpu", "hybrid", n, HYBRID_BLOCKS * n, cpus=1)
    return out


def _online_step(z: Sizes, cells: Sequence[str], add: Any) -> None:
    """The online-step sweep's configs, one (cell, n) point after another (the worker measures
    BPTT's step once per point): every online method of the registry on ``cells``, then RTRL on
    :data:`ELEMENTWISE_CELLS`."""
    for cell in cells:
        for n in z.n_online:
            for alg in registry.names(online=True, cell=cell):
                cubic = (registry.info(alg).memory_exponent or 0) >= 3
                if not cubic or n <= z.online_n_max_cubic:
                    settings = ONLINE_SETTINGS.get(alg, {})
                    add("online-step", alg, n, z.online_T, 1, cell_list=(cell,), **settings)
    for cell in ELEMENTWISE_CELLS:
        for n in z.n_online:
            add("online-step", "rtrl", n, z.online_T, 1, cell_list=(cell,))
