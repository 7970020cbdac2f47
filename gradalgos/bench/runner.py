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
from gradalgos.bench.eta import estimated_seconds
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
    row = {"key": key, "schema": 1, **config.to_dict(), "label": config.label, **meta}
    row["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    row.update(result)
    row.setdefault("reason", None)
    return row


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
    """Measure ``configs`` one by one in ``worker`` and append one row each to ``results``.

    Arguments:
        configs: what to measure.
        results: the JSON-lines file (appended to).
        meta: fields stored in every row (must include ``code_version``).
        worker: the process that measures (started here if it is not; its machine metadata
            is part of every config key).
        force: measure again configs already measured with this code version.
        time_limit: seconds per config (compile included) before it is recorded as failed.
        progress: show a tqdm bar on stderr: the config being measured, configs done, elapsed
            and remaining time (weighted by :func:`.eta.estimated_seconds`).
    """
    summary = RunSummary()
    t0 = time.perf_counter()
    done = set() if force else measured_keys(results)
    machine = {**meta, **worker.start()}
    todo = []
    for config in configs:
        key = config_key(config, meta["code_version"], machine)
        if key in done:
            summary.skipped += 1
        else:
            todo.append((config, key))
    if summary.skipped:
        print(
            f"skipping {summary.skipped} configs already measured with code version "
            f"{meta['code_version']} on this machine (--force to measure again)",
            file=sys.stderr,
        )
    weights = [estimated_seconds(config) for config, _ in todo]
    bar = tqdm(
        total=round(sum(weights), 1),
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
    )
    with bar:
        for i, ((config, key), weight) in enumerate(zip(todo, weights, strict=True)):
            bar.set_description_str(f"[{i + 1}/{len(todo)}] {config.label}", refresh=True)
            result = worker.run(config, time_limit)
            row = _row(config, key, {**meta, **worker.metadata}, result)
            append_row(results, row)
            if row["status"] == "ok":
                summary.measured += 1
            else:
                summary.failed += 1
                summary.failures.append((config.label, row["reason"]))
                bar.write(f"FAILED {config.label}: {row['reason']}")
            bar.update(round(weight, 1))
    summary.wall_s = time.perf_counter() - t0
    return summary
