"""CPU diagnostics of a benchmark run, outside the default path: ``CPU_NOISE.md`` with the
run-to-run spread of the time exponents, the achieved rate of RTRL's and the hybrid's products
(``rate_vs_n.png``), the one-CPU vs all-CPUs comparison (sweep ``n-1cpu``, measured by
``benchmarks/cpu_parallel.py --measure``; ``parallel.png``) and the page faults and user/system
CPU time per call (``page_faults.png``).

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
from cpu_rate import figure_rate_vs_n
from cpu_repeats import spread_section

from gradalgos.plots.results import comparable, latest, load_rows, on_gpu


def write(results: Path, out: Path) -> Path:
    """Write ``CPU_NOISE.md`` and its figures into ``out`` (the one-CPU and page-fault
    sections only for CPU rows); returns the page's path."""
    every = comparable(load_rows(results))
    rows = [r for r in latest(every) if r.get("status") == "ok"]
    on_cpu = not on_gpu(rows)
    figure_rate_vs_n(rows, out)
    sections = [
        "# CPU diagnostics\n",
        f"From `{results.name}` by `python benchmarks/cpu_noise.py`; the report is "
        "[REPORT.md](REPORT.md).\n",
        "## Run-to-run spread of the time exponents vs n\n",
        spread_section(every),
        "## Achieved rate of RTRL's and the hybrid's products\n",
        "The time exponent is the operation-count exponent minus the rate's slope: "
        "a rate still rising with n pulls the fitted exponent below the theory.\n",
        "![achieved rate](rate_vs_n.png)\n",
    ]
    if on_cpu:  # the one-CPU sweep and host page faults mean nothing for device rows
        parallel = figure_parallel(rows, out, every)
        figure_page_faults(rows, out)
        sections += [
            "## One CPU vs all CPUs: RTRL and the hybrid\n",
            parallel_section(parallel, every),
            "![one CPU vs all](parallel.png)\n",
            "## Page faults and CPU time\n",
            page_fault_section(rows),
            "![page faults](page_faults.png)\n",
        ]
    page = out / "CPU_NOISE.md"
    page.write_text("\n".join(sections))
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
