"""CPU diagnostics of a benchmark run, outside the default path: ``CPU_NOISE.md`` with the
one-CPU vs all-CPUs comparison of RTRL and the hybrid (sweep ``n-1cpu``) and the page faults
and user/system CPU time per call, plus ``parallel.png`` and ``page_faults.png``.

    python benchmarks/cpu_noise.py reports/results.jsonl [OUT]

Reads the rows only (as ``python -m gradalgos.plots`` does); OUT defaults to the results
file's folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_page_faults import figure_page_faults, page_fault_section
from cpu_parallel import figure_parallel, parallel_section

from gradalgos.plots.results import comparable, latest, load_rows


def write(results: Path, out: Path) -> Path:
    """Write ``CPU_NOISE.md`` and its two figures into ``out``; returns the page's path."""
    every = comparable(load_rows(results))
    rows = [r for r in latest(every) if r.get("status") == "ok"]
    parallel = figure_parallel(rows, out, every)
    figure_page_faults(rows, out)
    page = out / "CPU_NOISE.md"
    page.write_text(
        "\n".join(
            [
                "# CPU diagnostics\n",
                f"From `{results.name}` by `python benchmarks/cpu_noise.py`; the report is "
                "[REPORT.md](REPORT.md).\n",
                "## One CPU vs all CPUs: RTRL and the hybrid\n",
                parallel_section(parallel, every),
                "![one CPU vs all](parallel.png)\n",
                "## Page faults and CPU time\n",
                page_fault_section(rows),
                "![page faults](page_faults.png)\n",
            ]
        )
    )
    return page


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path)
    p.add_argument("out", type=Path, nargs="?")
    args = p.parse_args()
    out = args.out or args.results.parent
    out.mkdir(parents=True, exist_ok=True)
    print(write(args.results, out))


if __name__ == "__main__":
    main()
