"""``python -m gradalgos.study``: the alignment sweep, its figures and STUDY.md."""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from gradalgos.study.configs import CELLS
from gradalgos.study.sweep import Plan, run

__all__ = ["main", "plan"]

FULL_SIZES = (16, 32, 64, 128, 256)
SPARSE_SIZES = (16, 64, 256)


def plan(quick: bool) -> Plan:
    """The default sweep (Elman at five sizes, the other cells at three, T = 50 and 200 for
    Elman n = 32) or, with ``quick``, a smoke test of a few seconds."""
    if quick:
        sizes = {"Elman": (8, 16), "IndRNN": (8, 16)}
        return Plan(
            sizes, (12, 24), seeds=2, samples=3, repeats=2, long_cell="Elman", pairwise=("Elman", 8)
        )
    sizes = {c: FULL_SIZES if c == "Elman" else SPARSE_SIZES for c in CELLS}
    return Plan(
        sizes, (50, 200), seeds=3, samples=8, repeats=5, long_cell="Elman", pairwise=("Elman", 32)
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gradalgos.study", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="a tiny sweep (seconds), to check the pipeline"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default reports/local/<host>/study; committed copy: reports/study)",
    )
    p.add_argument(
        "--cells",
        nargs="+",
        choices=sorted(CELLS),
        metavar="CELL",
        help=f"subset of {sorted(CELLS)}",
    )
    p.add_argument(
        "--replot", action="store_true", help="redraw figures and page from OUT/alignment.json"
    )
    p.add_argument(
        "--train-results",
        type=Path,
        default=Path("reports/train_results.json"),
        help="online-training results (its 'online_study' key) for the page's final-metric columns",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes measuring in parallel, one XLA thread each (default: 2, or 1 on one CPU)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    out = args.out or Path("reports/local") / socket.gethostname() / (
        "study-quick" if args.quick else "study"
    )
    from gradalgos.study import figures, page

    if args.workers < 1:
        p.error(f"--workers must be ≥ 1, got {args.workers}")
    if args.replot:
        if args.cells:
            p.error("--replot redraws what was measured; it takes no --cells")
        source = out / "alignment.json"
        if not source.exists():
            p.error(f"--replot needs {source}; run the sweep first")
        result = json.loads(source.read_text())
    else:
        chosen = plan(args.quick)
        if args.cells:
            sizes = {c: s for c, s in chosen.sizes.items() if c in args.cells}
            if not sizes:
                p.error(f"--cells: none of {args.cells} is in this sweep ({sorted(chosen.sizes)})")
            chosen = chosen._replace(sizes=sizes)
        result = run(chosen, out, workers=args.workers, progress=not args.no_progress)
    figures.draw_all(result, out)
    path = page.write(result, out, args.train_results)
    print(
        f"wrote {path} and {len(figures.FIGURES)} figures "
        f"({result['meta']['seconds']:.0f} s of measuring)"
    )
    return 0
