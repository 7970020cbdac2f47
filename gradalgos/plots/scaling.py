"""Log-log scaling figures with fitted slopes beside the theory: time vs n, memory vs T and n."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots import style, theory
from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.results import BASELINES, Row, select

__all__ = ["MIN_FIT_X", "ScalingFits", "figure_memory_vs_T", "figure_memory_vs_n"]
__all__ += ["figure_time_vs_n", "main_cell", "scaling_fits", "too_small"]

#: ``{algorithm: fit or None}`` for one figure.
ScalingFits = dict[str, LogLogFit | None]

#: Legend order: the offline algorithms, the baselines, then the online ones (registry order).
_ORDER = (*registry.names(online=False), *BASELINES, *registry.names(online=True))


def main_cell(rows: Sequence[Row]) -> list[Row]:
    """Rows of one cell (elman if measured) and one dtype, so that lines are comparable."""
    if not rows:
        return []
    cells = {r["cell"] for r in rows}
    cell = "elman" if "elman" in cells else sorted(cells)[0]
    dtype = "float32" if any(r["dtype"] == "float32" for r in rows) else rows[0]["dtype"]
    return [r for r in rows if r["cell"] == cell and r["dtype"] == dtype]


#: A fit's largest x must reach this (by x field): below it per-call overheads dominate and
#: no exponent means anything (a ``--quick`` run: "too small to fit").
MIN_FIT_X: dict[str, float] = {"n": 128, "T": 1024}


def scaling_fits(rows: Sequence[Row], sweep: str, x: str, y: str) -> ScalingFits:
    """Fitted log-log slope of ``y`` vs ``x`` per algorithm in ``sweep`` (top two octaves);
    ``None`` where the points stop below :data:`MIN_FIT_X`."""
    rows = main_cell(select(rows, sweep=sweep))
    out: ScalingFits = {}
    for alg in _ORDER:
        xs, ys = style.series(select(rows, algorithm=alg), x, y)
        if len(xs):
            big = xs.max() >= MIN_FIT_X.get(x, 0)
            out[alg] = fit_loglog(xs, ys) if big else None
    return out


def too_small(rows: Sequence[Row], sweep: str, alg: str, x: str = "n") -> bool:
    """Whether ``alg`` has points in ``sweep`` that all stop below :data:`MIN_FIT_X`."""
    xs = [r[x] for r in select(rows, sweep=sweep, algorithm=alg)]
    return bool(xs) and max(xs) < MIN_FIT_X.get(x, 0)


def _plot(
    ax: Any, rows: Sequence[Row], sweep: str, x: str, y: str, expected: dict[str, float]
) -> ScalingFits:
    rows = main_cell(select(rows, sweep=sweep))
    fits = scaling_fits(rows, sweep, x, y)
    if not _positive(style.series(rows, x, y)[1]).size:
        style.no_data(ax, f"{y} in sweep {sweep!r}")
        return fits
    for alg, fit in fits.items():
        xs, ys = style.series(select(rows, algorithm=alg), x, y)
        label = style.label(alg)
        if fit is not None:
            label += f": slope {fit.slope:.2f} (fit {x} {fit.x_lo:g}–{fit.x_hi:g})"
            grid = np.geomspace(fit.x_lo, fit.x_hi, 20)
            ax.plot(grid, fit(grid), "-", color=style.color(alg), lw=5, alpha=0.25)
            if alg in expected:
                label += f", theory {expected[alg]:g}"
                anchor = fit(fit.x_hi)
                ref = anchor * (grid / fit.x_hi) ** expected[alg]
                ax.plot(grid, ref, ":", color=style.color(alg), lw=1.5)
        ax.plot(xs, ys, marker=style.marker(alg), color=style.color(alg), lw=1, label=label)
    ax.legend(fontsize=7, loc="upper left")
    return fits


def _positive(values: np.ndarray) -> np.ndarray:
    """The values a log axis can show."""
    return values[np.isfinite(values) & (values > 0)]


def _figure(
    rows: Sequence[Row],
    out: Path,
    name: str,
    title: str,
    axes: tuple[str, str, str, str, str],
    expected: dict[str, float],
    note: str,
) -> ScalingFits:
    """One log-log figure; ``axes`` = (sweep, x field, y field, x label, y label)."""
    sweep, x, y, xlabel, ylabel = axes
    fig, (ax,) = style.subplots(1, title, width=8)
    fits = _plot(ax, rows, sweep, x, y, expected)
    style.log_axes(ax, xlabel, ylabel)
    style.note(ax, note)
    style.save(fig, out / name)
    return fits


_TEMP = "temp_size_in_bytes (memory_analysis) [bytes]"


def figure_time_vs_n(rows: Sequence[Row], out: Path) -> ScalingFits:
    """``time_vs_n.png``: median wall time per step vs n (log-log)."""
    axes = ("n", "n", "time_per_step_s", "hidden units n", "median wall time per step [s]")
    note = "thick: least-squares fit over the top 2 octaves; dotted: theory slope"
    title = "Time per step vs hidden size n\n" + _sweep_T(rows)
    return _figure(rows, out, "time_vs_n.png", title, axes, theory.TIME_VS_N, note)


def figure_memory_vs_T(rows: Sequence[Row], out: Path) -> ScalingFits:
    """``memory_vs_T.png``: XLA temp bytes vs T at fixed n (log-log)."""
    n = sorted({r["n"] for r in select(rows, sweep="T")}) or ["?"]
    axes = ("T", "T", "mem_temp_size_in_bytes", "sequence length T [steps]", _TEMP)
    note = "hybrid: T ≥ 4·S so that M is carried; RTRL: T ≤ its time budget"
    title = f"XLA temporary memory vs sequence length (n = {n[0]})"
    return _figure(rows, out, "memory_vs_T.png", title, axes, theory.MEMORY_VS_T, note)


def figure_memory_vs_n(rows: Sequence[Row], out: Path) -> ScalingFits:
    """``memory_vs_n.png``: XLA temp bytes vs n in the n sweep (log-log)."""
    axes = ("n", "n", "mem_temp_size_in_bytes", "hidden units n", _TEMP)
    note = "T differs by algorithm: compare slopes, not levels across T"
    title = "XLA temporary memory vs hidden size n\n" + _sweep_T(rows)
    return _figure(rows, out, "memory_vs_n.png", title, axes, theory.MEMORY_VS_N, note)


def _sweep_T(rows: Sequence[Row]) -> str:
    """The n sweep's sequence lengths, grouped: ``"T = 8: bptt, tbptt; T = 2n: hybrid"``."""
    groups: dict[str, list[str]] = {}
    for alg in _ORDER:
        pts = select(rows, sweep="n", algorithm=alg)
        Ts = sorted({r["T"] for r in pts})
        if len(Ts) == 1:
            groups.setdefault(f"T = {Ts[0]}", []).append(alg)
        elif Ts and len({r["T"] / r["n"] for r in pts}) == 1:
            groups.setdefault(f"T = {pts[0]['T'] // pts[0]['n']}n", []).append(alg)
        elif Ts:
            groups.setdefault(f"T = {Ts[0]}…{Ts[-1]}", []).append(alg)
    return "; ".join(f"{t}: {', '.join(algs)}" for t, algs in groups.items())
