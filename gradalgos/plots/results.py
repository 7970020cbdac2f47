"""Reading the benchmark's result file (JSON lines; its schema and reader live in
:mod:`gradalgos.bench`, which never imports the plots)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gradalgos.bench.schema import BASELINES, MACHINE_FIELDS
from gradalgos.bench.store import load_rows

__all__ = [
    "BASELINES",
    "MACHINE_FIELDS",
    "Row",
    "comparable",
    "latest",
    "load_rows",
    "machine",
    "ok_rows_by_key",
    "on_gpu",
    "run_of",
    "select",
    "within_run_ratios",
]

Row = dict[str, Any]


def machine(row: Row) -> tuple:
    """The :data:`MACHINE_FIELDS` values of a row."""
    return tuple(row.get(field) for field in MACHINE_FIELDS)


def on_gpu(rows: Iterable[Row]) -> bool:
    """Whether ``rows`` were measured on a GPU. A report's rows come from one machine
    (:func:`comparable`), so one GPU row makes it a GPU report."""
    return any(r.get("device") == "gpu" for r in rows)


def comparable(rows: Iterable[Row], code_version: str | None = None) -> list[Row]:
    """The rows of one code version (default: that of the last row) measured on one machine
    (that of the last row of that version), in file order: rows whose times may be compared."""
    rows = list(rows)
    version = code_version or (rows[-1].get("code_version") if rows else None)
    rows = [r for r in rows if r.get("code_version") == version]
    if not rows:
        return []
    last = machine(rows[-1])
    return [r for r in rows if machine(r) == last]


def latest(rows: Iterable[Row], code_version: str | None = None) -> list[Row]:
    """The last row of each config key among :func:`comparable` rows (one code version, one
    machine). A config measured again (``--force``, or a retried failure) is shown once, as
    measured last."""
    by_key: dict[str, Row] = {}
    for row in comparable(rows, code_version):
        by_key[row["key"]] = row
    return list(by_key.values())


def select(rows: Iterable[Row], ok: bool = True, **where: Any) -> list[Row]:
    """Rows whose fields equal ``where`` (e.g. ``sweep="n", algorithm="rtrl"``); with ``ok``
    only successful measurements."""
    return [
        r
        for r in rows
        if (not ok or r.get("status") == "ok") and all(r.get(k) == v for k, v in where.items())
    ]


def ok_rows_by_key(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """The successful rows of each config key, in file order (one per run that measured it)."""
    by_key: dict[str, list[Row]] = {}
    for row in rows:
        if row.get("status") == "ok":
            by_key.setdefault(row["key"], []).append(row)
    return by_key


def run_of(row: Row) -> tuple:
    """The run (one bench invocation) that wrote ``row``: its ``run_id``; for rows written
    before run ids were recorded, its (git commit, command), which cannot tell apart two runs
    of one command at one commit."""
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
    """``{x: [num's y / den's y, one per run that measured both at x]}``, where ``num`` and
    ``den`` are values of the field ``by`` (two algorithms, or two sweeps such as ``"n-1cpu"``
    and ``"n"``).

    Each ratio divides two values of one run (:func:`run_of`), never values of two runs:
    times of separate runs are not comparable. Only successful rows count; pass rows of one
    sweep (or algorithm) and cell (e.g. ``select(rows, sweep="n", cell="elman")``).
    """
    by_run: dict[tuple, dict[tuple[str, Any], float]] = {}
    for r in select(rows):
        by_run.setdefault(run_of(r), {})[(r[by], r[x])] = r[y]
    out: dict[Any, list[float]] = {}
    for values in by_run.values():
        for (alg, at), v in values.items():
            if alg == num and (den, at) in values:
                out.setdefault(at, []).append(v / values[(den, at)])
    return dict(sorted(out.items()))
