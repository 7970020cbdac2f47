"""``python -m gradalgos.bench`` (``nox -s bench``): run the sweeps, then write the report."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gradalgos.algorithms import registry
from gradalgos.bench.baseline_torch import torch_available
from gradalgos.bench.pool import DeviceUnavailable, Worker
from gradalgos.bench.runner import run_configs
from gradalgos.bench.sweeps import SWEEPS, SweepOptions, build_configs
from gradalgos.bench.version import run_metadata

__all__ = ["TIME_LIMITS", "default_out", "main", "parser"]

#: Default seconds per config, by sweep mode (``--full`` reaches RTRL and the hybrid at n = 768,
#: minutes per config on a 2-core CPU).
TIME_LIMITS: dict[str, float] = {"quick": 120.0, "default": 300.0, "full": 1800.0}


def _positive(kind: type) -> Callable[[str], Any]:
    """An argparse ``type`` accepting ``kind`` values > 0 (a clear message otherwise)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a value > 0, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _check_cells(p: argparse.ArgumentParser, names: Sequence[str] | None) -> None:
    """Reject unknown ``--cells`` before any worker starts (by building each at n = 8)."""
    from gradalgos.bench.case import make_cell

    for name in names or ():
        try:
            make_cell(name, 8)
        except (KeyError, TypeError, ValueError) as e:
            p.error(f"argument --cells: cannot build cell {name!r}: {e}")


def parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m gradalgos.bench",
        description="Time, memory and gradient agreement of gradalgos's algorithms; results "
        "appended to OUT/results.jsonl, then figures, OUT/REPORT.md and OUT/DETAILS.md "
        "regenerated from it (python -m gradalgos.plots), and a headline printed.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny sweep (≤ 1 minute)")
    size.add_argument("--full", action="store_true", help="larger sweep (tens of minutes)")
    add, many, pos_int = p.add_argument, {"nargs": "+"}, _positive(int)
    add("--algorithms", **many, choices=(*registry.names(), "jax-scan"), help="default: all")
    add("--cells", **many, help="registered cell names, or the recipes ctrnn, stack, function")
    add("--n", **many, type=pos_int, help="hidden sizes of the n sweeps")
    add("--T", **many, type=pos_int, help="sequence lengths of the T sweep")
    add("--batch", **many, type=pos_int, help="batch sizes of the batch sweep")
    add("--dtype", choices=("float32", "float64"), help="default float32 (agreement: both)")
    add("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: an error if JAX has none")
    add("--fresh-process", action="store_true", help="a new worker per config (GPU peaks)")
    precisions = ("highest", "high", "default")
    add(
        "--matmul-precision",
        choices=precisions,
        default="highest",
        help="'default' lets a GPU use TF32",
    )
    add("--repeats", type=pos_int, default=5, help="timed calls per config, at least (default 5)")
    add("--sweeps", **many, choices=SWEEPS, default=list(SWEEPS), help="default: all")
    add("--out", type=Path, help="default: reports/local/<machine>/ (reports: the committed one)")
    add("--force", action="store_true", help="measure again configs already measured")
    limits = ", ".join(f"{mode} {limit:g}" for mode, limit in TIME_LIMITS.items())
    add("--time-limit", type=_positive(float), help=f"seconds per config (default: {limits})")
    add("--with-torch", action="store_true", help="also time PyTorch autograd")
    add("--no-report", action="store_true", help="skip figures and REPORT.md")
    add("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0 even when some configs failed: they are
    recorded and listed in the report; 2 for a missing device)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = parser()
    args = p.parse_args(argv)
    _check_cells(p, args.cells)
    if args.repeats < 5:
        print(f"note: --repeats {args.repeats} < 5; medians are less reliable", file=sys.stderr)
    algorithms = tuple(args.algorithms or (*registry.names(), "jax-scan"))
    if args.with_torch:
        reason = torch_available()
        if reason:
            print(f"--with-torch: skipped: {reason}", file=sys.stderr)
        else:
            algorithms += ("torch",)
    lists = {
        k: tuple(getattr(args, k)) if getattr(args, k) else None
        for k in ("cells", "n", "T", "batch")
    }
    mode = "quick" if args.quick else "full" if args.full else "default"
    opts = SweepOptions(
        mode,
        tuple(args.sweeps),
        algorithms,
        **lists,
        dtype=args.dtype,
        device=args.device,
        repeats=args.repeats,
        precision=args.matmul_precision,
    )
    configs = build_configs(opts)
    meta = run_metadata(argv)
    out = args.out if args.out is not None else default_out(meta, args.device)
    results = out / "results.jsonl"
    print(f"results and report: {out}/", file=sys.stderr)
    t0 = time.perf_counter()
    with Worker(args.device, fresh_per_config=args.fresh_process) as worker:
        try:
            worker.start()
        except DeviceUnavailable as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        limit = TIME_LIMITS[opts.mode] if args.time_limit is None else args.time_limit
        kw = {"force": args.force, "time_limit": limit, "progress": not args.no_progress}
        summary = run_configs(configs, results, meta, worker, **kw)
    print(
        f"{summary.measured} measured, {summary.failed} failed, {summary.skipped} skipped "
        f"in {time.perf_counter() - t0:.0f} s → {results}",
        file=sys.stderr,
    )
    if not args.no_report:
        # The plots read the results file in their own process: the harness imports no plots.
        command = [sys.executable, "-m", "gradalgos.plots", str(results), str(out)]
        done = subprocess.run([*command, "--code-version", meta["code_version"]], check=False)
        if done.returncode:
            print(f"error: the report failed: {shlex.join(command)}", file=sys.stderr)
            return done.returncode
        print(f"({time.perf_counter() - t0:.0f} s in all)", file=sys.stderr)
    return 0


def default_out(meta: dict[str, Any], device: str) -> Path:
    """``reports/local/<device>-<cpu model>-<cpus>cpu/``: one folder per kind of machine."""
    name = f"{device}-{meta.get('host_cpu') or 'unknown'}-{meta.get('host_cpus')}cpu".lower()
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"\(r\)|\(tm\)", "", name)).strip("-")
    return Path("reports") / "local" / slug
