"""Crossovers: where the hybrid gets faster than RTRL, and where BPTT stores more than RTRL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row, select

__all__ = ["Crossovers", "crossing", "figure_crossover"]

#: ``{name: (value or None, how it was found / why there is none)}``.
Crossovers = dict[str, tuple[float | None, str]]


def crossing(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """First x at which ``a − b`` changes sign from ≥ 0 to < 0 or back, by linear
    interpolation of log(a/b) in log x over matching x; ``None`` if it never does."""
    if len(x) < 2:
        return None
    d = np.log(a) - np.log(b)
    for i in range(len(x) - 1):
        if d[i] == 0:
            return float(x[i])
        if d[i] * d[i + 1] < 0:
            lx = np.log(x[i]) + (np.log(x[i + 1]) - np.log(x[i])) * d[i] / (d[i] - d[i + 1])
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
        ax.text(
            0.5,
            0.02,
            f"no crossover in the measured range: {otherwise}",
            fontsize=8,
            ha="center",
            transform=ax.transAxes,
        )


def _lower(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> str:
    if not len(a):
        return "no common points"
    return f"{name_a} lower at every point" if np.all(a < b) else f"{name_b} lower at every point"


def figure_crossover(rows: Sequence[Row], out: Path) -> Crossovers:
    """``crossover.png`` (left: time per step vs n, RTRL vs hybrid with h = S; right: XLA temp
    bytes vs T, BPTT vs RTRL). Returns ``hybrid_beats_rtrl_n`` and ``bptt_exceeds_rtrl_T``
    (log-log interpolation between measured points)."""
    fig, (ax_n, ax_T) = style.subplots(2, "Crossovers (measured, elman)")
    result: dict[str, float | None] = {}
    (xr, yr), (xh, yh), n_common, tr, th = _common(
        rows, "n", "n", "time_per_step_s", "rtrl", "hybrid"
    )
    result["hybrid_beats_rtrl_n"] = crossing(n_common, tr, th) if len(n_common) else None
    (xb, yb), (xm, ym), T_common, mb, mr = _common(
        rows, "T", "T", "mem_temp_size_in_bytes", "bptt", "rtrl"
    )
    result["bptt_exceeds_rtrl_T"] = crossing(T_common, mb, mr) if len(T_common) else None
    extrapolated = False
    if result["bptt_exceeds_rtrl_T"] is None and len(T_common) and xb[-1] > T_common[-1]:
        # RTRL's memory does not depend on T (theory): hold its last value beyond its range.
        beyond = xb >= T_common[-1]
        flat = np.full(int(beyond.sum()), mr[-1])
        result["bptt_exceeds_rtrl_T"] = crossing(xb[beyond], yb[beyond], flat)
        extrapolated = result["bptt_exceeds_rtrl_T"] is not None
    if len(xr) or len(xh):
        ax_n.plot(xr, yr, "D-", color=style.color("rtrl"), label="RTRL")
        ax_n.plot(xh, yh, "v-", color=style.color("hybrid"), label="hybrid (h = S)")
        _mark(
            ax_n,
            result["hybrid_beats_rtrl_n"],
            "hybrid faster than RTRL for n >",
            _lower(th, tr, "hybrid", "RTRL"),
        )
    else:
        style.no_data(ax_n, "RTRL / hybrid in sweep 'n'")
    ax_n.set_xlabel("hidden units n")
    ax_n.set_ylabel("median wall time per step [s]")
    if len(xb) and len(xm):
        ax_T.plot(xb, yb, "o-", color=style.color("bptt"), label="BPTT")
        ax_T.plot(xm, ym, "D-", color=style.color("rtrl"), label="RTRL")
        if extrapolated:
            ax_T.plot(
                [xm[-1], xb[-1]],
                [ym[-1], ym[-1]],
                ":",
                color=style.color("rtrl"),
                label="RTRL held flat beyond its measured T (theory: O(1) in T)",
            )
        what = "BPTT stores more than RTRL for T >"
        _mark(ax_T, result["bptt_exceeds_rtrl_T"], what, _lower(mb, mr, "BPTT", "RTRL"))
        n = select(rows, sweep="T", algorithm="bptt")[0]["n"]
        ax_T.set_title(f"n = {n}", fontsize=9)
    else:
        style.no_data(ax_T, "BPTT / RTRL in sweep 'T'")
    ax_T.set_xlabel("sequence length T [steps]")
    ax_T.set_ylabel("temp_size_in_bytes (memory_analysis) [bytes]")
    for ax in (ax_n, ax_T):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    style.save(fig, out / "crossover.png")
    hybrid_note = _lower(th, tr, "hybrid", "RTRL") if len(n_common) else "no data"
    bptt_note = _lower(mb, mr, "BPTT", "RTRL") if len(T_common) else "no data"
    if extrapolated:
        bptt_note = f"RTRL's temp bytes at T = {T_common[-1]:g} held flat beyond (O(1) in T)"
    n = select(rows, sweep="T", algorithm="bptt")
    return {
        "hybrid faster than RTRL for n >": (
            result["hybrid_beats_rtrl_n"],
            "interpolated" if result["hybrid_beats_rtrl_n"] else f"none: {hybrid_note}",
        ),
        f"BPTT temp bytes exceed RTRL's for T > (n = {n[0]['n'] if n else '?'})": (
            result["bptt_exceeds_rtrl_T"],
            bptt_note if result["bptt_exceeds_rtrl_T"] else f"none: {bptt_note}",
        ),
    }
