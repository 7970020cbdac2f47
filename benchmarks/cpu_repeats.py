"""Several runs of one code version: the time exponents of each run, and of their medians.

On a CPU the time exponents of RTRL and the hybrid move from run to run by more than their
fits' standard errors (the C allocator's history decides how much of each call's scratch
memory is faulted in afresh; ``benchmarks/README.md``). ``nox -s bench -- --force`` appends
another run of the same code version to ``results.jsonl``; the report then fits each run
apart and fits the per-config medians over the runs, so the spread is measured, not guessed.

A run is one bench invocation, told apart by the rows' ``run_id``; a partial rerun (say
``--sweeps n --algorithms rtrl hybrid --force``) is a run of the configs it covers. Rows written
before run ids were recorded are split by order instead: run r is the r-th measurement of each
config key (file order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from gradalgos.plots import theory
from gradalgos.plots.fit import LogLogFit
from gradalgos.plots.results import Row, select, table
from gradalgos.plots.scaling import scaling_fits
from gradalgos.plots.style import NAMES

__all__ = [
    "RunSpread",
    "median_rows",
    "run_spread",
    "split_runs",
    "spread_table",
]

_X, _Y = "n", "time_per_step_s"


class RunSpread(NamedTuple):
    """The time-vs-n exponent of one algorithm over several runs.

    Attributes:
        per_run: the fitted slope of each run that measured the algorithm, in run order.
        pooled: the fit of the per-config median time over all runs (``None``: too few points).
        runs: how many runs measured the algorithm.
    """

    per_run: tuple[float, ...]
    pooled: LogLogFit | None
    runs: int


def split_runs(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows of one code version, in file order → runs, in the order they started.

    Where every row has a ``run_id``, a run is the rows of one id (the last row of each config
    key in it). Otherwise run r holds the r-th row of each config key measured more than r
    times (so run 0 is the first measurement of every config).
    """
    if rows and all(r.get("run_id") for r in rows):
        by_run: dict[str, dict[str, Row]] = {}
        for row in rows:
            by_run.setdefault(row["run_id"], {})[row["key"]] = row
        return [list(run.values()) for run in by_run.values()]
    runs: list[list[Row]] = []
    seen: dict[str, int] = {}
    for row in rows:
        r = seen.get(row["key"], 0)
        seen[row["key"]] = r + 1
        if r == len(runs):
            runs.append([])
        runs[r].append(row)
    return runs


def ok_rows_by_key(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """The successful rows of each config key, in file order (one per run that measured it)."""
    by_key: dict[str, list[Row]] = {}
    for row in select(rows):
        by_key.setdefault(row["key"], []).append(row)
    return by_key


def median_rows(rows: Sequence[Row]) -> list[Row]:
    """One successful row per config key: its last row, with ``time_per_step_s`` the median
    over all its successful rows and ``runs`` their number."""
    timed = (r for r in rows if r.get(_Y) is not None)
    return [
        {**same[-1], _Y: float(np.median([r[_Y] for r in same])), "runs": len(same)}
        for same in ok_rows_by_key(timed).values()
    ]


def run_spread(rows: Sequence[Row], sweep: str = "n") -> dict[str, RunSpread]:
    """Per algorithm of an n sweep (``"n"``, or ``"n-1cpu"`` on one CPU): each run's time
    exponent and the pooled one.

    Arguments:
        rows: every row of one code version, in file order (not only the latest per config).
        sweep: which n sweep.
    """
    per_run = [scaling_fits(run, sweep, _X, _Y) for run in split_runs(rows)]
    pooled = scaling_fits(median_rows(rows), sweep, _X, _Y)
    out = {}
    for alg, fit in pooled.items():
        slopes = tuple(f[alg].slope for f in per_run if f.get(alg) is not None)
        out[alg] = RunSpread(slopes, fit, len(slopes))
    return out


def spread_table(spread: dict[str, RunSpread]) -> str:
    """Markdown: per algorithm, each run's exponent, their range, and the pooled exponent."""
    out = []
    for alg, s in spread.items():
        th = theory.TIME_VS_N.get(alg)
        fit = s.pooled
        pooled = None if fit is None else f"{fit.slope:.3g} ± {fit.slope_se:.2g}"
        rng = "—" if fit is None else f"n = {fit.x_lo:g}…{fit.x_hi:g} ({fit.points} pts)"
        diff = None if fit is None or th is None else abs(fit.slope - th)
        low_high = f"{min(s.per_run):.2f} … {max(s.per_run):.2f}" if s.per_run else "—"
        out.append(
            [
                NAMES.get(alg, alg),
                th,
                s.runs,
                " ".join(f"{v:.2f}" for v in s.per_run),
                low_high,
                pooled,
                diff,
                rng,
            ]
        )
    headers = [
        "algorithm",
        "theory",
        "runs",
        "exponent of each run",
        "min … max",
        "exponent of the per-config medians ± s.e.",
        "|diff|",
        "fit range",
    ]
    return table(headers, out) if out else "No n sweep measured.\n"


def spread_section(every: Sequence[Row]) -> str:
    """Each run's time exponent and the pooled one (all CPUs, then one CPU where measured),
    or how to measure more runs; ``every``: every row of one code version, all runs."""
    spread, one_cpu = run_spread(every), run_spread(every, "n-1cpu")
    runs = max((s.runs for s in spread.values()), default=0)
    how = (
        "`nox -s bench -- --force` appends another run of this code version to the results "
        "file; a partial rerun such as `--sweeps n --algorithms rtrl hybrid --force` adds runs "
        "of the configs it covers."
    )
    if runs < 2:
        return f"One run of this code version. {how} This section then fits each run apart.\n"
    text = (
        f"Up to {runs} runs of this code version's n sweep (told apart by the rows' `run_id`; "
        "rows without one: run r = the r-th measurement of each config). Each run is fitted "
        "apart (the report's fit rule), and *exponent of the per-config medians* fits the "
        f"median time of each config over all its runs. {how}\n\n" + spread_table(spread)
    )
    if one_cpu:
        text += "\nThe same for the one-CPU sweep (`n-1cpu`):\n\n" + spread_table(one_cpu)
    return text
