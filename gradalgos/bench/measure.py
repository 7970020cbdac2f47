"""Measure one config (inside a worker process): time, memory, FLOPs and gradient agreement."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from gradalgos.bench import agreement, process_memory
from gradalgos.bench.baseline_jax import scan_value_and_grad
from gradalgos.bench.case import Case, make_case
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.specs import loop_body_runs, make_algorithm
from gradalgos.bench.timing import cost_flops, memory_bytes, time_compiled
from gradalgos.cells.dependence import num_state_params
from gradalgos.losses import mse

__all__ = ["measure", "process_fields"]


def _function(config: BenchConfig, case: Case) -> Callable[..., Any]:
    """The measured function of ``(params, state0, xs, targets, mask)``; output starts
    ``(L, grads, ...)``."""
    if config.algorithm == "jax-scan":
        return scan_value_and_grad(case.cell)
    algorithm = make_algorithm(config.algorithm, config.settings_dict)
    return functools.partial(algorithm.batched_value_and_grad, case.cell, loss=mse)


def _problem(config: BenchConfig) -> BenchConfig:
    """The config without what only the measured algorithm sees: configs of one sweep point
    share their case and reference."""
    return dataclasses.replace(config, sweep="", algorithm="", settings=(), repeats=0)


_cached_case = functools.lru_cache(maxsize=1)(make_case)


def _case(problem: BenchConfig) -> Case:
    """The case of a sweep point; on a CPU cached (drawing it costs seconds at large n), on a
    GPU drawn again, so that its arrays count in every config's device peak."""
    if jax.devices()[0].platform == "cpu":
        return _cached_case(problem)
    return make_case(problem)


@functools.lru_cache(maxsize=4)
def _reference(config: BenchConfig) -> tuple[float, list[np.ndarray]]:
    """float64 BPTT reference on the values of the config's case (rounded to its dtype),
    cached: every algorithm of a sweep point shares it."""
    return agreement.reference(_case(config))


def process_fields(rss_start: int | None, device_before: Any) -> dict[str, int | None]:
    """``rss_start_bytes``, ``rss_peak_bytes`` and ``gpu_peak_bytes`` of a config, from the
    RSS and device memory recorded when it started."""
    return {
        "rss_start_bytes": rss_start,
        "rss_peak_bytes": process_memory.peak_rss(),
        "gpu_peak_bytes": process_memory.attributable_peak(
            device_before, process_memory.device_memory()
        ),
    }


def measure(config: BenchConfig) -> dict[str, Any]:
    """Run one config on the default device and return its measured fields.

    Returns:
        ``S``, ``P``, ``compile_s``, ``times_s``, ``time_median_s``, ``time_min_s``,
        ``time_per_step_s`` (median / T), ``mem_*`` (XLA's ``memory_analysis()``, bytes),
        ``xla_flops`` (``cost_analysis()``, loop bodies counted once), ``flops_per_step`` and
        ``gflops`` where they are meaningful, ``rss_peak_bytes``, ``gpu_peak_bytes``,
        ``loss``, ``ref_loss``, ``rel_err``, ``cosine``, ``max_abs_err``.
    """
    if config.algorithm == "torch":
        from gradalgos.bench.baseline_torch import measure_torch

        return measure_torch(config)
    if config.sweep == "online-step":
        from gradalgos.bench.step_cost import measure_step

        return measure_step(config)
    rss_start = process_memory.reset_peak()
    device_before = process_memory.device_memory()
    case = _case(_problem(config))
    S, P = case.cell.state_size, case.cell.num_params
    P_state = num_state_params(case.cell)
    with jax.default_matmul_precision(config.precision):  # applies while tracing
        timed = time_compiled(_function(config, case), case.args, config.repeats)
    row: dict[str, Any] = {"S": S, "P": P, "P_state": P_state}
    row.update({k: v for k, v in timed.items() if k not in ("compiled", "output")})
    row["time_per_step_s"] = timed["time_median_s"] / config.T
    row.update(memory_bytes(timed["compiled"]))
    flops = cost_flops(timed["compiled"])
    runs = loop_body_runs(config.algorithm, config.T)
    row["xla_flops"] = flops
    row["flops_per_step"] = flops * runs / config.T if flops is not None and runs else None
    # XLA's GPU cost analysis misses library GEMMs (RTRL n = 1536 on an H100: 2.2e10 flops per
    # step where J·M alone is 2·S²·P = 1.1e13), so a rate is derived on CPUs only.
    on_cpu = jax.devices()[0].platform == "cpu"
    row["gflops"] = (
        row["flops_per_step"] / row["time_per_step_s"] / 1e9
        if row["flops_per_step"] and on_cpu
        else None
    )
    row.update(process_fields(rss_start, device_before))
    value, grads = timed["output"][0], timed["output"][1]
    ref_value, ref_grads = _reference(_problem(config))
    row["loss"], row["ref_loss"] = float(value), ref_value
    row.update(agreement.compare(jax.device_get(grads), ref_grads))
    return row
