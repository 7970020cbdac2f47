"""The online-learning study (``compare --only online_study``; issue 28): every online method,
TBPTT(k) and TBPTT(k) with replay, trained online from one never-reset stream.

Four synthetic tasks (copy, adding, aⁿbⁿ, Mackey-Glass) get the same stream length and the
same optimiser for every method, 3 seeds (vmapped: one compiled program per method and task),
with the exact-RTRL shadow on (:mod:`gradalgos.training.shadow`): the per-update cosine of
each method's gradient against exact RTRL's on the same weights. Character-level language
modelling (:class:`gradalgos.tasks.CharLM`) gets the same wall time per method instead (no
shadow: it would cost every method an RTRL step) and reports test bits per character at the
shortest run's training time (a fast method may reach the step cap first).

The results (``results["online_study"]``) hold per task ``metric``, ``higher_is_better`` and
per method label ``final_metric`` / ``mean_cosine`` (one float per seed), ``seconds``
(training time of the vmapped seeds), ``steps`` and the per-seed curves.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos import algorithms, cells
from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.tasks import AbstractTask, Adding, AnBn, Batch, CharLM, Copy, MackeyGlass
from gradalgos.training.evaluate import evaluate
from gradalgos.training.online import _chunks, _init_carry, block_length, make_run
from gradalgos.training.optimizers import make_optimizer
from gradalgos.training.shadow import mean_cosine, shadow_init, state_leaves

__all__ = ["SETTINGS", "exp_online_study", "study_methods"]

#: The protocol every method gets (stated in the report).
SETTINGS: dict[str, Any] = dict(
    hidden=32, seeds=3, optimizer="adam", learning_rate=3e-3, clip=1.0, k=8, steps=8192,
    records=16, eval_batch_size=256, char_lm_seconds=8.0, char_lm_max_steps=98304,
    char_lm_records=48,
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class AnBnInRange(AnBn):
    """aⁿbⁿ scored on the training range n ≤ ``max_n`` (fresh strings): these online runs are
    too short for counting beyond it (:class:`AnBn`'s own test), where every method scores 0."""

    def test_sample(self, key: jax.Array, batch_size: int, dtype: Any = None) -> Batch:
        return self.sample(key, batch_size, dtype)


TASKS: dict[str, AbstractTask] = {
    "copy": Copy(length=3, delay=4, symbols=4),
    "adding": Adding(length=20),
    "anbn": AnBnInRange(max_n=5, test_max_n=6),
    "mackey-glass": MackeyGlass(length=100),
}


def study_methods(k: int) -> list[AbstractAlgorithm]:
    """Every registered online method (TBPTT replay with this ``k``), then TBPTT(k)."""
    methods = [
        registry.make(name, k=k, leak=1.0) for name in registry.names(online=True, cell="elman")
    ]
    return [*methods, algorithms.TBPTT(k)]


def method_label(alg: AbstractAlgorithm) -> str:
    """A short display name: ``TBPTT(8)``, ``TBPTT replay(8)``, ``SnAp-1``, ``RTRL`` …"""
    if isinstance(alg, algorithms.TBPTT | algorithms.ReplayTBPTT):
        return f"{type(alg).info.label}({getattr(alg, 'k', None) or alg.k1})"
    if isinstance(alg, algorithms.SnAp):
        return f"SnAp-{alg.order}"
    return type(alg).info.label.split(" (")[0]


@functools.partial(jax.jit, static_argnames=("task", "cell"))
def _score(task: AbstractTask, cell: Any, params: Any, test: Batch) -> jax.Array:
    """The test metric per seed (leaves with a leading seed axis)."""
    return jax.vmap(lambda p, b: evaluate(task, cell, p, b)[1])(params, test)


def _stack(trees: list[Any]) -> Any:
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def train_seeds(
    task: AbstractTask,
    cell: Any,
    alg: AbstractAlgorithm,
    keys: list[jax.Array],
    *,
    steps: int,
    records: int,
    shadow: bool,
    max_time: float | None = None,
) -> dict[str, Any]:
    """Online training of one method on one task for every key at once (``jax.vmap``): the
    loop of :func:`gradalgos.training.train_online` (same blocks, optimiser, carry, shadow)
    with a seed axis. Returns per-seed curves (lists over records) and the training seconds
    (compilation and evaluation excluded); stops early after ``max_time`` seconds."""
    s = SETTINGS
    tx = make_optimizer(s["optimizer"], s["learning_rate"], clip=s["clip"])
    h = block_length(alg, cell)
    params = [cell.init(jax.random.fold_in(k, 0)) for k in keys]
    state0 = cell.initial_state(jax.tree_util.tree_leaves(params[0])[0].dtype)
    keep = state_leaves(cell, params[0], state0) if shadow else None
    carry = _stack([(_init_carry(alg, cell, p, k), shadow_init(cell, p, state0) if shadow
                     else None) for p, k in zip(params, keys, strict=True)])  # fmt: skip
    streams = [task.stream(jax.random.fold_in(k, 1), steps) for k in keys]
    streams = [Batch(x, t, jnp.asarray(m, x.dtype)) for x, t, m in streams]
    per_record = -(-steps // records // h)
    chunks = zip(*(_chunks(Batch(*map(np.asarray, st)), h, per_record) for st in streams),
                 strict=True)  # fmt: skip
    test = _stack([task.test_sample(jax.random.fold_in(k, 2), s["eval_batch_size"])
                   for k in keys])  # fmt: skip
    params = _stack(params)
    opt_state = jax.vmap(tx.init)(params)
    run = jax.jit(jax.vmap(make_run(task, cell, alg, tx, keep)))
    first = _score(task, cell, params, test)
    out: dict[str, Any] = {"step": [0], "wall_time": [0.0], "metric": [first], "loss": [],
                           "cosine": []}  # fmt: skip
    compiled, elapsed, t = {}, 0.0, 0
    for group in chunks:
        chunk = _stack(list(group))
        shape = chunk.xs.shape[1:3]
        if shape not in compiled:
            compiled[shape] = run.lower(params, opt_state, carry, chunk).compile()
        t0 = time.perf_counter()
        params, opt_state, carry, values, _, cosines = jax.block_until_ready(
            compiled[shape](params, opt_state, carry, chunk)
        )
        elapsed += time.perf_counter() - t0
        t += shape[0] * shape[1]
        scored = np.maximum(np.sum(np.asarray(chunk.mask), axis=(1, 2)), 1)
        out["loss"].append(np.sum(np.asarray(values), axis=1) / scored)
        out["cosine"].append([mean_cosine(c) for c in np.asarray(cosines)])
        out["step"].append(t)
        out["wall_time"].append(elapsed)
        out["metric"].append(_score(task, cell, params, test))
        if max_time is not None and elapsed >= max_time:
            break
    metric = np.asarray(out["metric"], float).T  # (seeds, records + 1)
    cos = np.asarray(out["cosine"], float).T if shadow else None
    return {
        "step": out["step"], "wall_time": out["wall_time"], "metric": metric.tolist(),
        "loss": np.asarray(out["loss"], float).T.tolist(),
        "cosine": None if cos is None else cos.tolist(),
        "final_metric": metric[:, -1].tolist(), "seconds": elapsed, "steps": t,
        "mean_cosine": [None] * len(keys) if cos is None
        else [float(np.nanmean(c)) if np.isfinite(c).any() else None for c in cos],
    }  # fmt: skip


def _at_equal_time(runs: dict[str, Any]) -> float:
    """Set each run's ``final_metric`` to its last evaluation within the shortest run's
    training time (runs that reach the step cap early stop before the others); return it."""
    t_eq = min(run["wall_time"][-1] for run in runs.values())
    for run in runs.values():
        last = max(i for i, t in enumerate(run["wall_time"]) if t <= t_eq)
        run["last_metric"] = run["final_metric"]
        run["final_metric"] = [m[last] for m in run["metric"]]
        run["final_step"] = run["step"][last]
    return t_eq


def _task_runs(task: AbstractTask, key: jax.Array, *, shadow: bool, steps: int,
               max_time: float | None, records: int) -> dict[str, Any]:  # fmt: skip
    s = SETTINGS
    cell = cells.Elman(task.input_size, s["hidden"], task.output_size)
    keys = [jax.random.fold_in(key, seed) for seed in range(s["seeds"])]
    runs = {}
    for alg in study_methods(s["k"]):
        t0 = time.perf_counter()
        run = train_seeds(task, cell, alg, keys, steps=steps, records=records,
                          shadow=shadow, max_time=max_time)  # fmt: skip
        run.update(algorithm=repr(alg), total_seconds=time.perf_counter() - t0)
        runs[method_label(alg)] = run
    out = {"task": repr(task), "cell": f"Elman n={s['hidden']}", "metric": task.metric_name,
           "higher_is_better": task.higher_is_better, "baseline": task.baseline,
           "runs": runs}  # fmt: skip
    if max_time is not None:
        out["equal_time_seconds"] = _at_equal_time(runs)
    return out


def exp_online_study(budget: float, key: jax.Array) -> dict:
    """Online learning, every online method + TBPTT(k) (+ replay), 4 tasks at equal stream
    length with the shadow cosine, char-LM at equal wall time (``budget`` ignored: the
    protocol is :data:`SETTINGS`)."""
    del budget
    s = SETTINGS
    tasks = {name: _task_runs(task, jax.random.fold_in(key, i), shadow=True,
                              steps=s["steps"], max_time=None, records=s["records"])
             for i, (name, task) in enumerate(TASKS.items())}  # fmt: skip
    tasks["char-lm"] = _task_runs(CharLM(), jax.random.fold_in(key, len(TASKS)), shadow=False,
                                  steps=s["char_lm_max_steps"], max_time=s["char_lm_seconds"],
                                  records=s["char_lm_records"])  # fmt: skip
    return {"settings": dict(s), "tasks": tasks}
