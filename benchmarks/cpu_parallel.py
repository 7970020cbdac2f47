"""One CPU against all of them: RTRL's and the hybrid's time per step vs n, and the speed-up.

The ``n-1cpu`` sweep measures RTRL and the hybrid with the worker pinned to one CPU, beside the
``n`` sweep on every CPU the benchmark may use. Per config, log t_all = log t_one − log
speed-up, and a least-squares slope is linear in the data, so over the same points

    all-CPU exponent = one-CPU exponent − slope of the speed-up.

While a GEMM is too small to keep every core busy, the speed-up rises with n and the all-CPU
exponent sits below the operation count's by that slope; on one core the ramp is absent.

    python benchmarks/cpu_parallel.py --measure reports/results.jsonl [--n 128 256]

appends the ``n-1cpu`` rows (this process, and so the worker it starts, pinned to one CPU:
XLA sizes its thread pool from the CPUs it may use); ``benchmarks/cpu_noise.py`` reports them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradalgos.plots import style, theory
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.results import Row, on_gpu, select, table, within_run_ratios
from gradalgos.plots.scaling import main_cell

__all__ = [
    "ALGORITHMS",
    "ONE_CPU",
    "ParallelFits",
    "figure_parallel",
    "parallel_section",
    "speedups",
]

#: The sweep measured on one CPU, and the algorithms it measures.
ONE_CPU = "n-1cpu"
ALGORITHMS = ("rtrl", "hybrid")


#: Hidden sizes of the one-CPU sweep (about 110 s on a 2-core CPU).
ONE_CPU_N = (128, 192, 256, 512)


def one_cpu_configs(ns: Sequence[int] = ONE_CPU_N) -> list[Any]:
    """RTRL's and the hybrid's configs of the ``n`` sweep at ``ns`` (same T), as sweep
    ``n-1cpu``."""
    from gradalgos.bench import SweepOptions, build_configs

    opts = SweepOptions(sweeps=("n",), algorithms=ALGORITHMS, n=tuple(ns))
    return [dataclasses.replace(c, sweep=ONE_CPU) for c in build_configs(opts)]


@contextlib.contextmanager
def pinned_to_one_cpu() -> Iterator[None]:
    """Inside the block this thread (and any process it starts) runs on its first CPU only."""
    if not hasattr(os, "sched_setaffinity"):
        raise RuntimeError("pinning to one CPU needs os.sched_setaffinity (Linux)")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def measure(results: Path, ns: Sequence[int] = ONE_CPU_N) -> Any:
    """Append the ``n-1cpu`` rows to ``results`` (the worker pinned to one CPU)."""
    from gradalgos.bench.pool import Worker
    from gradalgos.bench.runner import run_configs
    from gradalgos.bench.version import run_metadata

    meta = run_metadata(["(benchmarks/cpu_parallel.py --measure)"])
    with pinned_to_one_cpu(), Worker("cpu") as worker:
        return run_configs(one_cpu_configs(ns), results, meta, worker)


class ParallelFits(NamedTuple):
    """Log-log fits vs n (top two octaves) of one algorithm.

    Attributes:
        one_cpu: time per step on one CPU (sweep ``n-1cpu``).
        all_cpus: time per step on all CPUs (sweep ``n``).
        speedup: the median speed-up of all CPUs over one (:func:`speedups`).
    """

    one_cpu: LogLogFit | None
    all_cpus: LogLogFit | None
    speedup: LogLogFit | None


def speedups(rows: Sequence[Row], alg: str) -> dict[float, list[float]]:
    """``{n: [one-CPU time / all-CPU time, one per run that measured both at n]}``.

    Each ratio divides two times of one run (:func:`~gradalgos.plots.results.run_of`). Pass
    every successful row of the code version, not only the latest, to get one ratio per run.
    """
    pts = [r for r in select(rows, algorithm=alg) if r["sweep"] in ("n", ONE_CPU)]
    return within_run_ratios(main_cell(pts), ONE_CPU, "n", by="sweep")


def _times(rows: Sequence[Row], sweep: str, alg: str) -> tuple[np.ndarray, np.ndarray]:
    return style.series(main_cell(select(rows, sweep=sweep, algorithm=alg)), "n", "time_per_step_s")


def _all_cpus(rows: Sequence[Row]) -> str:
    """How many CPUs the ``n`` sweep's worker ran on (``cpus_used``; older rows: the host's)."""
    counts = {r.get("cpus_used") or r.get("host_cpus") for r in select(rows, sweep="n")}
    counts.discard(None)
    return "/".join(str(c) for c in sorted(counts)) or "?"


def _fit_label(name: str, fit: LogLogFit | None, expected: float | None = None) -> str:
    if fit is None:
        return name
    label = f"{name}: slope {fit.slope:.2f} (n {fit.x_lo:g}–{fit.x_hi:g})"
    return label if expected is None else f"{label}, theory {expected:g}"


def _plot_fit(ax: Any, fit: LogLogFit | None, color: str) -> None:
    if fit is not None:
        grid = np.geomspace(fit.x_lo, fit.x_hi, 20)
        ax.plot(grid, fit(grid), "-", color=color, lw=5, alpha=0.25)


def figure_parallel(
    rows: Sequence[Row], out: Path, every: Sequence[Row]
) -> dict[str, ParallelFits]:
    """``parallel.png``: time per step vs n on one CPU and on all (left), and the speed-up of
    all CPUs over one (right), for RTRL and the hybrid.

    Arguments:
        rows: the last measurement of each config (the fits' points).
        every: every successful row of the code version (the speed-ups, one per run).

    Returns:
        ``{algorithm: ParallelFits}`` for the algorithms the ``n-1cpu`` sweep measured.
    """
    cpus = _all_cpus(rows)
    fig, (left, right) = style.subplots(2, "One CPU vs all CPUs: RTRL and the hybrid", width=6.4)
    fits: dict[str, ParallelFits] = {}
    for alg in ALGORITHMS:
        one_x, one_y = _times(rows, ONE_CPU, alg)
        if not one_x.size:
            continue
        all_x, all_y = _times(rows, "n", alg)
        ratios = speedups(every, alg)
        ns = list(ratios)
        median = [float(np.median(v)) for v in ratios.values()]
        fit = ParallelFits(
            fit_loglog(one_x, one_y), fit_loglog(all_x, all_y), fit_loglog(ns, median)
        )
        fits[alg] = fit
        c, name, expected = style.color(alg), style.NAMES[alg], theory.TIME_VS_N[alg]
        for xs, ys, line, where, one in (
            (all_x, all_y, fit.all_cpus, f"{cpus} CPUs", False),
            (one_x, one_y, fit.one_cpu, "1 CPU", True),
        ):
            _plot_fit(left, line, c)
            left.plot(
                xs,
                ys,
                marker=style.marker(alg),
                color=c,
                lw=1,
                ls="--" if one else "-",
                mfc="none" if one else c,
                label=_fit_label(f"{name}, {where}", line, expected),
            )
        if ns:
            _plot_fit(right, fit.speedup, c)
            right.plot(
                ns, median, marker=style.marker(alg), color=c, label=_fit_label(name, fit.speedup)
            )
    if not fits:
        for ax in (left, right):
            style.no_data(ax, f"sweep {ONE_CPU!r}")
    else:
        if cpus.isdigit():
            right.axhline(int(cpus), color="k", ls=":", lw=1, label=f"{cpus} CPUs, ideal")
        right.axhline(1, color="0.5", lw=0.8)
        for ax in (left, right):
            ax.set_xscale("log", base=2)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("hidden units n")
            ax.legend(fontsize=7, loc="upper left")
        left.set_yscale("log")
        left.set_ylabel("median wall time per step [s]")
        right.set_ylabel(f"speed-up: time on 1 CPU / time on {cpus} [×]")
        style.note(
            right,
            "all-CPU exponent = one-CPU exponent − speed-up slope\n"
            "(median over runs; each ratio within one run)",
        )
    style.save(fig, out / "parallel.png")
    return fits


def parallel_section(fits: dict[str, ParallelFits], every: Sequence[Row]) -> str:
    """The exponents on one CPU and on all, the speed-up's slope, and the speed-up per n."""
    if not fits and on_gpu(every):
        return (
            f"Not applicable: these rows were measured on a GPU; the `{ONE_CPU}` sweep pins "
            "the worker to one CPU core and runs on a CPU only.\n"
        )
    if not fits:
        return (
            f"Not measured: the `{ONE_CPU}` sweep (CPU only), e.g. "
            "`python benchmarks/cpu_parallel.py --measure RESULTS` (CPU only, Linux).\n"
        )

    def slope(fit: LogLogFit | None) -> str | None:
        return None if fit is None else f"{fit.slope:.2f} (n = {fit.x_lo:g}…{fit.x_hi:g})"

    exponents = [
        [
            style.NAMES[alg],
            theory.TIME_VS_N[alg],
            slope(f.one_cpu),
            slope(f.all_cpus),
            slope(f.speedup),
            None if f.one_cpu is None or f.speedup is None else f.one_cpu.slope - f.speedup.slope,
        ]
        for alg, f in fits.items()
    ]
    ratios = {alg: speedups(every, alg) for alg in fits}
    ns = sorted({n for r in ratios.values() for n in r})
    per_n = [
        [int(n), *(float(np.median(ratios[a][n])) if n in ratios[a] else None for a in fits)]
        for n in ns
    ]
    cpus = _all_cpus(every)
    text = (
        f"The `{ONE_CPU}` sweep measures RTRL and the hybrid with the worker pinned to one CPU "
        "(XLA then runs one thread), beside the `n` sweep on all "
        f"{cpus} CPUs. A time exponent on several cores is the one-core exponent minus the "
        "slope of the speed-up, exactly for the same points (least squares is linear), and "
        "nearly so here (the speed-up is the median over runs of ratios within one run). "
        "While a product is too small to keep every core busy, the speed-up grows with n. "
        "The one-CPU exponent still carries the single core's own rate, which rises with n "
        "too (figure *Achieved rate* shows the all-CPU rate), and the page faults' system "
        "time, O(n³) per call (section *Page faults and CPU time*).\n\n"
    )
    headers = [
        "algorithm",
        "theory",
        "exponent, 1 CPU",
        f"exponent, {cpus} CPUs",
        "speed-up slope",
        "1-CPU exponent − speed-up slope",
    ]
    return (
        text
        + table(headers, exponents)
        + "\n"
        + table(["n", *(f"{style.NAMES[a]}: speed-up" for a in fits)], per_n)
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--measure", type=Path, required=True, help="results.jsonl to append to")
    p.add_argument("--n", type=int, nargs="+", default=ONE_CPU_N)
    args = p.parse_args()
    print(measure(args.measure, args.n))
