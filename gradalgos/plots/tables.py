"""The report's tables: fitted exponents (with their tolerance checks), agreement, baselines,
the remaining acceptance checks, failures and every measurement."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots import theory
from gradalgos.plots.crossover import Crossovers
from gradalgos.plots.fit import local_slopes
from gradalgos.plots.headline import worst_errors
from gradalgos.plots.results import BASELINES, Row, run_of, select, table, within_run_ratios
from gradalgos.plots.scaling import ScalingFits, too_small
from gradalgos.plots.style import NAMES, series

__all__ = ["EXACT", "acceptance_table", "agreement_table", "baseline_table", "exponent_table"]
__all__ += ["failed_table", "measurements_table"]

#: gradalgos's exact algorithms (the registry's), which the acceptance criteria judge.
EXACT = registry.names(exact=True)
#: (sweep, x field, y field, theory) of the exponent table, by quantity.
QUANTITIES = {
    "time/step vs n": ("n", "n", "time_per_step_s", theory.TIME_VS_N),
    "temp bytes vs T": ("T", "T", "mem_temp_size_in_bytes", theory.MEMORY_VS_T),
    "temp bytes vs n": ("n", "n", "mem_temp_size_in_bytes", theory.MEMORY_VS_N),
}
#: Acceptance tolerances of a fitted exponent against its theory: {(quantity, algorithm): ±}.
TOLERANCES = {("time/step vs n", a): 0.3 for a in ("bptt", "rtrl", "hybrid")}
TOLERANCES[("temp bytes vs T", "bptt")] = 0.1


def _diff(quantity: str, alg: str, diff: float | None) -> str | float | None:
    """``|diff|``, with its verdict where an acceptance tolerance applies."""
    tol = TOLERANCES.get((quantity, alg))
    if diff is None or tol is None:
        return diff
    return f"{diff:.3g} ({'PASS' if diff <= tol else 'FAIL'}: ≤ {tol:g})"


def exponent_table(rows: Sequence[Row], fits: dict[str, ScalingFits]) -> str:
    """Fitted exponent, theory, |diff| (PASS/FAIL where :data:`TOLERANCES` judges it), fit
    range (and how many runs its points come from), r², and the local slopes between points."""
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
            diff = _diff(quantity, alg, abs(fit.slope - th) if th is not None else None)
            runs = {run_of(r) for r in pts if fit.x_lo <= r[x] <= fit.x_hi}
            mixed = f", from {len(runs)} runs" if len(runs) > 1 else ""
            rng = f"{x} = {fit.x_lo:g}…{fit.x_hi:g} ({fit.points} pts{mixed})"
            fitted = f"{fit.slope:.3g} ± {fit.slope_se:.2g}" if fit.points > 2 else fit.slope
            out.append([quantity, NAMES.get(alg, alg), fitted, th, diff, rng, fit.r2, local])
    headers = ["quantity", "algorithm", "fitted ± s.e.", "theory", "|diff|", "fit range", "r²"]
    return table([*headers, "local slopes (small → large)"], out)


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
                compared = [r for r in pts if r.get("rel_err") is not None]
                if not compared:  # torch LSTM/GRU: own initialisation, timed only
                    line.append("not compared" if pts else None)
                    continue
                worst = max(compared, key=lambda r: r["rel_err"])
                err = f"{worst['rel_err']:.2g}"
                line.append(f"{err} / {1 - worst['cosine']:.2g}" if cosine else err)
            out.append(line)
    return table(["algorithm", "dtype", *cells], out)


def baseline_table(rows: Sequence[Row]) -> str:
    """Time per step of each offline algorithm / the hand-written jax.grad(scan) baseline per
    n: the median over the runs (``rows``: every row of one version) of ratios within one run;
    *runs* counts the runs that measured the baseline at that n."""
    rows = select(rows, sweep="n", cell="elman")
    offline = (*registry.names(online=False), "torch")  # BPTT-like: the baseline's T
    algs = [a for a in offline if select(rows, algorithm=a)]
    ratios = {alg: within_run_ratios(rows, alg, "jax-scan") for alg in algs}
    out = []
    for n in sorted({r["n"] for r in select(rows, algorithm="jax-scan")}):
        base = select(rows, algorithm="jax-scan", n=n)
        line = [n, float(np.median([r["time_per_step_s"] for r in base]))]
        line += [len({run_of(r) for r in base})]
        line += [float(np.median(ratios[a][n])) if n in ratios[a] else None for a in algs]
        out.append(line)
    headers = ["n", "jax.grad(scan) s/step", "runs", *(f"{NAMES[a]} / baseline" for a in algs)]
    return table(headers, out)


def acceptance_table(
    rows: Sequence[Row],
    fits: dict[str, ScalingFits],
    cross: Crossovers,
    info: dict[str, tuple[float | None, str]] | None = None,
) -> str:
    """The acceptance checks the exponent table does not carry (memory of checkpointing,
    worst errors), then the crossovers and other ``info`` rows (``{what: (value, note)}``)."""
    out = []

    def check(criterion: str, value: float | None, ok: bool | None, where: str) -> None:
        out.append([criterion, value, "no data" if ok is None else "PASS" if ok else "FAIL", where])

    mem = {
        a: [r["mem_temp_size_in_bytes"] for r in select(rows, sweep="T", algorithm=a, T=4096)]
        for a in ("bptt", "checkpointed")
    }
    ratio = mem["checkpointed"][0] / mem["bptt"][0] if all(mem.values()) else None
    n = select(rows, sweep="T", T=4096)[0]["n"] if ratio is not None else "?"
    ok = None if ratio is None else ratio <= 0.10
    check("checkpointed temp bytes / BPTT's at T = 4096 ≤ 0.10", ratio, ok, f"n = {n}")
    exact, baselines = worst_errors(rows, EXACT, None), worst_errors(rows, BASELINES, None)
    for dtype, tol in (("float32", 1e-5), ("float64", 1e-10)):
        worst, where = exact.get(dtype, (None, "no data"))
        ok = None if worst is None else worst <= tol
        check(f"exact algorithms: worst relative error, {dtype} ≤ {tol:g}", worst, ok, where)
    for dtype, (worst, where) in sorted(baselines.items()):
        out.append([f"baselines: worst relative error, {dtype}", worst, "info", where])
    out += [[f"crossover: {name}", value, "info", note] for name, (value, note) in cross.items()]
    out += [[name, value, "info", note] for name, (value, note) in (info or {}).items()]
    return table(["criterion", "measured", "verdict", "where"], out)


def failed_table(all_rows: Sequence[Row]) -> str:
    """Every failed config (of the reported code version) with its reason."""
    failed = [r for r in all_rows if r.get("status") != "ok"]
    return table(["config", "reason"], [[r["label"], r.get("reason")] for r in failed])


def measurements_table(rows: Sequence[Row]) -> str:
    """Every successful measurement, compact (GFLOP/s: CPU only, see the schema)."""
    fields = ("label", "time_median_s", "time_min_s", "time_per_step_s", "compile_s")
    fields += ("mem_temp_size_in_bytes", "gflops", "rel_err")
    out = [
        [None if f == "gflops" and r.get("device") == "gpu" else r.get(f) for f in fields]
        for r in sorted(select(rows), key=lambda r: r["label"])
    ]
    headers = ["config", "median s", "min s", "s/step", "compile s", "temp bytes", "GFLOP/s"]
    return table([*headers, "rel err"], out)
