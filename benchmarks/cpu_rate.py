"""Achieved rate of RTRL's and the hybrid's dominant products vs n: why a time exponent can
sit below its operation-count exponent.

The time per step is (operations per step) / (achieved rate). The operation counts follow the
theory exactly (RTRL: 2·S²·P per propagating step; the hybrid: per propagating block of h
steps, 2·h·S³ for the state back-pass, 2·h·S·P for D and 2·S²·P for J·M, so ∝ n³ per step at
h = S). Where the achieved rate still rises with n, the fitted time exponent is the
operation-count exponent minus the rate's own log-log slope. A flat curve here means the
time exponent measures the operation count.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gradalgos.plots import style
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.results import Row, select
from gradalgos.plots.scaling import main_cell

__all__ = ["RATE_ALGORITHMS", "dominant_flops", "figure_rate_vs_n"]

#: The GEMM-bound algorithms whose rate is shown.
RATE_ALGORITHMS = ("rtrl", "hybrid")


def dominant_flops(row: Row) -> float | None:
    """FLOPs of the dominant products of one measured call (a dense cell, state Jacobian S×S).

    RTRL: ``(T − 1)·2·S²·P`` (the last step does not propagate M). Hybrid with block h:
    ``n_prop·(2·h·S³ + 2·h·S·P + 2·S²·P)``, ``n_prop`` the blocks that propagate M (all but the
    last). P is the number of parameters M is carried for (``P_state``: readouts excluded;
    rows measured before that field existed carried M for all ``P``). ``None`` for other
    algorithms.
    """
    alg, S, T = row.get("algorithm"), row.get("S"), row.get("T")
    P = row.get("P_state", row.get("P"))
    if None in (S, P, T):
        return None
    if alg == "rtrl":
        return (T - 1) * 2.0 * S * S * P
    if alg == "hybrid":
        block = (row.get("settings") or {}).get("block")
        h = S if block in (None, "n") else int(block)
        h = min(h, T)
        n_prop = (T - (T % h or h)) // h
        return n_prop * (2.0 * h * S**3 + 2.0 * h * S * P + 2.0 * S * S * P)
    return None


def _rates(rows: Sequence[Row], alg: str) -> list[tuple[float, float]]:
    """``(n, GFLOP/s)`` of the n-sweep rows of ``alg`` (dominant products), of the same cell
    and dtype as the time-vs-n figure (:func:`~gradalgos.plots.scaling.main_cell`)."""
    out = []
    for r in main_cell(select(rows, sweep="n", algorithm=alg)):
        flops = dominant_flops(r)
        if flops and r.get("time_median_s"):
            out.append((float(r["n"]), flops / r["time_median_s"] / 1e9))
    return sorted(out)


def figure_rate_vs_n(rows: Sequence[Row], out: Path) -> dict[str, LogLogFit | None]:
    """``rate_vs_n.png``: achieved GFLOP/s of the dominant products vs n; returns the rate's
    log-log fit per algorithm (same range rule as the time fits)."""
    fig, (ax,) = style.subplots(1, "Achieved rate of the dominant products vs n", width=8)
    fits: dict[str, LogLogFit | None] = {}
    for alg in RATE_ALGORITHMS:
        pts = _rates(rows, alg)
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        fit = fits[alg] = fit_loglog(xs, ys)
        label = style.NAMES.get(alg, alg)
        if fit is not None:
            label += f": rate slope {fit.slope:.2f} (n {fit.x_lo:g}–{fit.x_hi:g})"
        ax.plot(xs, ys, marker=style.marker(alg), color=style.color(alg), label=label)
    if not fits:
        style.no_data(ax, "RTRL / hybrid in sweep 'n'")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden units n")
    ax.set_ylabel("dominant-product FLOPs / median call time [GFLOP/s]")
    ax.grid(True, which="both", alpha=0.3)
    if fits:
        ax.legend(fontsize=8, loc="lower right")
    note = "time exponent = operation-count exponent − rate slope\n"
    note += "RTRL: 2·S²·P per propagating step; hybrid: 2hS³ + 2hSP + 2S²P per block"
    ax.text(0.01, 0.99, note, ha="left", va="top", fontsize=7, transform=ax.transAxes)
    style.save(fig, out / "rate_vs_n.png")
    return fits
