"""Synthetic result rows for the report tests (no measurement is run)."""

from __future__ import annotations

from typing import Any

from gradalgos.bench.schema import COMMON_FIELDS, MEASURED_FIELDS


def n_sweep_row(alg: str, n: int, **fields: Any) -> dict[str, Any]:
    """A schema-complete, successful float32 Elman row of the n sweep (every field present,
    ``None`` unless given); ``fields`` override or add to it."""
    blank = dict.fromkeys([*COMMON_FIELDS, *MEASURED_FIELDS])
    return (
        blank
        | {
            "key": f"{alg}-{n}",
            "label": f"n: {alg} elman n={n}",
            "algorithm": alg,
            "sweep": "n",
            "cell": "elman",
            "dtype": "float32",
            "status": "ok",
            "n": n,
            "S": n,
        }
        | fields
    )
