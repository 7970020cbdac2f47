"""Benchmark harness: time, memory and gradient agreement of every algorithm × cell.

``python -m gradalgos.bench`` runs the sweeps of :mod:`.sweeps` in a worker process
(:mod:`.pool`), appends one JSON line per config to ``OUT/results.jsonl`` (:mod:`.store`), then
runs ``python -m gradalgos.plots`` in its own process: nothing here imports the plots.
"""

from gradalgos.bench.cli import main
from gradalgos.bench.config import BenchConfig, config_key
from gradalgos.bench.runner import RunSummary, run_configs
from gradalgos.bench.sweeps import SweepOptions, build_configs

__all__ = ["BenchConfig", "RunSummary", "SweepOptions", "build_configs", "config_key", "main"]
__all__ += ["run_configs"]
