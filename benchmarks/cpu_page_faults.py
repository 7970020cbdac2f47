"""Where a CPU call's time goes: the OS faulting in fresh scratch pages (system time) beside the
arithmetic (user time), for BPTT, RTRL and the hybrid over their time-vs-n fit ranges.

XLA:CPU allocates each call's scratch memory (``temp_size_in_bytes``) and its outputs afresh.
glibc serves a block from pages the process already holds when its heap has a free block that
large, and otherwise, above its mmap threshold (at most 32 MiB), from new mappings: every call
then pays one minor page fault per 4 KiB (the OS zeroes the page on first touch), counted as
system time. For RTRL and the hybrid that is O(S·P) = O(n³) per call against their O(n⁴)
arithmetic per propagating step or block: a lower-order term, but one that still weighs at
the bottom of the fit range on a small CPU and pulls the wall-time exponent below the
operation count. For BPTT at the n sweep's short fixed T, scratch and arithmetic are both
O(n²) per call, so the faults should add a constant share; a share that grows with n means
each fault got dearer (the OS reclaiming memory near the machine's limit). The bench records
the worker's minor faults and user and system CPU time per timed call (``getrusage``, all
threads); this module shows them and fits each CPU time apart, with the same fit rule as the
wall time. The bench no longer records these counters (rows from code version
``81c4dc584952`` and earlier carry them); :func:`cpu_counters` and :func:`counters_per_call`
measure them around any timed calls (``benchmarks/online_step.py`` uses them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from gradalgos.plots import style, theory
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.results import Row, fmt, select, table
from gradalgos.plots.scaling import main_cell
from gradalgos.plots.style import NAMES, series

__all__ = [
    "PAGE_FAULT_ALGORITHMS",
    "PER_CALL_FIELDS",
    "CpuCounters",
    "counters_per_call",
    "cpu_counters",
    "cpu_time_fits",
    "figure_page_faults",
    "page_fault_section",
]


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
    calls) to now, divided by ``calls``; ``None`` values where not measurable."""
    after = cpu_counters()
    if before is None or after is None or calls < 1:
        return dict.fromkeys(PER_CALL_FIELDS)
    return {
        name: (b - a) / calls for name, a, b in zip(PER_CALL_FIELDS, before, after, strict=True)
    }


#: The algorithms shown: BPTT (the O(n²) reference) and the two with O(n³) scratch.
PAGE_FAULT_ALGORITHMS = ("bptt", "rtrl", "hybrid")

#: What the section says of rows measured on a GPU.
ON_GPU = (
    "Not applicable: these rows were measured on a GPU, where XLA's scratch memory is device "
    "memory (no host page faults) and the host's CPU time per call is the launch and loop "
    "overhead of the device's kernels.\n"
)


def _cpu_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows not measured on a GPU (rows without a ``device`` value predate GPU runs)."""
    return [r for r in rows if r.get("device") != "gpu"]


#: Time per step, and user / system CPU time per step, as the fits below read them.
_WALL, _USER, _SYS = "time_per_step_s", "cpu_user_per_step_s", "cpu_sys_per_step_s"

#: Exponents vs n of the scratch memory per step (BPTT at fixed T: O(n²) per call; RTRL: S·P
#: per propagating step; hybrid with h = S: S·P + h·S² per block of h steps, so n² per step);
#: the operation count's is the registry's (:data:`~gradalgos.plots.theory.TIME_VS_N`).
_SCRATCH_PER_STEP = {"bptt": 2, "rtrl": 3, "hybrid": 2}

_PAGE = 4096


def _per_step(rows: Sequence[Row]) -> list[Row]:
    """Rows with the CPU times per call divided by T (absent where not recorded)."""
    out = []
    for r in rows:
        r = dict(r)
        for per_call, per_step in (("cpu_user_s_per_call", _USER), ("cpu_sys_s_per_call", _SYS)):
            if r.get(per_call) is not None and r.get("T"):
                r[per_step] = r[per_call] / r["T"]
        out.append(r)
    return out


def _sweep(rows: Sequence[Row], alg: str) -> list[Row]:
    return _per_step(main_cell(select(rows, sweep="n", algorithm=alg)))


def cpu_time_fits(rows: Sequence[Row]) -> dict[str, dict[str, LogLogFit | None]]:
    """Per algorithm of :data:`PAGE_FAULT_ALGORITHMS` with recorded counters: the log-log fits
    vs n of wall time, user CPU time and system CPU time per step (``"wall"``, ``"user"``,
    ``"sys"``), each by :func:`~gradalgos.plots.fit.fit_loglog`'s rule."""
    fits = {}
    for alg in PAGE_FAULT_ALGORITHMS:
        sweep = _sweep(rows, alg)
        if not any(r.get(_USER) is not None for r in sweep):
            continue
        fits[alg] = {
            name: fit_loglog(*series(sweep, "n", y))
            for name, y in (("wall", _WALL), ("user", _USER), ("sys", _SYS))
        }
    return fits


def _shares_of(row: Row) -> tuple[float | None, float | None]:
    """``(system share of CPU time, faults × 4 KiB / temp bytes)`` of one row, ``None`` where a
    field is missing."""
    user, sys_ = row.get("cpu_user_s_per_call"), row.get("cpu_sys_s_per_call")
    faults, temp = row.get("page_faults_per_call"), row.get("mem_temp_size_in_bytes")
    share = (
        sys_ / (user + sys_) if user is not None and sys_ is not None and user + sys_ > 0 else None
    )
    ratio = faults * _PAGE / temp if faults is not None and temp else None
    return share, ratio


def _fault_rows(rows: Sequence[Row], fits: dict[str, dict[str, LogLogFit | None]]) -> list:
    out = []
    for alg, alg_fits in fits.items():
        wall = alg_fits["wall"]
        for r in sorted(_sweep(rows, alg), key=lambda r: r["n"]):
            if wall is None or not wall.x_lo <= r["n"] <= wall.x_hi:
                continue
            temp, faults = r.get("mem_temp_size_in_bytes"), r.get("page_faults_per_call")
            share, ratio = _shares_of(r)
            out.append(
                (
                    NAMES.get(alg, alg),
                    r["n"],
                    temp / 2**20 if temp is not None else None,
                    round(faults) if faults is not None else None,
                    ratio,
                    r.get("cpu_user_s_per_call"),
                    r.get("cpu_sys_s_per_call"),
                    share,
                    r.get("time_median_s"),
                )
            )
    return out


def _span(fit: LogLogFit) -> str:
    return f"n = {fit.x_lo:g}…{fit.x_hi:g}"


def _slope(fit: LogLogFit | None, wall: LogLogFit | None) -> str:
    """Slope ± s.e., with its own range where it differs from the wall time's (a point
    without system time, i.e. without faults, drops out of that fit)."""
    if fit is None:
        return "—"
    text = f"{fit.slope:.2f} ± {fmt(fit.slope_se, 2)}"
    if wall is not None and (fit.x_lo, fit.x_hi) != (wall.x_lo, wall.x_hi):
        text += f" ({_span(fit)})"
    return text


def _exponent_rows(fits: dict[str, dict[str, LogLogFit | None]]) -> list:
    out = []
    for alg, f in fits.items():
        wall = f["wall"]
        ops, scratch = theory.TIME_VS_N[alg], _SCRATCH_PER_STEP[alg]
        out.append(
            (
                NAMES.get(alg, alg),
                ops,
                _slope(wall, wall),
                _slope(f["user"], wall),
                scratch,
                _slope(f["sys"], wall),
                "—" if wall is None else _span(wall),
            )
        )
    return out


def page_fault_section(rows: Sequence[Row]) -> str:
    """The report section: faults and CPU times per call over each fit range, and the
    exponents of wall, user and system time per step. Rows measured before the counters were
    recorded give a one-line note instead."""
    cpu = _cpu_rows(rows)
    if rows and not cpu:
        return ON_GPU
    rows = cpu
    fits = cpu_time_fits(rows)
    if not fits:
        return (
            "Not recorded: the rows of this code version predate the page-fault and CPU-time "
            "counters (`page_faults_per_call`, `cpu_user_s_per_call`, `cpu_sys_s_per_call`).\n"
        )
    faults = table(
        (
            "algorithm",
            "n",
            "XLA temp [MiB]",
            "minor faults / call",
            "faults × 4 KiB / temp",
            "user CPU [s/call]",
            "system CPU [s/call]",
            "system share of CPU",
            "wall median [s/call]",
        ),
        _fault_rows(rows, fits),
    )
    exponents = table(
        (
            "algorithm",
            "operations (theory)",
            "wall time / step",
            "user CPU / step",
            "scratch per step (theory)",
            "system CPU / step",
            "fit range",
        ),
        _exponent_rows(fits),
    )
    return (
        "XLA:CPU allocates each call's scratch memory (`temp_size_in_bytes`) and outputs "
        "afresh. glibc hands back pages the process already holds when its heap has a free "
        "block that large; otherwise, above its mmap threshold (at most 32 MiB), it maps new "
        "pages, which the OS faults in and zeroes 4 KiB at a time on first touch, in system "
        "time. *faults × 4 KiB / temp* near 1 means every call faulted its whole scratch in "
        "(above 1: its outputs too, such as BPTT's n² gradient); near 0, the allocator reused "
        "pages (which of the two happens near 32 MiB depends on what the process allocated "
        "before). CPU times are the worker process's (`getrusage`, all threads, spin-waits "
        "included), per timed call.\n\n"
        + faults
        + "\nExponents vs n of time per step, fitted apart with the same rule. For RTRL and the "
        "hybrid the faults cost O(scratch) per call, one power of n less than the operations; "
        "for BPTT at the sweep's fixed T both are O(n²). The user-CPU exponent is the one to "
        "set beside the operation count, and the system-CPU one beside the scratch memory "
        "(where the fault ratio changes inside the range, as across 32 MiB, the system-CPU "
        "slope mixes the two regimes; where it is constant and the system-CPU slope still "
        "exceeds the scratch's, each fault got dearer, as when the OS reclaims memory near "
        "the machine's limit). Neither replaces the wall-time criteria above; they show where "
        "their gaps to the theory come from.\n\n" + exponents
    )


def _shares(rows: Sequence[Row], alg: str) -> tuple[list, list, list]:
    """``(n, system share of CPU time, faults × 4 KiB / temp)`` of ``alg``'s n sweep, for the
    rows that have both."""
    pts = [(r["n"], *_shares_of(r)) for r in sorted(_sweep(rows, alg), key=lambda r: r["n"])]
    pts = [p for p in pts if None not in p]
    return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]


def figure_page_faults(rows: Sequence[Row], out: Path) -> Path:
    """``page_faults.png``: the system (kernel) share of CPU time and the faulted share of the
    scratch per call vs n, for :data:`PAGE_FAULT_ALGORITHMS` (n sweep, main cell)."""
    fig, (share_ax, ratio_ax) = style.subplots(
        2, "Page faults on fresh scratch memory vs n (CPU)", width=6.4
    )
    cpu = _cpu_rows(rows)
    drawn, on_gpu = False, bool(rows) and not cpu
    for alg in PAGE_FAULT_ALGORITHMS:
        ns, shares, ratios = _shares(cpu, alg)
        if not ns:
            continue
        drawn = True
        kw = {"marker": style.marker(alg), "color": style.color(alg), "label": NAMES[alg]}
        share_ax.plot(ns, shares, **kw)
        ratio_ax.plot(ns, ratios, **kw)
    for ax in (share_ax, ratio_ax):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden units n")
        ax.grid(True, which="both", alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        else:
            style.no_data(ax, "measured on a GPU" if on_gpu else "page-fault counters in sweep 'n'")
    share_ax.set_ylabel("system CPU time / (user + system) per call")
    share_ax.set_ylim(0, 1)
    ratio_ax.set_ylabel("minor faults × 4 KiB / XLA temp bytes, per call")
    ratio_ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    return style.save(fig, out / "page_faults.png")
