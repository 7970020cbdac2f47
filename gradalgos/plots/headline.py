"""The report's first screen: one table at reference sizes, findings, and the run's summary.

Every number comes from the rows; names and the exact/online split from the registry, so a new
method appears without edits here.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from gradalgos.algorithms import registry
from gradalgos.plots import theory
from gradalgos.plots.results import BASELINES, Row, fmt, select, table
from gradalgos.plots.scaling import ScalingFits
from gradalgos.plots.style import label

__all__ = ["findings", "headline_table", "reference_n", "summary_lines", "worst_errors"]

#: Sweep of the approximate methods' per-step numbers (one step of ``update``, T = 64).
ONLINE_STEP = "online-step"


def _main(rows: Sequence[Row], sweep: str) -> list[Row]:
    """The rows of ``sweep`` on Elman, float32, B = 1."""
    pts = select(rows, sweep=sweep, cell="elman", dtype="float32")
    return [r for r in pts if r.get("batch") in (None, 1)]


def reference_n(rows: Sequence[Row], sweep: str, algorithms: Sequence[str]) -> int | None:
    """The largest n at which every algorithm of ``algorithms`` measured in ``sweep`` has a row
    (elman, float32), or ``None``."""
    pts = _main(rows, sweep)
    sets = [{r["n"] for r in pts if r["algorithm"] == a} for a in algorithms]
    sets = [s for s in sets if s]
    common = set.intersection(*sets) if sets else set()
    return max(common) if common else None


def _at(rows: Sequence[Row], sweep: str, alg: str, n: int | None) -> Row | None:
    """The row of ``alg`` at ``n``, else at the largest n below it (the table says which)."""
    pts = [r for r in _main(rows, sweep) if r["algorithm"] == alg and n and r["n"] <= n]
    top = max((r["n"] for r in pts), default=None)
    return [r for r in pts if r["n"] == top][-1] if pts else None


def worst_errors(rows: Sequence[Row], algorithms: Sequence[str]) -> dict[str, float]:
    """``{dtype: worst relative error vs float64 BPTT}`` over the agreement sweep's rows of
    ``algorithms`` (every cell)."""
    out: dict[str, float] = {}
    for r in select(rows, sweep="agreement"):
        if r["algorithm"] in algorithms and r.get("rel_err") is not None:
            out[r["dtype"]] = max(out.get(r["dtype"], 0.0), r["rel_err"])
    return out


def study_cosines(path: Path, n: int | None) -> dict[str, str]:
    """Approximate method → its median per-step cosine with exact RTRL on Elman at the largest
    n ≤ ``n`` of the alignment study (``reports/study/alignment.json``; {} where absent)."""
    if n is None or not path.exists():
        return {}
    rows = [r for r in json.loads(path.read_text())["rows"] if r["cell"] == "Elman"]
    out = {}
    for alg in registry.names(exact=False, online=True):
        mine = [r for r in rows if r["method"] == label(alg).split(" (")[0] and r["n"] <= n]
        if mine:
            top = max(mine, key=lambda r: (r["n"], -r["T"]))
            cos = statistics.median(c for c in top["cosine"] if c is not None)
            out[alg] = (
                f"approximate, cosine {cos:.2f} vs exact RTRL (n = {top['n']}, T = {top['T']})"
            )
    return out


def _accuracy(rows: Sequence[Row], alg: str, study: dict[str, str]) -> str:
    """Exact methods: worst relative error (float32 / float64); others: their cosine with the
    float64 reference where measured, else the alignment study's median cosine."""
    worst = worst_errors(rows, [alg])
    if alg in registry.names(exact=True) or alg in BASELINES:
        if not worst:
            return "exact (not measured)"
        return "exact, rel. err ≤ " + " / ".join(f"{fmt(worst[d], 2)} ({d})" for d in sorted(worst))
    cos = [r["cosine"] for r in select(rows, algorithm=alg) if r.get("cosine") is not None]
    if cos:
        return f"approximate, cosine ≥ {min(cos):.3f}"
    return study.get(alg, "approximate (cosine not measured)")


def _unit(value: float | None, units: Sequence[tuple[str, float]]) -> str:
    """``value`` in the first of ``units`` (largest first) it reaches, else the last."""
    if value is None:
        return "—"
    unit, scale = next(((u, s) for u, s in units if value >= s), units[-1])
    return f"{value / scale:.3g} {unit}"


def _time(seconds: float | None) -> str:
    return _unit(seconds, (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)))


def _bytes(value: float | None) -> str:
    return _unit(value, (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("B", 1)))


def _exact_n(rows: Sequence[Row]) -> int | None:
    return reference_n(rows, "n", registry.names(exact=True, online=True))


def _approx(rows: Sequence[Row]) -> list[str]:
    measured = {r["algorithm"] for r in _main(rows, ONLINE_STEP)}
    return [a for a in registry.names(exact=False, online=True) if a in measured]


def _step_time(row: Row) -> float | None:
    """Time per step; for an online-step row, its step scanned over T in one call (as BPTT's
    call runs), not the one-step call, which pays a program launch per step."""
    return row.get("scan_time_per_step_s") or row.get("time_per_step_s")


def headline_table(rows: Sequence[Row], study: Path | None = None) -> str:
    """Algorithm × time per step, XLA temp bytes, FLOPs per step and agreement: the exact
    methods and baselines from the n sweep at the largest n that RTRL and the hybrid share, the
    approximate ones from the online-step sweep at its largest common n (their cosine from the
    alignment study's JSON ``study`` where given)."""
    out = []
    n_exact = _exact_n(rows)
    n_approx = reference_n(rows, ONLINE_STEP, _approx(rows))
    cosines = study_cosines(study, n_approx) if study else {}
    for alg in (*registry.names(online=False), *BASELINES, *registry.names(online=True)):
        online_approx = alg in registry.names(exact=False, online=True)
        sweep = ONLINE_STEP if online_approx else "n"
        n = n_approx if online_approx else n_exact
        r = _at(rows, sweep, alg, n)
        if r is None:
            continue
        out.append(
            [
                label(alg),
                f"{r['n']} / {r['T']}",
                _time(_step_time(r)),
                _bytes(r.get("mem_temp_size_in_bytes")),
                fmt(r.get("flops_per_step"), 3),
                _accuracy(rows, alg, cosines),
            ]
        )
    headers = ["algorithm", "n / T", "time per step", "XLA temp memory", "FLOPs per step"]
    return table([*headers, "vs float64 BPTT"], out)


def _fastest_online(rows: Sequence[Row]) -> tuple[int, list[tuple[float, str]]] | None:
    n = _exact_n(rows)
    times = [
        (r["time_per_step_s"], alg)
        for alg in registry.names(exact=True, online=True)
        if (r := _at(rows, "n", alg, n)) is not None
    ]
    return (n, sorted(times)) if n is not None and times else None


def _memory_winner(rows: Sequence[Row]) -> tuple[int, int, list[tuple[float, str]]] | None:
    """At the largest T that every exact algorithm of the T sweep reached: temp bytes, least
    first."""
    pts = _main(rows, "T")
    algs = [a for a in registry.names(exact=True) if any(r["algorithm"] == a for r in pts)]
    sets = [{r["T"] for r in pts if r["algorithm"] == a} for a in algs]
    if not sets or not (common := set.intersection(*sets)):
        return None
    T = max(common)
    mem = [
        (r["mem_temp_size_in_bytes"], r["algorithm"])
        for r in pts
        if r["T"] == T and r["algorithm"] in algs and r.get("mem_temp_size_in_bytes") is not None
    ]
    return (T, pts[0]["n"], sorted(mem)) if mem else None


def summary_lines(rows: Sequence[Row]) -> list[str]:
    """What a run prints at its end: the first three :func:`findings` (the fastest exact online
    method, the memory winner, the exact methods' worst error, where measured)."""
    return findings(rows, {})[:3]


def _exponents(fits: ScalingFits) -> str | None:
    parts = []
    for alg in registry.names(exact=True):
        fit, th = fits.get(alg), theory.TIME_VS_N.get(alg)
        if fit is not None and th is not None:
            parts.append(f"{label(alg)} {fit.slope:.2f} (theory {th:g})")
    if not parts:
        small = [a for a in registry.names(exact=True) if a in fits]
        return "Time exponents vs n: too small to fit (n below 128)." if small else None
    return "Fitted time-per-step exponents vs n over the top octaves: " + ", ".join(parts) + "."


def findings(rows: Sequence[Row], time_fits: ScalingFits) -> list[str]:
    """Three to five one-sentence findings, each computed from ``rows`` and the time fits."""
    out = []
    if fast := _fastest_online(rows):
        n, times = fast
        if len(times) > 1:
            (t0, a0), (t1, a1) = times[0], times[-1]
            out.append(
                f"At n = {n}, {label(a0)} is the fastest exact online method at {_time(t0)} per "
                f"step, {t1 / t0:.3g}× faster than {label(a1)}."
            )
    if mem := _memory_winner(rows):
        T, n, ranked = mem
        bptt = next((b for b, a in ranked if a == "bptt"), None)
        (b0, a0) = ranked[0]
        tail = f", {bptt / b0:.0f}× less than BPTT's" if bptt and a0 != "bptt" else ""
        out.append(
            f"At T = {T} and n = {n}, {label(a0)} needs the least XLA scratch memory "
            f"({_bytes(b0)}{tail})."
        )
    worst = worst_errors(rows, registry.names(exact=True))
    if worst:
        cells = sorted({r["cell"] for r in select(rows, sweep="agreement")})
        out.append(
            f"Every exact method matches float64 BPTT on {len(cells)} "
            f"cell{'s' if len(cells) > 1 else ''} to a relative error "
            "of at most " + " and ".join(f"{fmt(worst[d], 2)} in {d}" for d in sorted(worst)) + "."
        )
    if text := _exponents(time_fits):
        out.append(text)
    n_apx = reference_n(rows, ONLINE_STEP, _approx(rows))
    ratios = sorted(
        (_step_time(r) / r["bptt_time_per_step_s"], r["algorithm"])
        for r in _main(rows, ONLINE_STEP)
        if r["n"] == n_apx and r["algorithm"] in _approx(rows) and r.get("bptt_time_per_step_s")
    )
    if ratios:
        out.append(
            f"At n = {n_apx}, a step of an approximate online method (scanned over T steps in "
            f"one call, like BPTT's) costs {ratios[0][0]:.1f}× ({label(ratios[0][1])}) to "
            f"{ratios[-1][0]:.1f}× ({label(ratios[-1][1])}) a BPTT step."
        )
    return out
