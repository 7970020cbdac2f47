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
from gradalgos.study.cost import scan_ratio

__all__ = ["findings", "headline_table", "study_rows", "summary_lines", "worst_errors"]


def _main(rows: Sequence[Row], sweep: str) -> list[Row]:
    """The rows of ``sweep`` on Elman, float32, B = 1."""
    pts = select(rows, sweep=sweep, cell="elman", dtype="float32")
    return [r for r in pts if r.get("batch") in (None, 1)]


def _exact_n(rows: Sequence[Row]) -> int | None:
    """The largest n of the n sweep (elman, float32) at which every exact online method
    measured there has a row, or ``None``."""
    pts = _main(rows, "n")
    sets = [
        {r["n"] for r in pts if r["algorithm"] == a}
        for a in registry.names(exact=True, online=True)
    ]
    common = set.intersection(*[s for s in sets if s] or [set()])
    return max(common) if common else None


def _at(rows: Sequence[Row], sweep: str, alg: str, n: int | None) -> Row | None:
    """The row of ``alg`` at ``n``, else at the largest n below it (the table says which)."""
    pts = [r for r in _main(rows, sweep) if r["algorithm"] == alg and n and r["n"] <= n]
    top = max((r["n"] for r in pts), default=None)
    return [r for r in pts if r["n"] == top][-1] if pts else None


def worst_errors(
    rows: Sequence[Row], algorithms: Sequence[str], sweep: str | None = "agreement"
) -> dict[str, tuple[float, str]]:
    """``{dtype: (worst relative error vs float64 BPTT, the first config's label with it)}``
    over the rows of ``algorithms`` in ``sweep`` (``None``: every sweep), every cell."""
    out: dict[str, tuple[float, str]] = {}
    for r in select(rows, **({"sweep": sweep} if sweep else {})):
        err = r.get("rel_err")
        if r["algorithm"] in algorithms and err is not None and err > out.get(r["dtype"], (-1,))[0]:
            out[r["dtype"]] = (err, r["label"])
    return out


def study_rows(path: Path | None) -> dict[str, dict]:
    """Approximate method → its row of the alignment study (``reports/study/alignment.json``;
    {} where absent): on Elman at the largest n it ran (else on the first cell it ran on), the
    shortest T; ``"cosine"`` replaced by its median over seeds."""
    if path is None or not path.exists():
        return {}
    rows = json.loads(path.read_text())["rows"]
    out = {}
    for alg in registry.names(exact=False, online=True):
        mine = [r for r in rows if r["method"] == label(alg).split(" (")[0]]
        if mine := [r for r in mine if r["cell"] == "Elman"] or mine:
            cell = mine[0]["cell"]
            top = max((r for r in mine if r["cell"] == cell), key=lambda r: (r["n"], -r["T"]))
            cos = statistics.median(c for c in top["cosine"] if c is not None)
            out[alg] = {**top, "cosine": cos}
    return out


def _accuracy(rows: Sequence[Row], alg: str) -> str:
    """Exact methods and baselines: worst relative error (float32 / float64); TBPTT: its
    lowest cosine with the float64 reference."""
    worst = worst_errors(rows, [alg])
    if alg in registry.names(exact=True) or alg in BASELINES:
        if not worst:
            return "exact (not measured)"
        return "exact, rel. err ≤ " + " / ".join(
            f"{fmt(worst[d][0], 2)} ({d})" for d in sorted(worst)
        )
    cos = [r["cosine"] for r in select(rows, algorithm=alg) if r.get("cosine") is not None]
    return f"approximate, cosine ≥ {min(cos):.3f}" if cos else "approximate (not measured)"


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


def headline_table(rows: Sequence[Row], study: Path | None = None) -> str:
    """Algorithm × time per step, XLA temp bytes, FLOPs per step and agreement: the exact
    methods and baselines from the n sweep at the largest n that RTRL and the hybrid share; the
    approximate ones from the alignment study's JSON ``study`` (:func:`study_rows`): their step
    scanned over T in one call, with its ratio to BPTT's step measured beside it."""
    out = []
    n_exact = _exact_n(rows)
    for alg in (*registry.names(online=False), *BASELINES, *registry.names(online=True)):
        if (r := _at(rows, "n", alg, n_exact)) is not None:
            cols = [_time(r["time_per_step_s"]), _bytes(r.get("mem_temp_size_in_bytes"))]
            cols += [fmt(r.get("flops_per_step"), 3), _accuracy(rows, alg)]
            out.append([label(alg), f"{r['n']} / {r['T']}", *cols])
    for alg, r in study_rows(study).items():
        where = f"{r['n']} / {r['T']}" + ("" if r["cell"] == "Elman" else f" ({r['cell']})")
        ratio = scan_ratio(r)
        cols = [_time(r.get("scan_time_per_step_s")) + (f" ({ratio:.2g}× BPTT's)" if ratio else "")]
        cols += [_bytes(r.get("xla_temp_bytes")), fmt(r.get("flops_per_step"), 3)]
        out.append([label(alg), where, *cols, f"approximate, cosine {r['cosine']:.2f} vs RTRL"])
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


def findings(rows: Sequence[Row], time_fits: ScalingFits, study: Path | None = None) -> list[str]:
    """Three to five one-sentence findings, each computed from ``rows``, the time fits and the
    alignment study's JSON ``study``."""
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
            "of at most "
            + " and ".join(f"{fmt(worst[d][0], 2)} in {d}" for d in sorted(worst))
            + "."
        )
    if text := _exponents(time_fits):
        out.append(text)
    ratios = sorted((x, alg) for alg, r in study_rows(study).items() if (x := scan_ratio(r)))
    if ratios:
        out.append(
            f"A step of an approximate online method, scanned over T steps in one call like "
            f"BPTT's, costs {ratios[0][0]:.2g}× ({label(ratios[0][1])}) to {ratios[-1][0]:.2g}× "
            f"({label(ratios[-1][1])}) a BPTT step (alignment study, largest n of each)."
        )
    return out
