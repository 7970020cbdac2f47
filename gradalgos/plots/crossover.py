"""Crossovers: where the hybrid gets faster than RTRL, and where BPTT stores more than RTRL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row, select, within_run_ratios

__all__ = ["Crossovers", "crossing", "figure_crossover"]

#: ``{name: (value or None, how it was found / why there is none)}``.
Crossovers = dict[str, tuple[float | None, str]]


def crossing(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """First x (sorted ascending) at which the positive ``a`` falls below ``b`` — only from
    ``a > b`` at one point to ``a < b`` at a later one — by linear interpolation of log(a/b)
    in log x (where ``a`` equals ``b`` at points between, the first of them); else ``None``."""
    if len(x) < 2:
        return None
    d = np.log(a) - np.log(b)
    above: int | None = None  # the last point so far with a > b
    for i in range(len(x)):
        if d[i] > 0:
            above = i
        elif d[i] < 0 and above is not None:
            if i - above > 1:  # equal at the points between: a reaches b at the first of them
                return float(x[above + 1])
            j = above
            lx = np.log(x[j]) + (np.log(x[i]) - np.log(x[j])) * d[j] / (d[j] - d[i])
            return float(np.exp(lx))
    return None


def _common(rows: Sequence[Row], sweep: str, x: str, y: str, a: str, b: str) -> tuple:
    xa, ya = style.series(select(rows, sweep=sweep, algorithm=a, cell="elman"), x, y)
    xb, yb = style.series(select(rows, sweep=sweep, algorithm=b, cell="elman"), x, y)
    common = np.intersect1d(xa, xb)
    pick = lambda xs, ys: np.array([ys[list(xs).index(c)] for c in common])  # noqa: E731
    return (xa, ya), (xb, yb), common, pick(xa, ya), pick(xb, yb)


def _mark(ax: Any, at: float | None, what: str, otherwise: str) -> None:
    if at is not None:
        ax.axvline(at, color="k", ls="--", lw=1, label=f"{what} ≈ {at:.3g}")
    else:
        text = f"no crossover in the measured range: {otherwise}"
        ax.text(0.5, 0.02, text, fontsize=8, ha="center", transform=ax.transAxes)


def _none(x: np.ndarray, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, var: str) -> str:
    """Why ``a`` never falls below ``b``: which is lower at every point, if either, and a
    crossing the other way if any."""
    lower = name_a if np.all(a < b) else name_b if np.all(b < a) else "neither"
    text = f"{lower} lower at every point" if len(a) else "no common points"
    other = crossing(x, b, a) if len(x) else None
    if other is not None:
        text += f"; {name_b} falls below {name_a} at {var} ≈ {other:.3g} (the other way)"
    return text


def _note(at: float | None, measured: np.ndarray, compared: tuple) -> str:
    """The crossover's note: how ``at`` was found, or why there is none (``compared`` are the
    arguments of :func:`_none`)."""
    if at is not None:
        return "at a measured point" if np.any(measured == at) else "interpolated"
    return "none: " + (_none(*compared) if len(compared[0]) else "no data")


def _linear_extension(xm: np.ndarray, ym: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``c + s·x`` through the last two points ``(xm, ym)``, evaluated at ``at``."""
    s = (ym[-1] - ym[-2]) / (xm[-1] - xm[-2])
    return ym[-1] + s * (np.asarray(at, float) - xm[-1])


def _time_ratios(rows: Sequence[Row], every: Sequence[Row] | None) -> tuple:
    """``(n, hybrid/RTRL time per step, runs per n)`` where both were measured: the median over
    the runs of ``every`` (default: ``rows``) of ratios within one run."""
    ratios = within_run_ratios(
        select(every if every is not None else rows, sweep="n", cell="elman"), "hybrid", "rtrl"
    )
    n = np.array(list(ratios), float)
    median = np.array([np.median(r) for r in ratios.values()])
    return n, median, [len(r) for r in ratios.values()]


def _line(alg: str) -> dict[str, str]:
    """The algorithm's marker, colour and display name, as ``plot`` keywords."""
    return {"marker": style.marker(alg), "color": style.color(alg), "label": style.NAMES[alg]}


def figure_crossover(
    rows: Sequence[Row], out: Path, every: Sequence[Row] | None = None
) -> Crossovers:
    """``crossover.png``: time per step vs n, RTRL vs the hybrid (h = S), and XLA temp bytes
    vs T, BPTT vs RTRL. Returns ``{what: (value, note)}``: the n beyond which the hybrid is
    faster (from time ratios within one run, :func:`_time_ratios`) and the T beyond which BPTT
    stores more, each by :func:`crossing`. Where BPTT reaches larger T than RTRL, RTRL's temp
    bytes are extended linearly in T from its last two points (they grow as O(T·(m + o)):
    XLA's copies of the inputs and targets)."""
    fig, (ax_n, ax_T) = style.subplots(2, "Crossovers (measured, elman)")
    result: dict[str, float | None] = {}
    (xr, yr), (xh, yh), *_ = _common(rows, "n", "n", "time_per_step_s", "rtrl", "hybrid")
    n_common, ratio, runs = _time_ratios(rows, every)
    one = np.ones_like(ratio)
    # The hybrid's time falls below RTRL's (their ratio below 1) as n grows.
    result["hybrid_beats_rtrl_n"] = crossing(n_common, ratio, one) if len(n_common) else None
    (xb, yb), (xm, ym), T_common, mb, mr = _common(
        rows, "T", "T", "mem_temp_size_in_bytes", "bptt", "rtrl"
    )
    # BPTT's temp bytes rise above RTRL's as T grows = RTRL's fall below BPTT's.
    result["bptt_exceeds_rtrl_T"] = crossing(T_common, mr, mb) if len(T_common) else None
    # Compared points for the BPTT note: the common ones, with RTRL's linear extension below.
    T_cmp, mb_cmp, mr_cmp = T_common, mb, mr
    extended = False
    if result["bptt_exceeds_rtrl_T"] is None and len(xm) >= 2 and len(xb) and xb[-1] > xm[-1]:
        # RTRL's temp bytes grow linearly in T (copies of the inputs, O(T·(m + o))): extend the
        # line through its last two measured points over BPTT's T beyond RTRL's range.
        beyond = xb > xm[-1]
        ext = _linear_extension(xm, ym, xb[beyond])
        ok = ext > 0
        T_cmp = np.concatenate([T_common, xb[beyond][ok]])
        mb_cmp = np.concatenate([mb, yb[beyond][ok]])
        mr_cmp = np.concatenate([mr, ext[ok]])
        result["bptt_exceeds_rtrl_T"] = crossing(T_cmp, mr_cmp, mb_cmp)
        extended = True
    if len(xr) or len(xh):
        ax_n.plot(xr, yr, "-", **_line("rtrl"))
        ax_n.plot(xh, yh, "-", **_line("hybrid"))
        _mark(
            ax_n,
            result["hybrid_beats_rtrl_n"],
            "hybrid faster than RTRL for n >",
            _none(n_common, ratio, one, "hybrid", "RTRL", "n"),
        )
    else:
        style.no_data(ax_n, "RTRL / hybrid in sweep 'n'")
    last_two = f"T = {xm[-2]:g}, {xm[-1]:g}" if len(xm) >= 2 else ""
    if len(xb) and len(xm):
        ax_T.plot(xb, yb, "-", **_line("bptt"))
        ax_T.plot(xm, ym, "-", **_line("rtrl"))
        if extended:
            grid = np.geomspace(xm[-1], xb[-1], 50)
            line = _linear_extension(xm, ym, grid)
            label = f"RTRL extended linearly in T from its last two points ({last_two})"
            ax_T.plot(grid[line > 0], line[line > 0], ":", color=style.color("rtrl"), label=label)
        what = "BPTT stores more than RTRL for T >"
        bptt_why = _none(T_cmp, mr_cmp, mb_cmp, "RTRL", "BPTT", "T")
        _mark(ax_T, result["bptt_exceeds_rtrl_T"], what, bptt_why)
        n = select(rows, sweep="T", algorithm="bptt")[0]["n"]
        ax_T.set_title(f"n = {n}", fontsize=9)
    else:
        style.no_data(ax_T, "BPTT / RTRL in sweep 'T'")
    style.log_axes(ax_n, "hidden units n", "median wall time per step [s]")
    style.log_axes(
        ax_T, "sequence length T [steps]", "temp_size_in_bytes (memory_analysis) [bytes]"
    )
    for ax in (ax_n, ax_T):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    style.save(fig, out / "crossover.png")
    hybrid_at, bptt_at = result["hybrid_beats_rtrl_n"], result["bptt_exceeds_rtrl_T"]
    hybrid_note = _note(hybrid_at, n_common, (n_common, ratio, one, "hybrid", "RTRL", "n"))
    if not len(n_common) and len(xr) and len(xh):
        hybrid_note = "none: no run measured both at one n (times of two runs are not compared)"
    if len(n_common) and max(runs) > 1:
        hybrid_note += (
            f"; from time ratios within one run, median over up to {max(runs)} runs per n"
        )
    bptt_note = _note(bptt_at, T_common, (T_cmp, mr_cmp, mb_cmp, "RTRL", "BPTT", "T"))
    if extended:
        bptt_note += (
            f"; RTRL's temp bytes extended linearly in T from its last two points ({last_two})"
        )
    n = select(rows, sweep="T", algorithm="bptt")
    bptt_what = f"BPTT temp bytes exceed RTRL's for T > (n = {n[0]['n'] if n else '?'})"
    return {
        "hybrid faster than RTRL for n >": (hybrid_at, hybrid_note),
        bptt_what: (bptt_at, bptt_note),
    }
