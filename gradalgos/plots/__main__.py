"""``python -m gradalgos.plots RESULTS [OUT]``: regenerate figures and REPORT.md."""

from __future__ import annotations

import argparse

from gradalgos.plots.headline import summary_lines
from gradalgos.plots.report import make_report
from gradalgos.plots.results import latest, load_rows, select


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m gradalgos.plots", description=__doc__)
    p.add_argument("results", help="results.jsonl")
    p.add_argument("out", nargs="?", help="output folder (default: the results file's folder)")
    p.add_argument("--code-version", help="report this code version (default: the latest)")
    args = p.parse_args()
    report = make_report(args.results, args.out, code_version=args.code_version)
    rows = select(latest(load_rows(args.results), args.code_version))  # the successful ones
    print(*summary_lines(rows), f"report: {report}", sep="\n")


if __name__ == "__main__":
    main()
