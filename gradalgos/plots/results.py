"""Reading the result rows (their schema and reader live in :mod:`gradalgos.bench`, which never
imports the plots), selecting the comparable ones, and markdown tables of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gradalgos.bench.schema import BASELINES, MACHINE_FIELDS
from gradalgos.bench.store import load_rows

__all__ = ["BASELINES", "Row", "comparable", "fmt", "latest", "load_rows", "on_gpu", "select"]
__all__ += ["run_of", "table", "within_run_ratios"]

Row = dict[str, Any]


def _machine(row: Row) -> tuple:
    return tuple(row.get(field) for field in MACHINE_FIELDS)


def on_gpu(rows: Iterable[Row]) -> bool:
    """Whether ``rows`` (of one machine) were measured on a GPU."""
    return any(r.get("device") == "gpu" for r in rows)


def comparable(rows: Iterable[Row], code_version: str | None = None) -> list[Row]:
    """The rows of one code version (default: the last row's) measured on one machine (the
    last row of that version's), in file order: rows whose times may be compared."""
    rows = list(rows)
    version = code_version or (rows[-1].get("code_version") if rows else None)
    rows = [r for r in rows if r.get("code_version") == version]
    return [r for r in rows if _machine(r) == _machine(rows[-1])] if rows else []


def latest(rows: Iterable[Row], code_version: str | None = None) -> list[Row]:
    """The last row of each config key among the :func:`comparable` rows (a config measured
    again is shown once, as measured last)."""
    return list({row["key"]: row for row in comparable(rows, code_version)}.values())


def select(rows: Iterable[Row], ok: bool = True, **where: Any) -> list[Row]:
    """Rows whose fields equal ``where`` (e.g. ``sweep="n"``); with ``ok`` successful only."""
    return [
        r
        for r in rows
        if (not ok or r.get("status") == "ok") and all(r.get(k) == v for k, v in where.items())
    ]


def run_of(row: Row) -> tuple:
    """The run (one bench invocation) that wrote ``row``: its ``run_id``, or for older rows
    its (git commit, command)."""
    if row.get("run_id"):
        return ("run", row["run_id"])
    return ("commit+command", row.get("git_commit"), row.get("command"))


def within_run_ratios(
    rows: Iterable[Row],
    num: str,
    den: str,
    x: str = "n",
    y: str = "time_per_step_s",
    by: str = "algorithm",
) -> dict[Any, list[float]]:
    """``{x: [num's y / den's y, one per run that measured both at x]}``, ``num`` and ``den``
    two values of the field ``by`` (two algorithms, or two sweeps). Each ratio divides two
    values of one run (:func:`run_of`): times of two runs do not compare."""
    by_run: dict[tuple, dict[tuple[str, Any], float]] = {}
    for r in select(rows):
        by_run.setdefault(run_of(r), {})[(r[by], r[x])] = r[y]
    out: dict[Any, list[float]] = {}
    for values in by_run.values():
        for (alg, at), v in values.items():
            if alg == num and (den, at) in values:
                out.setdefault(at, []).append(v / values[(den, at)])
    return dict(sorted(out.items()))


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers with ``digits`` significant digits, ``—`` for missing values."""
    if value is None:
        return "—"
    if isinstance(value, float) and not isinstance(value, bool):
        return "nan" if value != value else f"{value:.{digits}g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (``_(none)_`` when there are no rows)."""
    if not rows:
        return "_(none)_\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
