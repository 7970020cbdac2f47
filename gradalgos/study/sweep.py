"""The alignment sweep: every (cell, n, T) of the plan, every method it supports, into one JSON.

Rows: one per (method, cell, n, T), with per-seed lists (``cosine``, ``relative_norm``,
``summed_cosine``, ``variance``) and the step's cost (``time_per_step_s``, ``xla_bytes``,
``carry_bytes``). ``skipped``: the (method, cell) pairs a method refuses, with its error.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NamedTuple

import jax
from tqdm import tqdm

from gradalgos.algorithms import registry
from gradalgos.study.configs import DELAY, METHODS, cap, make_cell
from gradalgos.study.measure import measure_cell, unsupported

__all__ = ["Plan", "run"]


class Plan(NamedTuple):
    """What to measure. ``sizes[cell]``: the n of each cell; ``lengths``: T, the first at every
    size, the others for ``long_cell`` at its second size only; ``pairwise``: (cell, n) of the
    alignment matrix."""

    sizes: dict[str, tuple[int, ...]]
    lengths: tuple[int, ...]
    seeds: int
    samples: int
    repeats: int
    long_cell: str
    pairwise: tuple[str, int]
    methods: tuple[str, ...] = tuple(m.label for m in METHODS)


def _units(plan: Plan) -> list[tuple[str, int, int]]:
    """The (cell, n, T) to measure, in order."""
    out = []
    for cell, sizes in plan.sizes.items():
        out += [(cell, n, plan.lengths[0]) for n in sizes]
        if cell == plan.long_cell:
            out += [(cell, sizes[min(1, len(sizes) - 1)], T) for T in plan.lengths[1:]]
    return out


def _info() -> dict[str, Any]:
    out = {}
    for m in METHODS:
        info = registry.info(m.name)
        out[m.label] = {
            "time_exponent": info.time_exponent,
            "memory_exponent": info.memory_exponent,
        }
    out["SnAp-2"] = {"time_exponent": None, "memory_exponent": None}  # ∝ kept entries (density)
    return out


def _measure_unit(plan: Plan, cell_label: str, n: int, T: int) -> tuple[list, dict, dict | None]:
    """Rows, skip reasons and (if it is this unit's) the alignment matrix of one (cell, n, T)."""
    cell = make_cell(cell_label, n)
    labels, skipped = [], {}
    for label in plan.methods:
        top = cap(label, cell_label)
        if top is None or n > top:
            continue
        reason = unsupported(label, cell)
        if reason:
            skipped[f"{label}|{cell_label}"] = reason
        else:
            labels.append(label)
    want_matrix = (cell_label, n) == tuple(plan.pairwise) and plan.lengths[0] == T
    measured = measure_cell(
        cell, labels, T, plan.seeds, plan.samples, plan.repeats, pairwise=want_matrix
    )
    pairwise = None
    if want_matrix:
        pairwise = {"cell": cell_label, "n": n, "T": T, **measured.pop("_pairwise")}
    rows = [{"method": k, "cell": cell_label, "n": n, "T": T, **v} for k, v in measured.items()]
    return rows, skipped, pairwise


def _single_threaded() -> None:
    """One XLA CPU thread per worker process, so that workers do not share cores."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = flags.strip()


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished workers."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(plan: Plan, out: Path, *, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Measure ``plan`` and write ``out/alignment.json``; returns its contents.

    ``workers > 1`` measures (cell, n, T) units in that many processes, each with one XLA
    thread (times per step are then single-threaded ones)."""
    start = time.perf_counter()
    rows, skipped, pairwise = [], {}, None
    units = _units(plan)
    bar = tqdm(total=len(units), disable=not progress, unit="config", dynamic_ncols=True)

    def collect(unit, got) -> None:
        nonlocal rows, pairwise
        rows += got[0]
        skipped.update(got[1])
        pairwise = got[2] or pairwise
        bar.set_postfix_str(f"{unit[0]} n={unit[1]} T={unit[2]}")
        bar.update()

    if workers > 1:
        _single_threaded()
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {pool.submit(_measure_unit, plan, *u): u for u in units}
            for f in as_completed(futures):
                collect(futures[f], f.result())
    else:
        for u in units:
            collect(u, _measure_unit(plan, *u))
    bar.close()
    order = {u: i for i, u in enumerate(units)}
    rows.sort(key=lambda r: (order[(r["cell"], r["n"], r["T"])], plan.methods.index(r["method"])))
    result = {
        "meta": {
            "task": f"delayed recall, target_t = x_(t-{DELAY}), inputs N(0,1), m = o = 4",
            "dtype": "float32",
            "reference": "exact per-step gradients (T reverse passes = exact RTRL's g_t)",
            "seeds": plan.seeds,
            "samples": plan.samples,
            "sizes": plan.sizes,
            "lengths": list(plan.lengths),
            "caps": {f"{m}|{c}": cap(m, c) for m in plan.methods for c in plan.sizes if cap(m, c)},
            "theory": _info(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "backend": jax.default_backend(),
            "workers": workers,
            "seconds": time.perf_counter() - start,
            "cpu_seconds": _cpu_seconds(),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "rows": rows,
        "skipped": [
            {"method": k.split("|")[0], "cell": k.split("|")[1], "reason": r}
            for k, r in skipped.items()
        ],
        "pairwise": pairwise,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "alignment.json").write_text(json.dumps(result, indent=1) + "\n")
    return result
