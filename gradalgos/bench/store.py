"""The result file: one JSON object per line, appended atomically; which configs are done."""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = ["append_row", "load_rows", "measured_keys"]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
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


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    """Append ``row`` as one line with a single ``write`` under an exclusive ``flock``, then
    ``fsync``: concurrent runs never interleave lines, and a crash leaves at most one cut line
    (which readers skip; the next append starts a new line after it, so it loses nothing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(row, sort_keys=True, allow_nan=True) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if _ends_mid_line(fd):
                data = b"\n" + data
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _ends_mid_line(fd: int) -> bool:
    """Whether the open file ends with a cut line (not empty, last byte not a newline)."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def measured_keys(path: str | Path) -> set[str]:
    """Keys of the configs measured successfully (failed ones are retried by a rerun)."""
    return {r["key"] for r in load_rows(path) if r.get("status") == "ok" and "key" in r}
