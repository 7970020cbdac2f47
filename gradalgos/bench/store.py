"""The result file: one JSON object per line, appended atomically; which configs are done."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from gradalgos.plots.results import load_rows

__all__ = ["append_row", "measured_keys"]


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    """Append ``row`` as one line with a single ``write`` under an exclusive ``flock``, then
    ``fsync``: concurrent runs never interleave lines and a crash leaves at most one cut line
    (which readers skip)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(row, sort_keys=True, allow_nan=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def measured_keys(path: str | Path) -> set[str]:
    """Keys of the configs measured successfully (failed ones are retried by a rerun)."""
    return {r["key"] for r in load_rows(path) if r.get("status") == "ok" and "key" in r}
