"""The report's tables: fitted exponents, agreement, baselines, acceptance and failures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots import theory
from gradalgos.plots.crossover import Crossovers
from gradalgos.plots.fit import LogLogFit, local_slopes
from gradalgos.plots.markdown import fmt, table
from gradalgos.plots.repeats import RunSpread
from gradalgos.plots.results import Row, run_of, select, within_run_ratios
from gradalgos.plots.scaling import ScalingFits, too_small
from gradalgos.plots.style import NAMES, series

__all__ = [
    "EXACT",
    "EXACT_BASELINES",
    "acceptance_table",
    "agreement_table",
    "baseline_table",
    "exponent_table",
    "failed_table",
    "measurements_table",
]

#: gradalgos's exact algorithms (the registry's), which the acceptance criteria judge.
EXACT = registry.names(exact=True)
#: The baselines, exact too: their worst error is listed beside the criteria, not judged.
EXACT_BASELINES = ("jax-scan", "torch")
#: (figure, x field, y field, theory) of the exponent table, by quantity.
QUANTITIES = {
    "time/step vs n": ("n", "n", "time_per_step_s", theory.TIME_VS_N),
    "time/step vs n, one CPU": ("n-1cpu", "n", "time_per_step_s", theory.TIME_VS_N),
    "temp bytes vs T": ("T", "T", "mem_temp_size_in_bytes", theory.MEMORY_VS_T),
    "temp bytes vs n": ("n", "n", "mem_temp_size_in_bytes", theory.MEMORY_VS_N),
}


def exponent_table(rows: Sequence[Row], fits: dict[str, ScalingFits]) -> str:
    """Fitted exponent, theory, fit range and r², and the local slopes between points. Where
    the fitted points (the last measurement of each config) come from several runs, the fit
    range says how many."""
    out = []
    for quantity, alg_fits in fits.items():
        sweep, x, y, expected = QUANTITIES[quantity]
        for alg, fit in alg_fits.items():
            pts = [r for r in select(rows, sweep=sweep, algorithm=alg) if r["cell"] == "elman"]
            local = " ".join(f"{s:.2f}" for _, _, s in local_slopes(*series(pts, x, y)))
            th = expected.get(alg)
            if fit is None:
                small = "too small to fit" if too_small(rows, sweep, alg, x) else "—"
                out.append([quantity, NAMES.get(alg, alg), None, th, None, small, None, local])
                continue
            diff = abs(fit.slope - th) if th is not None else None
            runs = {run_of(r) for r in pts if fit.x_lo <= r[x] <= fit.x_hi}
            mixed = f", from {len(runs)} runs" if len(runs) > 1 else ""
            rng = f"{x} = {fit.x_lo:g}…{fit.x_hi:g} ({fit.points} pts{mixed})"
            fitted = f"{fit.slope:.3g} ± {fit.slope_se:.2g}" if fit.points > 2 else fit.slope
            out.append([quantity, NAMES.get(alg, alg), fitted, th, diff, rng, fit.r2, local])
    headers = [
        "quantity",
        "algorithm",
        "fitted ± s.e.",
        "theory",
        "|diff|",
        "fit range",
        "r²",
        "local slopes (small → large)",
    ]
    return table(headers, out)


def agreement_table(rows: Sequence[Row], cosine: bool = True) -> str:
    """Worst relative L2 error (and, with ``cosine``, its 1 − cosine) vs the float64 reference,
    algorithm × cell × dtype, over the agreement sweep."""
    rows = select(rows, sweep="agreement")
    cells = sorted({r["cell"] for r in rows})
    out = []
    for alg in sorted({r["algorithm"] for r in rows}):
        for dtype in ("float32", "float64"):
            line: list = [NAMES.get(alg, alg), dtype]
            for cell in cells:
                pts = select(rows, algorithm=alg, cell=cell, dtype=dtype)
                if not pts:
                    line.append(None)
                    continue
                pts = [r for r in pts if r.get("rel_err") is not None]
                if not pts:  # torch LSTM/GRU: own initialisation, timed but not compared
                    line.append("not compared")
                    continue
                worst = max(pts, key=lambda r: r["rel_err"])
                err = fmt(worst["rel_err"], 2)
                line.append(f"{err} / {fmt(1 - worst['cosine'], 2)}" if cosine else err)
            out.append(line)
    return table(["algorithm", "dtype", *cells], out)


def baseline_table(rows: Sequence[Row]) -> str:
    """Time per step of each algorithm / the hand-written jax.grad(scan) baseline, per n.

    Each ratio divides two times measured in one run (:func:`~.results.run_of`); where several
    runs measured both, the table gives the median of their ratios, and *runs* counts the runs
    that measured the baseline at that n.

    Arguments:
        rows: every row of one code version and machine (all runs, not only the latest).
    """
    rows = select(rows, sweep="n", cell="elman")
    offline = (*registry.names(online=False), "torch")  # BPTT-like: the baseline's T
    algs = [a for a in offline if select(rows, algorithm=a)]
    ratios = {alg: within_run_ratios(rows, alg, "jax-scan") for alg in algs}
    out = []
    for n in sorted({r["n"] for r in select(rows, algorithm="jax-scan")}):
        base = select(rows, algorithm="jax-scan", n=n)
        line: list = [
            n,
            float(np.median([r["time_per_step_s"] for r in base])),
            len({run_of(r) for r in base}),
        ]
        line += [float(np.median(ratios[a][n])) if n in ratios[a] else None for a in algs]
        out.append(line)
    headers = ["n", "jax.grad(scan) s/step", "runs", *(f"{NAMES[a]} / baseline" for a in algs)]
    return table(headers, out)


def _worst_rel_err(
    rows: Sequence[Row], dtype: str, algorithms: Sequence[str] = EXACT
) -> tuple[float | None, str]:
    pts = [
        r
        for r in select(rows, dtype=dtype)
        if r["algorithm"] in algorithms and r.get("rel_err") is not None
    ]
    if not pts:
        return None, "no data"
    worst = max(pts, key=lambda r: r["rel_err"])
    return worst["rel_err"], worst["label"]


def acceptance_table(
    rows: Sequence[Row],
    fits: dict[str, ScalingFits],
    cross: Crossovers,
    info: dict[str, tuple[float | None, str]] | None = None,
    spread: dict[str, RunSpread] | None = None,
    spread_one_cpu: dict[str, RunSpread] | None = None,
) -> str:
    """The acceptance figures of the benchmark issue, each with its measured value, then the
    crossovers and any other ``info`` rows (``{description: (value, note)}``). With ``spread``
    from two runs or more, the time exponents are also given for the per-config medians, and
    likewise those of the one-CPU sweep with ``spread_one_cpu``."""
    out = []

    def check(criterion: str, value: float | None, ok: bool | None, where: str) -> None:
        verdict = "no data" if ok is None else "PASS" if ok else "FAIL"
        out.append([criterion, value, verdict, where])

    def time_exponent(alg: str, fit: LogLogFit | None, over: str) -> None:
        th = theory.TIME_VS_N[alg]
        ok = None if fit is None else abs(fit.slope - th) <= 0.3
        where = f"n = {fit.x_lo:g}…{fit.x_hi:g}" if fit else ""
        if fit is None and too_small(rows, "n-1cpu" if "one CPU" in over else "n", alg):
            out.append([f"{NAMES[alg]} time exponent vs n{over}", None, "too small to fit", ""])
            return
        check(f"{NAMES[alg]} time exponent vs n{over} = {th} ± 0.3", fit and fit.slope, ok, where)

    for alg in ("bptt", "rtrl", "hybrid"):
        time_exponent(alg, fits["time/step vs n"].get(alg), "")
    for alg, fit in fits.get("time/step vs n, one CPU", {}).items():
        time_exponent(alg, fit, ", one CPU (sweep n-1cpu)")
    for over, spreads in (("", spread), (", one CPU", spread_one_cpu)):
        for alg in ("bptt", "rtrl", "hybrid"):
            runs = spreads.get(alg) if spreads else None
            if runs is not None and runs.runs >= 2:
                time_exponent(alg, runs.pooled, f"{over}, median time of {runs.runs} runs")
    fit = fits["temp bytes vs T"].get("bptt")
    where = f"T = {fit.x_lo:g}…{fit.x_hi:g}" if fit else ""
    ok = None if fit is None else abs(fit.slope - 1) <= 0.1
    if fit is None and too_small(rows, "T", "bptt", "T"):
        out.append(["BPTT temp-memory exponent vs T", None, "too small to fit", ""])
    else:
        check("BPTT temp-memory exponent vs T = 1 ± 0.1", fit and fit.slope, ok, where)
    mem = {
        a: [r["mem_temp_size_in_bytes"] for r in select(rows, sweep="T", algorithm=a, T=4096)]
        for a in ("bptt", "checkpointed")
    }
    ratio = mem["checkpointed"][0] / mem["bptt"][0] if all(mem.values()) else None
    n = select(rows, sweep="T", T=4096)[0]["n"] if ratio is not None else "?"
    check(
        "checkpointed temp bytes / BPTT's at T = 4096 ≤ 0.10",
        ratio,
        None if ratio is None else ratio <= 0.10,
        f"n = {n}",
    )
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-10)):
        worst, where = _worst_rel_err(rows, dtype)
        check(
            f"exact algorithms: worst relative error, {dtype} ≤ {tol:g}",
            worst,
            None if worst is None else worst <= tol,
            f"worst: {where}",
        )
    for dtype in ("float32", "float64"):
        worst, where = _worst_rel_err(rows, dtype, EXACT_BASELINES)
        if worst is not None:
            out.append([f"baselines: worst relative error, {dtype}", worst, "info", where])
    for name, (value, note) in cross.items():
        out.append([f"crossover: {name}", value, "info", note])
    for name, (value, note) in (info or {}).items():
        out.append([name, value, "info", note])
    return table(["criterion", "measured", "verdict", "where"], out)


def failed_table(all_rows: Sequence[Row]) -> str:
    """Every failed config (of the reported code version) with its reason."""
    failed = [r for r in all_rows if r.get("status") != "ok"]
    return table(["config", "reason"], [[r["label"], r.get("reason")] for r in failed])


def measurements_table(rows: Sequence[Row]) -> str:
    """Every successful measurement, compact."""
    out = [
        [
            r["label"],
            r["time_median_s"],
            r["time_min_s"],
            r["time_per_step_s"],
            r["compile_s"],
            r.get("mem_temp_size_in_bytes"),
            r.get("gflops") if r.get("device") != "gpu" else None,  # see schema: CPU only
            r.get("rel_err"),
        ]
        for r in sorted(select(rows), key=lambda r: r["label"])
    ]
    headers = [
        "config",
        "median s",
        "min s",
        "s/step",
        "compile s",
        "temp bytes",
        "GFLOP/s",
        "rel err",
    ]
    return table(headers, out)
