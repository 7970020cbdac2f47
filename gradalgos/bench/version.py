"""Code version of the measured library, and the run's metadata."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["code_version", "git_commit", "new_run_id", "run_metadata"]

_PACKAGE = Path(__file__).resolve().parents[1]  # gradalgos/
#: What the benchmark measures: the top-level modules and these sub-packages. Training, tasks
#: and plots do not change a measurement, so editing them does not invalidate results.
MEASURED_PACKAGES: tuple[str, ...] = ("algorithms", "cells", "bench")


def code_version(package: Path = _PACKAGE) -> str:
    """Hash (12 hex) of the bytes of the measured ``.py`` sources (gradalgos/*.py and
    :data:`MEASURED_PACKAGES`): skip-if-measured reuses results only while they are unchanged."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if len(rel.parts) > 1 and rel.parts[0] not in MEASURED_PACKAGES:
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes().replace(b"\r\n", b"\n"))
    return h.hexdigest()[:12]


def git_commit(repo: Path = _PACKAGE.parent) -> str | None:
    """``HEAD``'s commit, with ``+dirty`` when gradalgos/ has uncommitted changes; ``None``
    outside a git checkout."""
    try:
        run = lambda *a: subprocess.run(  # noqa: E731
            ["git", *a], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        commit = run("rev-parse", "HEAD")
        dirty = run("status", "--porcelain", "--", "gradalgos")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def new_run_id() -> str:
    """A new run's id: its UTC start and 6 random hex digits, e.g. ``20261126T063012Z-3fa9c1``."""
    start = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{start}-{secrets.token_hex(3)}"


def run_metadata(argv: list[str] | None = None) -> dict[str, Any]:
    """Fields shared by every row of a run: its id, code version, commit, command, host."""
    argv = sys.argv[1:] if argv is None else argv
    return {
        "run_id": new_run_id(),
        "code_version": code_version(),
        "git_commit": git_commit(),
        "command": ("python -m gradalgos.bench " + shlex.join(argv)).strip(),
        "host_cpus": os.cpu_count(),
        "host_cpu": _cpu_model(),
        "python": platform.python_version(),
    }
