"""One cell at one (n, T): every method's alignment over seeds, and its step's time and memory.

Alignment: :func:`gradalgos.alignment` with the exact per-step gradients from T reverse passes
(``reference="bptt"``, equal to exact RTRL's, tested), K keys for the methods that take one.
Cost (:mod:`gradalgos.study.cost`): the method's compiled online step (time, XLA memory, FLOPs,
carry bytes), its step scanned over T in one call, and BPTT's T-step call / T beside them.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

import gradalgos as ga
from gradalgos.study.configs import METHODS, task
from gradalgos.study.cost import scanned_costs, step_cost

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
    the step's cost beside BPTT's; and, with ``pairwise``, the seed-mean alignment matrix."""
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
    params, state0, xs, targets = task(cell, T, jax.random.key(0))
    bptt, scanned = scanned_costs(algs, cell, params, state0, xs, targets, repeats)
    for label, alg, scan in zip(labels, algs, scanned, strict=True):
        rows[label].update(step_cost(alg, cell, params, state0, repeats), **bptt)
        rows[label]["scan_time_per_step_s"] = scan
    if pairwise:
        rows["_pairwise"] = {"labels": labels, "matrix": np.mean(matrices, 0).tolist()}
    return rows
