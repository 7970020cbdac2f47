"""Code version of the measured library, and the run's metadata."""

from __future__ import annotations

import ast
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

__all__ = [
    "canonical_dump",
    "code_version",
    "executable_source",
    "git_commit",
    "new_run_id",
    "run_metadata",
]

#: Environment variables that change how the process allocates memory (and so CPU timings).
ALLOCATOR_ENV: tuple[str, ...] = ("GLIBC_TUNABLES", "LD_PRELOAD", "MALLOC_ARENA_MAX")

_PACKAGE = Path(__file__).resolve().parents[1]  # gradalgos/


#: What the benchmark measures: the top-level modules and these sub-packages. Training, tasks
#: and plots do not change a measurement, so editing them does not invalidate results.
MEASURED_PACKAGES: tuple[str, ...] = ("algorithms", "cells", "bench")


#: The optional fields (``?`` in the ASDL grammar) of Python 3.11's syntax-tree nodes, which
#: its ``ast.dump`` leaves out when they are ``None`` (:func:`canonical_dump`).
_OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "AnnAssign": ("value",),
    "Assert": ("msg",),
    "Assign": ("type_comment",),
    "AsyncFor": ("type_comment",),
    "AsyncFunctionDef": ("returns", "type_comment"),
    "AsyncWith": ("type_comment",),
    "Constant": ("kind",),
    "ExceptHandler": ("type", "name"),
    "For": ("type_comment",),
    "FormattedValue": ("format_spec",),
    "FunctionDef": ("returns", "type_comment"),
    "ImportFrom": ("module", "level"),
    "MatchAs": ("pattern", "name"),
    "MatchMapping": ("rest",),
    "MatchStar": ("name",),
    "Raise": ("exc", "cause"),
    "Return": ("value",),
    "Slice": ("lower", "upper", "step"),
    "With": ("type_comment",),
    "Yield": ("value",),
    "alias": ("asname",),
    "arg": ("annotation", "type_comment"),
    "arguments": ("vararg", "kwarg"),
    "keyword": ("arg",),
    "match_case": ("guard",),
    "withitem": ("optional_vars",),
}


def code_version(package: Path = _PACKAGE) -> str:
    """Hash (12 hex) of the measured ``.py`` sources (gradalgos/*.py and
    :data:`MEASURED_PACKAGES`): results are reused (skip-if-measured) only while they are
    unchanged. The code is hashed without its comments, docstrings and layout
    (:func:`executable_source`), so editing documentation keeps the results valid."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if len(rel.parts) > 1 and rel.parts[0] not in MEASURED_PACKAGES:
            continue
        code = executable_source(path.read_text(encoding="utf-8"))
        h.update(str(rel).encode() + b"\0" + code.encode() + b"\0")
    return h.hexdigest()[:12]


def executable_source(source: str) -> str:
    """``source`` as its syntax tree without docstrings (:func:`canonical_dump`): two sources
    that differ only in comments, docstrings or formatting give the same string, on every
    Python version."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return canonical_dump(tree)


def canonical_dump(node: object) -> str:
    """``node`` written as Python 3.11's ``ast.dump`` writes it, on any Python version.

    ``ast.dump`` itself differs between versions for the same source (3.12 adds
    ``type_params=[]`` to every function and class, 3.13 leaves out empty lists), so hashing it
    gave one tree a different code version per Python. Here every field is written as
    ``name=value``; an optional field that is ``None`` is left out (as 3.11 does); so are an
    empty ``type_params`` (it holds PEP 695 syntax, which 3.11 cannot parse) and an f-string's
    empty literal parts (3.12.0-1 write one into the spec of ``f"{x:{w}}"``).
    """
    if isinstance(node, list):
        return "[" + ", ".join(canonical_dump(item) for item in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    fields = []
    for name in node._fields:
        value = getattr(node, name, None)
        if value is None and name in _OPTIONAL_FIELDS.get(type(node).__name__, ()):
            continue
        if name == "type_params" and not value:
            continue
        if isinstance(node, ast.JoinedStr):
            value = [v for v in value if not (isinstance(v, ast.Constant) and v.value == "")]
        fields.append(f"{name}={canonical_dump(value)}")
    return f"{type(node).__name__}({', '.join(fields)})"


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
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def new_run_id() -> str:
    """A new run's identifier: its UTC start time and 6 random hex digits, e.g.
    ``20261126T063012Z-3fa9c1`` (sortable; two runs started in the same second still differ)."""
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
        "allocator_env": {k: os.environ[k] for k in ALLOCATOR_ENV if k in os.environ} or None,
    }
