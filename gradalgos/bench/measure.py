"""Measure one config (inside a worker process): time, memory, FLOPs and gradient agreement."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.algorithms import registry
from gradalgos.bench import agreement, timing
from gradalgos.bench.case import Case, make_case
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.schema import BASELINES
from gradalgos.cells.base import AbstractCell
from gradalgos.cells.dependence import num_state_params
from gradalgos.losses import mse

__all__ = ["loop_body_runs", "make_algorithm", "measure", "scan_value_and_grad"]


def scan_value_and_grad(cell: AbstractCell) -> Callable[..., tuple[jax.Array, Any]]:
    """The baseline a JAX user writes by hand: ``f(params, state0, xs, targets, mask) ->
    (L, ∂L/∂θ)`` by ``jax.value_and_grad`` through ``lax.scan`` over time, the step
    ``vmap``-ed over the batch; L is ``ga.losses.mse``'s (mean over the batch of
    Σ_t mask_t · mean((y_t − target_t)²)). Shapes as :class:`~gradalgos.bench.case.Case`."""
    step = jax.vmap(cell.step, in_axes=(None, 0, 0))

    def loss(params: Any, state0: Any, xs: jax.Array, targets: jax.Array, mask: jax.Array):
        def body(state: Any, inputs: tuple[jax.Array, ...]) -> tuple[Any, jax.Array]:
            x, target, m = inputs
            state, y = step(params, state, x)
            return state, jnp.sum(m * jnp.mean(jnp.square(y - target), axis=-1))

        time_major = (jnp.swapaxes(xs, 0, 1), jnp.swapaxes(targets, 0, 1), mask.T)
        _, per_step = jax.lax.scan(body, state0, time_major)
        return jnp.sum(per_step) / xs.shape[0]

    return jax.value_and_grad(loss)


def make_algorithm(name: str, settings: dict[str, Any]) -> Any:
    """``registry.make(name, **settings)``; ``ValueError`` for a baseline's name."""
    if name in BASELINES:
        raise ValueError(f"{name!r} is a baseline, not a gradalgos algorithm")
    return registry.make(name, **settings)


def loop_body_runs(name: str, T: int) -> int | None:
    """How often one call runs the loop body that XLA's ``cost_analysis()`` counts (once,
    whatever its trip count), or ``None`` where loops nest or the method scans its step.

    BPTT and the scan baseline run their forward and backward bodies T times; RTRL runs its
    propagating step T − 1 times (the last step, outside the loop, is overcounted by T − 2
    cheap steps). Facts of how those implementations compile; others get no GFLOP/s.
    """
    if name in ("bptt", "jax-scan"):
        return T
    return max(T - 1, 1) if name == "rtrl" else None


def _function(config: BenchConfig, case: Case) -> Callable[..., Any]:
    """The measured function of ``case.args``; its output starts ``(L, grads, ...)``."""
    if config.algorithm == "jax-scan":
        return scan_value_and_grad(case.cell)
    algorithm = make_algorithm(config.algorithm, config.settings_dict)
    return functools.partial(algorithm.batched_value_and_grad, case.cell, loss=mse)


def _problem(config: BenchConfig) -> BenchConfig:
    """The config without what only the algorithm sees: configs of one point share a case."""
    return dataclasses.replace(config, sweep="", algorithm="", settings=(), repeats=0)


_cached_case = functools.lru_cache(maxsize=1)(make_case)


def _case(problem: BenchConfig) -> Case:
    """The case of a sweep point: cached on a CPU (drawing it costs seconds at large n), drawn
    again on a GPU, so that its arrays count in every config's device peak."""
    return _cached_case(problem) if jax.devices()[0].platform == "cpu" else make_case(problem)


@functools.lru_cache(maxsize=4)
def _reference(config: BenchConfig) -> tuple[float, list[np.ndarray]]:
    """float64 BPTT reference on the config's case, shared by every algorithm of a point."""
    return agreement.reference(_case(config))


def measure(config: BenchConfig) -> dict[str, Any]:
    """Run one config on the default device; returns the fields of
    :data:`~gradalgos.bench.schema.MEASURED_FIELDS`."""
    if config.algorithm == "torch":
        from gradalgos.bench.baseline_torch import measure_torch

        return measure_torch(config)
    device_before = timing.device_memory()
    case = _case(_problem(config))
    with jax.default_matmul_precision(config.precision):  # applies while tracing
        timed = timing.time_compiled(_function(config, case), case.args, config.repeats)
    compiled, (value, grads) = timed.pop("compiled"), timed.pop("output")[:2]
    cell = case.cell
    row: dict[str, Any] = {"S": cell.state_size, "P": cell.num_params, **timed}
    row["P_state"] = num_state_params(cell)
    row["time_per_step_s"] = timed["time_median_s"] / config.T
    row.update(timing.memory_bytes(compiled))
    flops, runs = timing.cost_flops(compiled), loop_body_runs(config.algorithm, config.T)
    row["xla_flops"] = flops
    row["flops_per_step"] = flops * runs / config.T if flops is not None and runs else None
    # XLA's GPU cost analysis misses library GEMMs (RTRL n = 1536 on an H100: 2.2e10 flops per
    # step where J·M alone is 2·S²·P = 1.1e13), so a rate is derived on CPUs only.
    on_cpu = jax.devices()[0].platform == "cpu"
    per_step = row["flops_per_step"]
    row["gflops"] = per_step / row["time_per_step_s"] / 1e9 if per_step and on_cpu else None
    row["gpu_peak_bytes"] = timing.attributable_peak(device_before, timing.device_memory())
    ref_value, ref_grads = _reference(_problem(config))
    row["loss"], row["ref_loss"] = float(value), ref_value
    row.update(agreement.compare(jax.device_get(grads), ref_grads))
    return row
