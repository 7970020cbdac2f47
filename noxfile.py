"""Sessions: `nox -s tests`, `nox -s lint`, `nox -s bench`, `nox -s train`, `nox -s compare`."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


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


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark sweep → reports/results.jsonl, figures and REPORT.md (`-- --help` for options)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "gradalgos.bench", *session.posargs)


@nox.session
def train(session: nox.Session) -> None:
    """Train one cell on one task (`-- --help` for options)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "gradalgos.training", "train", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """Train every algorithm on a few tasks; learning curves into reports/."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "gradalgos.training", "compare", *session.posargs)
