"""The sweeps of a run (which configs are measured) for ``--quick``, the default and ``--full``.

Sweeps (the ``sweep`` field of every row; ``docs/benchmark.md`` says why these sizes):
``n`` (time and memory vs n: BPTT-like at T = 8, RTRL at T = 2, the hybrid with h = S at
T = 2·n), ``T`` (vs sequence length at fixed n), ``tbptt-k`` (TBPTT bias and cost vs k),
``hybrid-h`` (the hybrid vs its block length, h ≤ T/8), ``batch`` (BPTT vs RTRL vs B),
and ``agreement`` (every whole-sequence algorithm × cell, float32 and float64, against the
float64 reference). The approximate online methods' step cost is measured by the alignment study
(``gradalgos.study``), beside their gradients' quality.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gradalgos.algorithms import registry
from gradalgos.bench.baseline_torch import TORCH_CELLS
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.schema import BASELINES

__all__ = ["HYBRID_BLOCKS", "SIZES", "SWEEPS", "SweepOptions", "build_configs"]

#: The hybrid's n sweep runs T = HYBRID_BLOCKS · n steps with h = n (RTRL's: T = T_rtrl = 2).
HYBRID_BLOCKS = 2

SWEEPS = ("n", "T", "tbptt-k", "hybrid-h", "batch", "agreement")


_P2 = tuple(2**i for i in range(16))  # 1 … 32768


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of every sweep; the defaults are the default run's (``docs/benchmark.md``)."""

    n_bptt: tuple[int, ...] = _P2[4:15]  # 16 … 16384
    T_bptt: int = 8
    n_rtrl: tuple[int, ...] = (8, 16, 32, 64, 96, 128, 192, 256, 384, 512)
    T_rtrl: int = 2
    n_hybrid: tuple[int, ...] = (16, 32, 64, 96, 128, 192, 256, 384, 512)
    T_values: tuple[int, ...] = (64, 256, 1024, 2048, 4096, 8192)
    T_n: int = 64
    T_max_rtrl: int = 2048
    k_values: tuple[int, ...] = _P2[:9]  # 1 … 256
    k_n: int = 32
    k_T: int = 256
    h_values: tuple[int, ...] = _P2[:9]
    h_n: int = 64
    h_T: int = 2048
    batch_values: tuple[int, ...] = (1, 4, 16, 64)
    batch_n: int = 32
    batch_T: int = 64
    agreement_cells: tuple[str, ...] = ("elman", "lstm", "gru", "ctrnn", "stack")
    agreement_n: int = 16
    agreement_T: int = 64
    agreement_dtypes: tuple[str, ...] = ("float32", "float64")
    tbptt_k: int = 16
    #: Checkpointed BPTT and TBPTT stop here in the n sweep (None: at max(n_bptt)): n = 16384
    #: costs them ~90 s of the 10-minute budget; BPTT and the scan baseline go on.
    n_max_variants: int | None = 8192


_FULL_CELLS = ("elman", "lstm", "gru", "irnn", "jordan", "indrnn", "second_order", "ctrnn")
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
        n_max_variants=None,
    ),
    "default": Sizes(),
    "full": Sizes(
        n_bptt=(*_P2[4:15], 23170),
        n_rtrl=(*Sizes.n_rtrl, 768, 1024),
        n_hybrid=(*Sizes.n_hybrid, 768, 1024),
        T_values=_P2[6:],
        T_max_rtrl=8192,
        k_values=_P2[:11],
        k_n=64,
        k_T=1024,
        h_values=_P2[:11],
        h_T=4096,
        batch_values=(1, 4, 16, 64, 256),
        batch_n=64,
        agreement_cells=(*_FULL_CELLS, "stack", "function"),
        n_max_variants=None,
    ),
}


#: Extra hidden sizes of the n sweeps on a GPU (not with ``--quick`` or an explicit ``--n``).
GPU_EXTRA_N = {"bptt": (32768,), "rtrl": (768, 1024, 1536), "hybrid": (768, 1024, 1536)}


def _extend(sizes: tuple[int, ...], extra: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted({*sizes, *extra}))


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


def _whole_sequence(name: str) -> bool:
    """Whether the agreement sweep runs the registered ``name`` on every cell: the offline
    and the exact online methods (the approximate ones are biased by design, some refuse
    some cells: the alignment study measures them)."""
    info = registry.info(name)
    return not info.online or info.exact


def build_configs(opts: SweepOptions) -> list[BenchConfig]:
    """Every config of the selected sweeps, in run order (cheap sweeps first)."""
    z = SIZES[opts.mode]
    n_sweeps = ("n_bptt", "n_rtrl", "n_hybrid")
    if opts.n is not None:
        z = dataclasses.replace(z, **dict.fromkeys(n_sweeps, opts.n))
    elif opts.device == "gpu" and opts.mode != "quick":
        extended = {f: _extend(getattr(z, f), GPU_EXTRA_N[f[2:]]) for f in n_sweeps}
        z = dataclasses.replace(z, **extended, n_max_variants=None)
    z = dataclasses.replace(z, T_values=opts.T or z.T_values)
    z = dataclasses.replace(z, batch_values=opts.batch or z.batch_values)
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
        cell_list=cells,
        **settings: Any,
    ) -> None:
        if alg not in algs:
            return
        for cell in cell_list:
            if alg == "torch" and cell not in TORCH_CELLS:
                continue  # torch.nn has no counterpart (the agreement table shows "—")
            s = tuple(sorted(settings.items()))
            common = (dt, opts.device, opts.repeats, s)
            out.append(BenchConfig(sweep, alg, cell, n, T, B, *common, precision=opts.precision))

    k = z.tbptt_k
    if "agreement" in opts.sweeps:
        # Cell by cell, so that the algorithms of one cell share its cached case and reference.
        for dt in (opts.dtype,) if opts.dtype else z.agreement_dtypes:
            for cell in opts.cells or z.agreement_cells:
                for alg in (a for a in algs if a in BASELINES or _whole_sequence(a)):
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
    return out
