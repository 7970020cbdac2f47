"""Reading the benchmark's result file (JSON lines); no measurement code is imported."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["Row", "latest", "load_rows", "ok_rows_by_key", "select"]

Row = dict[str, Any]


def load_rows(path: str | Path) -> list[Row]:
    """All rows of a ``results.jsonl`` file, in file order; ``[]`` if it does not exist.

    A line that is not valid JSON (e.g. cut by a crash) is skipped with a warning.
    """
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    with path.open() as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                warnings.warn(f"{path}:{i}: skipping a malformed line", stacklevel=2)
    return rows


def latest(rows: Iterable[Row], code_version: str | None = None) -> list[Row]:
    """The last row of each config key, for one code version (default: that of the last row).

    A config measured again (``--force``, or a retried failure) is shown once, as measured last.
    """
    rows = list(rows)
    if not rows:
        return []
    version = code_version or rows[-1].get("code_version")
    by_key: dict[str, Row] = {}
    for row in rows:
        if row.get("code_version") == version:
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
