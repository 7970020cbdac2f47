"""Memory budgets: bytes as an int, or a string with a unit ("8GiB", "512MB")."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

__all__ = ["UNITS", "format_bytes", "parse_budget"]

#: Units a budget string may end with (case-insensitive): decimal (kB = 1000 B) and binary
#: (KiB = 1024 B). No unit means bytes.
UNITS: dict[str, int] = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}

_NUMBER_UNIT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")


def parse_budget(memory_budget: Any) -> int:
    """``memory_budget`` in bytes (an int ≥ 1).

    Arguments:
        memory_budget: bytes as a positive int (or a finite float, rounded down), or a string
            ``"<number><unit>"`` with a unit of :data:`UNITS` (``"8GiB"``, ``"512 MB"``,
            ``"1.5GB"``, ``"4096"``).

    Raises:
        TypeError: not an int, float or str (``bool`` included).
        ValueError: a string that is not a number and a known unit, NaN or inf, or a budget
            under one byte.
    """
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Real | str):
        raise TypeError(
            "memory_budget must be a number of bytes (int) or a string such as '8GiB' or "
            f"'512MB', got {memory_budget!r} ({type(memory_budget).__name__})"
        )
    if isinstance(memory_budget, str):
        match = _NUMBER_UNIT.fullmatch(memory_budget)
        if match is None:
            raise ValueError(
                f"memory_budget must be a number and a unit such as '8GiB' or '512MB', got "
                f"{memory_budget!r}"
            )
        number, unit = match.groups()
        scale = UNITS.get(unit.lower() or "b")
        if scale is None:
            raise ValueError(
                f"memory_budget {memory_budget!r} has an unknown unit {unit!r}; expected one "
                f"of {', '.join(('B', 'kB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB'))}"
            )
        value = float(number) * scale
    elif isinstance(memory_budget, numbers.Integral):
        value = int(memory_budget)
    else:
        value = float(memory_budget)
        if not math.isfinite(value):
            raise ValueError(f"memory_budget must be finite, got {memory_budget!r}")
    if value < 1:
        raise ValueError(f"memory_budget must be positive (at least 1 byte), got {memory_budget!r}")
    return int(value)


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, three significant digits (``"1.50 GiB"``)."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"
