"""Markdown table and number formatting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["fmt", "table"]


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers with ``digits`` significant digits, ``—`` for missing values."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:.{digits}g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (``_(none)_`` when there are no rows)."""
    if not rows:
        return "_(none)_\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
