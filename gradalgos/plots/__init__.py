"""Figures and REPORT.md from the benchmark's results file (never re-running any algorithm)."""

from gradalgos.plots.fit import LogLogFit, fit_loglog
from gradalgos.plots.report import make_report
from gradalgos.plots.results import latest, load_rows, select

__all__ = ["LogLogFit", "fit_loglog", "latest", "load_rows", "make_report", "select"]
