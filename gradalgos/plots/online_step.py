"""Online methods: the cost of one step (sweep ``online-step``) beside BPTT's cost per step.

Every online method of the registry runs one step of its pure ``update`` (carry donated) on
Elman, and RTRL also on cells with a diagonal state Jacobian (IndRNN, LRU), where it takes its
exact O(P) path. The rows carry the step's time, XLA FLOPs (exact: a step holds no loop over
floats), carry and temp bytes, and BPTT's time and FLOPs per step measured in the same worker
process (``bptt_*``), so that every ratio divides two measurements of one process.

Acceptance targets: an approximate method whose theory exponent is BPTT's (O(P) per step,
n² on a fully connected cell) costs ≤ :data:`RATIO_TARGET` × BPTT's step at the largest n, and
every FLOP exponent, fitted over the top octave of its n range, lies within
:data:`SLOPE_TOLERANCE` of its theory (the registry's ``time_exponent``; on a cell with a
diagonal Jacobian, an exact method's O(P) path: :data:`~.theory.ELEMENTWISE_TIME_VS_N`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots import style, theory
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.markdown import fmt, table
from gradalgos.plots.results import Row, select

__all__ = [
    "FIGURE",
    "RATIO_TARGET",
    "SLOPE_TOLERANCE",
    "SWEEP",
    "LineSummary",
    "figure_online_step",
    "line_summaries",
    "online_step_section",
    "theory_exponent",
]

SWEEP = "online-step"
#: The figure's file name (``online_step.json`` is ``benchmarks/online_step.py``'s: a loop of
#: ``step`` calls against the offline path, another measurement).
FIGURE = "online_step_cost.png"
#: An approximate method of BPTT's order costs at most this many BPTT steps per step.
RATIO_TARGET = 4.0
#: A FLOP exponent passes within this distance of its theory.
SLOPE_TOLERANCE = 0.2
#: The FLOP exponent is fitted over the top octave of each line's n range (n = 128…256).
FIT_OCTAVES = 1


class LineSummary(NamedTuple):
    """One method on one cell.

    Attributes:
        algorithm, cell: the line.
        points: its rows, sorted by n.
        flop_fit: the log-log fit of XLA FLOPs per step vs n over the top octave (``None``
            with fewer than 2 counted points).
        theory: the expected exponent (:func:`theory_exponent`), ``None`` where none applies.
        carry_fit: the same fit of the carry's bytes.
        memory_theory: the carry's: the registry's ``memory_exponent`` on a fully connected
            cell, an exact method's O(P) on a diagonal one, else ``None``.
        n_max, ratio: the largest n and the time ratio to BPTT's step there.
        ratio_judged: whether :data:`RATIO_TARGET` applies (approximate, BPTT's order).
    """

    algorithm: str
    cell: str
    points: list[Row]
    flop_fit: LogLogFit | None
    theory: float | None
    carry_fit: LogLogFit | None
    memory_theory: float | None
    n_max: int
    ratio: float | None
    ratio_judged: bool

    @property
    def slope_ok(self) -> bool | None:
        """Whether the FLOP exponent is within :data:`SLOPE_TOLERANCE` of the theory."""
        if self.flop_fit is None or self.theory is None:
            return None
        return abs(self.flop_fit.slope - self.theory) <= SLOPE_TOLERANCE

    @property
    def ratio_ok(self) -> bool | None:
        """Whether the step costs ≤ :data:`RATIO_TARGET` BPTT steps (``None``: not judged)."""
        if not self.ratio_judged or self.ratio is None:
            return None
        return self.ratio <= RATIO_TARGET


def theory_exponent(algorithm: str, cell: str, memory: bool = False) -> float | None:
    """FLOPs per step ∝ n^k (with ``memory``: carry bytes): the registry's ``time_exponent``
    (``memory_exponent``) on a fully connected cell; on a cell with a diagonal state Jacobian
    (:data:`~.theory.ELEMENTWISE_CELLS`) an exact online method's O(P) path, ``None`` for an
    approximate one there (no single exponent claimed)."""
    info = registry.info(algorithm)
    if cell in theory.ELEMENTWISE_CELLS:
        return theory.ELEMENTWISE_TIME_VS_N if info.exact else None
    return info.memory_exponent if memory else info.time_exponent


def _sweep_rows(rows: Sequence[Row]) -> list[Row]:
    """The successful rows of the sweep, of one dtype (float32 where measured)."""
    rows = select(rows, sweep=SWEEP)
    if not rows:
        return []
    dtype = "float32" if any(r["dtype"] == "float32" for r in rows) else rows[0]["dtype"]
    return [r for r in rows if r["dtype"] == dtype and r["algorithm"] in registry.names()]


def _lines(rows: Sequence[Row]) -> dict[tuple[str, str], list[Row]]:
    """``{(algorithm, cell): rows sorted by n}``: registry order, then the cells in the order
    they were measured."""
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    out = {}
    for alg in registry.names():
        for cell in cells:
            pts = sorted(select(rows, algorithm=alg, cell=cell), key=lambda r: r["n"])
            if pts:
                out[(alg, cell)] = pts
    return out


def _fit(pts: Sequence[Row], y: str) -> LogLogFit | None:
    return fit_loglog(*style.series(pts, "n", y), octaves=FIT_OCTAVES, min_points=2)


def line_summaries(rows: Sequence[Row]) -> list[LineSummary]:
    """One :class:`LineSummary` per (method, cell) measured by the sweep."""
    out = []
    for (alg, cell), pts in _lines(_sweep_rows(rows)).items():
        th = theory_exponent(alg, cell)
        last = pts[-1]
        out.append(
            LineSummary(
                alg,
                cell,
                pts,
                _fit(pts, "flops_per_step"),
                th,
                _fit(pts, "carry_bytes"),
                theory_exponent(alg, cell, memory=True),
                last["n"],
                last.get("scan_ratio_bptt"),
                not registry.info(alg).exact and th is not None and th <= theory.TIME_VS_N["bptt"],
            )
        )
    return out


def _name(alg: str, cell: str) -> str:
    """``"SnAp-1"`` on Elman, ``"RTRL on indrnn"`` elsewhere."""
    return style.label(alg) if cell == "elman" else f"{style.label(alg)} on {cell}"


def _bptt_points(rows: Sequence[Row]) -> dict[tuple[str, int], dict[str, Any]]:
    """BPTT's per-step time, FLOPs and temp bytes at each (cell, n), from the rows' ``bptt_*``
    copies (the median where a point holds several measurements)."""
    by_point: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        if r.get("bptt_time_per_step_s") is not None:
            by_point.setdefault((r["cell"], r["n"]), []).append(r)
    out = {}
    for point, pts in by_point.items():

        def median(field: str, pts: list[Row] = pts) -> float | None:
            values = [r[field] for r in pts if r.get(field) is not None]
            return float(np.median(values)) if values else None

        out[point] = {
            "T": pts[0].get("bptt_T"),
            "time": median("bptt_time_per_step_s"),
            "flops": median("bptt_flops_per_step"),
            "temp": median("bptt_mem_temp_size_in_bytes"),
        }
    return dict(sorted(out.items(), key=lambda item: (item[0][0] != "elman", item[0])))


def _step_table(rows: Sequence[Row]) -> str:
    """Method × n: time per step, its ratio to BPTT's, FLOPs per step (and their ratio), carry
    and temp bytes; BPTT's own per-step cost at each point first."""
    out: list[list[Any]] = []
    for (cell, n), b in _bptt_points(rows).items():
        name = f"{_name('bptt', cell)} (T = {b['T']} call / T)"
        out.append([name, n, b["time"], 1.0, 1.0, b["flops"], 1.0, None, b["temp"]])
    for (alg, cell), pts in _lines(rows).items():
        for r in pts:
            out.append(
                [
                    _name(alg, cell),
                    r["n"],
                    r["time_per_step_s"],
                    r.get("time_ratio_bptt"),
                    r.get("scan_ratio_bptt"),
                    r.get("flops_per_step"),
                    r.get("flops_ratio_bptt"),
                    r.get("carry_bytes"),
                    r.get("mem_temp_size_in_bytes"),
                ]
            )
    headers = [
        "method",
        "n",
        "s / step",
        "one call / BPTT step",
        "scanned / BPTT step",
        "XLA FLOPs / step",
        "FLOPs / BPTT's",
        "carry bytes",
        "temp bytes",
    ]
    return table(headers, out)


def _verdict(ok: bool | None) -> str:
    return "no data" if ok is None else "PASS" if ok else "FAIL"


def _fit_text(fit: LogLogFit | None) -> str:
    return "—" if fit is None else f"{fit.slope:.2f} (n = {fit.x_lo:g}…{fit.x_hi:g})"


def _target_table(summaries: Sequence[LineSummary]) -> str:
    """Per line: FLOP exponent vs theory (verdict), time ratio at the largest n (verdict where
    judged), carry-bytes exponent vs the registry's memory exponent."""
    out = []
    for s in summaries:
        no_flops = s.flop_fit is None and any(r.get("step_has_loop") for r in s.points)
        slope_verdict = "no FLOPs (loops)" if no_flops else _verdict(s.slope_ok)
        if s.theory is None:
            slope_verdict = "no theory"
        ratio_verdict = _verdict(s.ratio_ok) if s.ratio_judged else "info"
        out.append(
            [
                _name(s.algorithm, s.cell),
                _fit_text(s.flop_fit),
                s.theory,
                slope_verdict,
                f"{fmt(s.ratio)} (n = {s.n_max})",
                ratio_verdict,
                _fit_text(s.carry_fit),
                s.memory_theory,
            ]
        )
    headers = [
        "method",
        "FLOP exponent (fit range)",
        "theory",
        f"exponent ± {SLOPE_TOLERANCE:g}",
        "step / BPTT step",
        f"≤ {RATIO_TARGET:g}×",
        "carry-bytes exponent",
        "theory (carry)",
    ]
    return table(headers, out)


def _point(summaries: Sequence[LineSummary]) -> str:
    """The section's opening sentences: which targets pass and fail, from the data."""
    judged = [s for s in summaries if s.ratio_ok is not None]
    slopes = [s for s in summaries if s.slope_ok is not None]
    parts = []
    if judged:
        good = [_name(s.algorithm, s.cell) for s in judged if s.ratio_ok]
        bad = [f"{_name(s.algorithm, s.cell)} {s.ratio:.1f}×" for s in judged if not s.ratio_ok]
        n = max(s.n_max for s in judged)
        parts.append(
            f"At n = {n}, {len(good)} of the {len(judged)} approximate methods of BPTT's order "
            f"cost ≤ {RATIO_TARGET:g}× BPTT's step in time, both scanned over T steps in one call"
            + (f" ({', '.join(good)})" if good else "")
            + (f"; over: {', '.join(bad)}" if bad else "")
            + "."
        )
        flops = [s.points[-1].get("flops_ratio_bptt") for s in judged]
        flops = [f for f in flops if f is not None]
        if flops:
            parts.append(
                f"In XLA FLOPs the same steps cost {min(flops):.2g}–{max(flops):.2g}× BPTT's."
            )
    if slopes:
        bad = [
            f"{_name(s.algorithm, s.cell)} {s.flop_fit.slope:.2f} vs {s.theory:g}"
            for s in slopes
            if not s.slope_ok
        ]
        parts.append(
            f"{len(slopes) - len(bad)} of {len(slopes)} FLOP exponents lie within "
            f"±{SLOPE_TOLERANCE:g} of their theory"
            + (f" (not: {'; '.join(bad)})" if bad else "")
            + "."
        )
    return " ".join(parts) if parts else "Nothing measured in this sweep."


def _floor(rows: Sequence[Row]) -> str:
    """The cheapest single-step call measured: the per-call floor of the time ratios."""
    single = [r for r in rows if r.get("steps_per_call") == 1 and r.get("time_per_step_s")]
    if not single:
        return ""
    r = min(single, key=lambda r: r["time_per_step_s"])
    return (
        f" The cheapest single-step call measured took {r['time_per_step_s'] * 1e6:.0f} µs "
        f"({_name(r['algorithm'], r['cell'])}, n = {r['n']}): a floor that every one-step call "
        "pays and BPTT's T-step call pays once per T steps."
    )


def online_step_section(rows: Sequence[Row]) -> str:
    """The report section *Online methods: cost per step*: its point first, then the targets
    and the method × n table."""
    rows = _sweep_rows(rows)
    if not rows:
        return (
            "Not measured: run the sweep `online-step` (`python -m gradalgos.bench --sweeps "
            "online-step`).\n"
        )
    summaries = line_summaries(rows)
    return (
        _point(summaries)
        + "\n\nOne step of each online method's pure `update` (jitted, carry donated, compiled "
        "apart, median of the timed calls after a warm-up), B = 1, m = o = 8; the hybrid's call "
        "is a block of h = S steps (its time / h). BPTT's step is the call time of "
        "`value_and_grad` over T steps / T on the same cell, measured in the same worker "
        "process, so each ratio divides two times of one process. A one-step call pays the "
        "program's launch, which BPTT's call spreads over T steps; so each method is also timed "
        "as its offline `value_and_grad` (the step scanned over the same T steps in one call), "
        "and the time target is judged on that like-for-like ratio. XLA's FLOPs "
        "(`cost_analysis()`) of one step are exact where its program holds no loop over "
        "floats (the hybrid's block scans its steps: no count). FLOP exponents are fitted over "
        f"the top octave of each line's n range and judged within ±{SLOPE_TOLERANCE:g} of the "
        "registry's theory (fully connected: P ∝ n²; RTRL on IndRNN and LRU takes its exact "
        f"element-wise path, O(P) with P ∝ n: {theory.ELEMENTWISE_TIME_VS_N:g}); the time "
        f"ratio is judged (≤ {RATIO_TARGET:g}×) for the approximate methods of BPTT's order. "
        "The carry-bytes exponent sits beside the registry's memory exponent (UORO: O(S + P); "
        "SnAp-1, RFLO, e-prop: O(P); immediate: O(S); RTRL and the hybrid: O(S·P))."
        + _floor(rows)
        + "\n\n"
        + _target_table(summaries)
        + "\n"
        + _step_table(rows)
    )


#: Marker fill by cell, in the order the cells were measured (Elman first: full).
_FILLS = ("full", "none", "left", "top", "right", "bottom")


def _fill(cell: str, cells: Sequence[str]) -> str:
    return _FILLS[list(cells).index(cell) % len(_FILLS)]


def _plot_line(ax: Any, s: LineSummary, y: str, guide: bool, cells: Sequence[str]) -> None:
    """One method's measured line (solid; the marker's fill tells the cell) and, with ``guide``, its
    theory slope dashed through its largest-n point."""
    xs, ys = style.series(s.points, "n", y)
    ok = np.isfinite(ys) & (ys > 0)
    if not ok.any():
        return
    xs, ys = xs[ok], ys[ok]
    c, m = style.color(s.algorithm), style.marker(s.algorithm)
    label = _name(s.algorithm, s.cell)
    if s.flop_fit is not None:
        label += f" (FLOP slope {s.flop_fit.slope:.2f})"
    ax.plot(xs, ys, "-", marker=m, color=c, fillstyle=_fill(s.cell, cells), label=label)
    if guide and s.theory is not None and len(xs) >= 2:
        ax.plot(xs, ys[-1] * (xs / xs[-1]) ** s.theory, "--", color=c, lw=0.9, alpha=0.7)


def figure_online_step(rows: Sequence[Row], out: Path) -> Path:
    """:data:`FIGURE`: XLA FLOPs per step vs n (log-log; dashed: theory slopes through the
    largest n) and time per step vs n, one line per method and cell, BPTT's step beside."""
    rows = _sweep_rows(rows)
    fig, (ax_f, ax_t) = style.subplots(2, "Online methods: cost of one step vs n (B = 1)", 7.2)
    summaries = line_summaries(rows)
    bptt = _bptt_points(rows)
    cells = sorted(dict.fromkeys(r["cell"] for r in rows), key=lambda cell: cell != "elman")
    for ax, y, b in ((ax_f, "flops_per_step", "flops"), (ax_t, "time_per_step_s", "time")):
        for s in summaries:
            _plot_line(ax, s, y, ax is ax_f, cells)
        for cell in cells:
            pts = sorted((n, v[b]) for (c, n), v in bptt.items() if c == cell and v[b])
            if pts:
                xs, ys = zip(*pts, strict=True)
                c = style.color("bptt")
                label = f"{_name('bptt', cell)} (per step of a T-step call)"
                kw = {"marker": style.marker("bptt"), "fillstyle": _fill(cell, cells)}
                ax.plot(xs, ys, ":", color=c, label=label, **kw)
        if not summaries:
            style.no_data(ax, f"sweep {SWEEP!r}")
            continue
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden units n")
        ax.grid(True, which="both", alpha=0.3)
    if summaries:  # one legend for both panels (the right one has every line)
        ax_t.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax_f.set_ylabel("XLA FLOPs per step (cost_analysis of one step)")
    ax_t.set_ylabel("median wall time per step [s]")
    fills = ", ".join(f"{cell} {_fill(cell, cells)}" for cell in cells)
    style.note(ax_f, f"dashed: theory slope through the largest n; marker fill: {fills}")
    return style.save(fig, out / FIGURE)
