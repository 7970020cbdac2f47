"""Run a list of configs: skip those already measured, isolate each in the worker, record
every result (failures with their reason) as it comes, with a progress bar."""

from __future__ import annotations

import dataclasses
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gradalgos.bench.config import BenchConfig, config_key
from gradalgos.bench.pool import Worker
from gradalgos.bench.store import append_row, measured_keys

__all__ = ["RunSummary", "run_configs"]


@dataclasses.dataclass
class RunSummary:
    """Counts of a run: configs measured, failed, skipped (already measured), and wall time."""

    measured: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def _row(config: BenchConfig, key: str, meta: dict[str, Any], result: dict[str, Any]) -> dict:
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    row = {"key": key, "schema": 1, **config.to_dict(), "label": config.label, **meta}
    return {**row, "date": date, "reason": None, **result}


def run_configs(
    configs: Sequence[BenchConfig],
    results: Path,
    meta: dict[str, Any],
    worker: Worker,
    *,
    force: bool = False,
    time_limit: float = 120.0,
    progress: bool = True,
) -> RunSummary:
    """Measure ``configs`` one by one in ``worker`` (started here if it is not) and append one
    row each to the JSON-lines file ``results``; ``meta`` (with ``code_version``) goes into
    every row. Configs measured with this code version on this machine are skipped unless
    ``force``; each may take ``time_limit`` seconds (compile included) before it is recorded
    as failed. ``progress``: a tqdm bar on stderr."""
    summary = RunSummary()
    t0 = time.perf_counter()
    done = set() if force else measured_keys(results)
    machine = {**meta, **worker.start()}
    keyed = [(config, config_key(config, meta["code_version"], machine)) for config in configs]
    todo = [(config, key) for config, key in keyed if key not in done]
    summary.skipped = len(keyed) - len(todo)
    if summary.skipped:
        print(
            f"skipping {summary.skipped} configs already measured with code version "
            f"{meta['code_version']} on this machine (--force to measure again)",
            file=sys.stderr,
        )
    with tqdm(todo, disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for config, key in bar:
            bar.set_description_str(config.label, refresh=True)
            row = _row(config, key, {**meta, **worker.metadata}, worker.run(config, time_limit))
            append_row(results, row)
            if row["status"] == "ok":
                summary.measured += 1
            else:
                summary.failed += 1
                summary.failures.append((config.label, row["reason"]))
                bar.write(f"FAILED {config.label}: {row['reason']}")
    summary.wall_s = time.perf_counter() - t0
    return summary
