"""Online methods: the cost of one step (sweep ``online-step``) beside BPTT's cost per step.

Targets: an approximate method of BPTT's order (O(P) per step) costs ≤ :data:`RATIO_TARGET` ×
BPTT's step at the largest n (both scanned over T in one call), and each FLOP exponent, fitted
over the top octave of its n range, lies within :data:`SLOPE_TOLERANCE` of its theory (the
registry's ``time_exponent``; an exact method's O(P) path on a diagonal-Jacobian cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots import style, theory
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.results import Row, fmt, select, table

__all__ = ["FIGURE", "RATIO_TARGET", "SLOPE_TOLERANCE", "SWEEP", "LineSummary"]
__all__ += ["figure_online_step", "line_summaries", "online_step_section", "theory_exponent"]

SWEEP = "online-step"
#: The figure's file name (``online_step.json`` is ``benchmarks/online_step.py``'s).
FIGURE = "online_step_cost.png"
#: An approximate method of BPTT's order costs at most this many BPTT steps per step.
RATIO_TARGET = 4.0
#: A FLOP exponent passes within this distance of its theory.
SLOPE_TOLERANCE = 0.2
#: The FLOP exponent is fitted over the top octave of each line's n range (n = 128…256).
FIT_OCTAVES = 1


class LineSummary(NamedTuple):
    """One method on one cell: its rows (by n), the top-octave fits of FLOPs per step and carry
    bytes vs n with their theories (:func:`theory_exponent`), the largest n and the scanned
    time ratio to BPTT's step there, and whether :data:`RATIO_TARGET` judges that ratio."""

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
    """FLOPs per step (``memory``: carry bytes) ∝ n^k: the registry's exponent on a fully
    connected cell; on a diagonal-Jacobian cell an exact method's O(P), else ``None``."""
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
    """``{(algorithm, cell): rows sorted by n}`` in registry order, cells as measured."""
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
        th, memory = theory_exponent(alg, cell), theory_exponent(alg, cell, memory=True)
        judged = not registry.info(alg).exact and th is not None and th <= theory.TIME_VS_N["bptt"]
        fits = (_fit(pts, "flops_per_step"), th, _fit(pts, "carry_bytes"), memory)
        ratio = pts[-1].get("scan_ratio_bptt")
        out.append(LineSummary(alg, cell, pts, *fits, pts[-1]["n"], ratio, judged))
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

        fields = {"time": "time_per_step_s", "flops": "flops_per_step"}
        fields["temp"] = "mem_temp_size_in_bytes"
        out[point] = {"T": pts[0].get("bptt_T")}
        out[point] |= {k: median(f"bptt_{f}") for k, f in fields.items()}
    return dict(sorted(out.items(), key=lambda item: (item[0][0] != "elman", item[0])))


def _step_table(rows: Sequence[Row]) -> str:
    """Method × n: time per step, its ratio to BPTT's, FLOPs per step (and their ratio), carry
    and temp bytes; BPTT's own per-step cost at each point first."""
    out: list[list[Any]] = []
    for (cell, n), b in _bptt_points(rows).items():
        name = f"{_name('bptt', cell)} (T = {b['T']} call / T)"
        out.append([name, n, b["time"], 1.0, 1.0, b["flops"], 1.0, None, b["temp"]])
    fields = ("n", "time_per_step_s", "time_ratio_bptt", "scan_ratio_bptt", "flops_per_step")
    fields += ("flops_ratio_bptt", "carry_bytes", "mem_temp_size_in_bytes")
    for (alg, cell), pts in _lines(rows).items():
        out += [[_name(alg, cell), *(r.get(f) for f in fields)] for r in pts]
    headers = ["method", "n", "s / step", "one call / BPTT step", "scanned / BPTT step"]
    headers += ["XLA FLOPs / step", "FLOPs / BPTT's", "carry bytes", "temp bytes"]
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
        ratio = f"{fmt(s.ratio)} (n = {s.n_max})"
        line = [_name(s.algorithm, s.cell), _fit_text(s.flop_fit), s.theory, slope_verdict]
        out.append([*line, ratio, ratio_verdict, _fit_text(s.carry_fit), s.memory_theory])
    headers = ["method", "FLOP exponent (fit range)", "theory", f"exponent ± {SLOPE_TOLERANCE:g}"]
    headers += [
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


def online_step_section(rows: Sequence[Row]) -> str:
    """The report section *Online methods: cost per step*: its point first, then the targets
    and the method × n table."""
    rows = _sweep_rows(rows)
    if not rows:
        return "Not measured: run `python -m gradalgos.bench --sweeps online-step`.\n"
    summaries = line_summaries(rows)
    return (
        _point(summaries)
        + "\n\nOne step of each online method's pure `update` (jitted, carry donated), B = 1; "
        "the hybrid's call is a block of h = S steps (its time / h). BPTT's step is its T-step "
        "call / T, same cell and worker process. A one-step call pays a program launch that "
        "BPTT's call spreads over T steps, so the time target is judged on each method's "
        "offline `value_and_grad` (its step scanned over T in one call). XLA's FLOPs of one step "
        "are exact where the step holds no loop over floats (the hybrid's does: no count). "
        "The carry-bytes exponent sits beside the registry's memory exponent."
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
    """One method's line (the marker's fill tells the cell); ``guide``: its theory slope dashed
    through its largest-n point."""
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
    ylabels = ("XLA FLOPs per step (cost_analysis of one step)", "median wall time per step [s]")
    if summaries:  # one legend for both panels (the right one has every line)
        for ax, ylabel in zip((ax_f, ax_t), ylabels, strict=True):
            style.log_axes(ax, "hidden units n", ylabel)
        ax_t.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fills = ", ".join(f"{cell} {_fill(cell, cells)}" for cell in cells)
    style.note(ax_f, f"dashed: theory slope through the largest n; marker fill: {fills}")
    return style.save(fig, out / FIGURE)
