"""Sessions: `nox -s tests`, `nox -s lint`, `nox -s bench`, `nox -s train`, `nox -s compare`,
`nox -s study`.

bench, train and compare share one environment (`.nox/gradalgos`, JAX and the plotting and
training extras, ~700 MB), built by the first of them and reused by the others.
"""

import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

#: The environment that bench, train and compare share.
SHARED = Path(".nox") / "gradalgos"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (CPU, float64 references), one pytest-xdist worker per CPU.

    Most of the suite's time is XLA compilation, which runs on one core: two workers on the
    2-core CI machine took it from 11.5 to 8.5 minutes. ``nox -s tests -- -n 0`` runs it in
    one process."""
    session.install("-e", ".[test,bench]")
    session.run("pytest", "-q", "-n", "auto", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def _shared_python(session: nox.Session) -> str:
    """The shared environment's interpreter, with gradalgos[bench] installed (once)."""
    python = SHARED / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(SHARED), external=True)
    marker = SHARED / ".installed"
    if not marker.exists() or marker.stat().st_mtime < Path("pyproject.toml").stat().st_mtime:
        session.run(str(python), "-m", "pip", "install", "-e", ".[bench]", external=True)
        marker.touch()
    return str(python)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmark sweep → reports/local/<machine>/ (`-- --out reports` updates the committed
    reports; `-- --help` for options)."""
    session.run(_shared_python(session), "-m", "gradalgos.bench", *session.posargs, external=True)


@nox.session(venv_backend="none")
def train(session: nox.Session) -> None:
    """Train one cell on one task (`-- --help` for options)."""
    python = _shared_python(session)
    session.run(python, "-m", "gradalgos.training", "train", *session.posargs, external=True)


@nox.session(venv_backend="none")
def compare(session: nox.Session) -> None:
    """Train every algorithm on a few tasks; learning curves into reports/."""
    python = _shared_python(session)
    session.run(python, "-m", "gradalgos.training", "compare", *session.posargs, external=True)


@nox.session(venv_backend="none")
def study(session: nox.Session) -> None:
    """Alignment study → reports/local/<host>/study/ (`-- --out reports/study` updates the
    committed copy; `-- --quick`, `-- --help`)."""
    session.run(_shared_python(session), "-m", "gradalgos.study", *session.posargs, external=True)
