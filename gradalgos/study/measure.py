"""One cell at one (n, T): every method's alignment over seeds, and its step's time and memory.

Alignment: :func:`gradalgos.alignment` with the exact per-step gradients from T reverse passes
(``reference="bptt"``, equal to exact RTRL's, tested), K keys for the methods that take one.
Cost: the method's compiled online step (carry donated) timed by
:func:`gradalgos.bench.timing.time_compiled` (median after a warm-up call, compile apart) and
XLA's ``memory_analysis()`` of it, plus the bytes of its carry.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

import gradalgos as ga
from gradalgos.bench.step_cost import carry_bytes
from gradalgos.bench.timing import memory_bytes, time_compiled
from gradalgos.losses import mse
from gradalgos.study.configs import METHODS, task

__all__ = ["measure_cell", "unsupported"]

_BY_LABEL = {m.label: m for m in METHODS}


def unsupported(label: str, cell: ga.cells.AbstractCell) -> str | None:
    """The error the method raises for ``cell`` (the reason it is skipped), or ``None``."""
    alg = _BY_LABEL[label].make()
    params, state0, *_ = task(cell, 8, jax.random.key(0))
    try:
        alg.init(cell, params, state0, key=jax.random.key(0) if alg.needs_key else None)
    except (ValueError, TypeError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def _time_step(alg: Any, cell: Any, params: Any, state0: Any, repeats: int) -> dict[str, Any]:
    carry = alg.init(cell, params, state0, key=jax.random.key(0) if alg.needs_key else None)
    x = np.zeros(cell.input_size, np.float32)
    target, mask = np.zeros(cell.output_size, np.float32), np.float32(1)

    def step(carry, params, x, target, mask):
        return alg.update(cell, mse, params, carry, x, target, mask)

    # ≥ 0.5 s of calls (up to 100): the fastest of many is the least disturbed by other jobs
    timed = time_compiled(step, (carry, params, x, target, mask), repeats, 0.5, carry_arg=0)
    mem = memory_bytes(timed["compiled"])
    parts = [mem.get(f"mem_{k}_size_in_bytes") or 0 for k in ("argument", "output", "temp")]
    return {
        "time_per_step_s": timed["time_median_s"],
        "time_per_step_min_s": timed["time_min_s"],
        "compile_s": timed["compile_s"],
        "xla_bytes": sum(parts) - (mem.get("mem_alias_size_in_bytes") or 0),
        "xla_temp_bytes": mem.get("mem_temp_size_in_bytes"),
        "carry_bytes": carry_bytes(carry),
    }


def _finite(a: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(a).ravel() if np.isfinite(v)]


def measure_cell(
    cell: ga.cells.AbstractCell,
    labels: list[str],
    T: int,
    seeds: int,
    samples: int,
    repeats: int,
    *,
    pairwise: bool = False,
) -> dict[str, dict[str, Any]]:
    """``{label: row}``: per seed, the median over steps (and keys) of the per-step cosine and
    relative norm, the summed-gradient cosine vs BPTT and the mean relative variance over keys;
    the step's cost; and, with ``pairwise``, the seed-mean alignment matrix."""
    algs = [_BY_LABEL[label].make() for label in labels]
    rows: dict[str, dict[str, Any]] = {
        label: {"cosine": [], "relative_norm": [], "summed_cosine": [], "variance": []}
        for label in labels
    }
    matrices = []
    for seed in range(seeds):
        params, state0, xs, targets = task(cell, T, jax.random.key(seed))
        a = ga.alignment(
            algs,
            cell,
            params,
            state0,
            xs,
            targets,
            key=jax.random.key(1000 + seed),
            samples=samples,
            reference="bptt",
            pairwise=pairwise,
        )
        for i, label in enumerate(labels):
            row = rows[label]
            row["cosine"].append(float(np.nanmedian(a.cosine[i])))
            row["relative_norm"].append(float(np.nanmedian(a.relative_norm[i])))
            row["summed_cosine"].append(float(np.nanmedian(a.summed_cosine[i])))
            var = _finite(a.variance[i])
            row["variance"].append(float(np.mean(var)) if var else None)
        if pairwise:
            matrices.append(np.asarray(a.pairwise))
    params, state0, *_ = task(cell, T, jax.random.key(0))
    for label, alg in zip(labels, algs, strict=True):
        rows[label].update(_time_step(alg, cell, params, state0, repeats))
    if pairwise:
        rows["_pairwise"] = {"labels": labels, "matrix": np.mean(matrices, 0).tolist()}
    return rows
