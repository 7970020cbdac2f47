"""The cost of ONE online step (sweep ``online-step``), beside BPTT's cost per step.

A method's pure ``update`` is jitted with the carry donated, as a training loop calls it, and
timed like any config (each call fed the previous carry). A step holds no loop, so XLA's
``cost_analysis()`` counts its FLOPs exactly; where it does (the hybrid's block scans h
steps), ``flops_per_step`` is null, and a block call's time is divided by h. A one-step call
pays a program launch that BPTT's T-step call pays once, so the method is also timed as its
offline ``batched_value_and_grad`` / T (``scan_ratio_bptt``, the like-for-like ratio).
BPTT's cost per step is measured in the same worker, once per (cell, n, T, dtype) point.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.bench import measure as m
from gradalgos.bench import timing
from gradalgos.bench.config import BenchConfig
from gradalgos.cells.dependence import num_state_params
from gradalgos.losses import mse

__all__ = ["carry_bytes", "has_loop", "measure_step"]

#: An HLO ``while`` instruction (``%w = (loop state types) while(...)``), and a float type.
_LOOP = re.compile(r"=(.*?)\bwhile\(")
_FLOAT = re.compile(r"\b(bf16|f16|f32|f64|c64|c128)\[")


def carry_bytes(carry: Any) -> int:
    """Bytes of the carry's leaves (PRNG keys: their key data)."""
    total = 0
    for leaf in jax.tree_util.tree_leaves(carry):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        total += int(np.prod(leaf.shape)) * jnp.dtype(leaf.dtype).itemsize
    return total


def has_loop(compiled: Any) -> bool | None:
    """Whether the compiled program holds a loop over floats (its body counted once by
    ``cost_analysis()``); ``None`` without HLO text. Integer-only loops (JAX's threefry PRNG
    on a CPU, O(S) work against the step's O(P)) do not count."""
    try:
        text = compiled.as_text()
    except Exception:
        return None
    return any(_FLOAT.search(m.group(1)) for m in _LOOP.finditer(text))


@functools.lru_cache(maxsize=4)
def _bptt_cost(config: BenchConfig) -> dict[str, Any]:
    """BPTT's time and FLOPs per step on the case of ``config`` (a BPTT config), cached: every
    method of a (cell, n) point is divided by the same measurement."""
    case = m._case(m._problem(config))
    with jax.default_matmul_precision(config.precision):
        timed = timing.time_compiled(m._function(config, case), case.args, config.repeats)
    flops = timing.cost_flops(timed["compiled"])
    runs = m.loop_body_runs("bptt", config.T)
    return {
        "bptt_T": config.T,
        "bptt_compile_s": timed["compile_s"],
        "bptt_time_per_step_s": timed["time_median_s"] / config.T,
        "bptt_flops_per_step": flops * runs / config.T if flops is not None else None,
        "bptt_mem_temp_size_in_bytes": timing.memory_bytes(timed["compiled"])[
            "mem_temp_size_in_bytes"
        ],
    }


def _step_inputs(config: BenchConfig, cell: Any, h: int, dtype: Any) -> tuple[jax.Array, ...]:
    """``(x, target, mask)`` of one call: ``(m,)``, ``(o,)``, ``()`` for a single step, or a
    block's ``(h, m)``, ``(h, o)``, ``(h,)``; N(0, 1) and ones, drawn from the config's seed."""
    k_x, k_y = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 1))
    lead = (h,) if h > 1 else ()
    x = jax.random.normal(k_x, (*lead, cell.input_size), dtype)
    target = jax.random.normal(k_y, (*lead, cell.output_size), dtype)
    return x, target, jnp.ones(lead, dtype)


def _settings(algorithm: Any) -> dict[str, Any]:
    """The instance's settings (its dataclass fields), defaults included."""
    return {f.name: getattr(algorithm, f.name) for f in dataclasses.fields(algorithm)}


def measure_step(config: BenchConfig) -> dict[str, Any]:
    """One online step of ``config.algorithm``: the fields of ``schema.MEASURED_FIELDS``
    (``None`` where no gradient is compared) and ``schema.STEP_FIELDS``."""
    device_before = timing.device_memory()
    algorithm = m.make_algorithm(config.algorithm, config.settings_dict)
    if not isinstance(algorithm, AbstractOnlineAlgorithm):
        raise ValueError(f"sweep online-step: {config.algorithm!r} is not an online method")
    case = m._case(m._problem(config))
    cell, params, dtype = case.cell, case.params, jnp.dtype(config.dtype)
    key = jax.random.key(config.seed) if algorithm.needs_key else None
    carry = algorithm.init(cell, params, cell.initial_state(dtype), key=key)
    h = algorithm.block_length(cell)
    x, target, mask = _step_inputs(config, cell, h, dtype)
    update = functools.partial(algorithm.update, cell, mse)
    size = carry_bytes(carry)
    with jax.default_matmul_precision(config.precision):
        args = (params, carry, x, target, mask)
        timed = timing.time_compiled(update, args, config.repeats, carry_arg=1)
        bptt = _bptt_cost(dataclasses.replace(config, algorithm="bptt", settings=()))
        fresh = jax.random.key(config.seed) if key is not None else None  # key: donated above
        scan = functools.partial(algorithm.batched_value_and_grad, cell, loss=mse, key=fresh)
        scanned = timing.time_compiled(scan, case.args, config.repeats)["time_median_s"] / config.T
    compiled = timed["compiled"]
    loops = has_loop(compiled)
    flops = timing.cost_flops(compiled)
    per_step = timed["time_median_s"] / h
    flops_per_step = flops / h if flops is not None and loops is False else None
    on_cpu = jax.devices()[0].platform == "cpu"
    row: dict[str, Any] = {
        "S": cell.state_size,
        "P": cell.num_params,
        "P_state": num_state_params(cell),
        **{k: v for k, v in timed.items() if k not in ("compiled", "output")},
        "steps_per_call": h,
        "time_per_step_s": per_step,
        **timing.memory_bytes(compiled),
        "xla_flops": flops,
        "step_has_loop": loops,
        "flops_per_step": flops_per_step,
        "gflops": flops_per_step / per_step / 1e9 if flops_per_step and on_cpu else None,
        "carry_bytes": size,
        "carry_type": type(carry).__name__,
        "algorithm_settings": _settings(algorithm),
        "keyed": key is not None,
        **bptt,
        "time_ratio_bptt": per_step / bptt["bptt_time_per_step_s"],
        "scan_time_per_step_s": scanned,
        "scan_ratio_bptt": scanned / bptt["bptt_time_per_step_s"],
        "flops_ratio_bptt": (
            flops_per_step / bptt["bptt_flops_per_step"]
            if flops_per_step is not None and bptt["bptt_flops_per_step"]
            else None
        ),
        "loss": float(timed["output"][1]),
        **dict.fromkeys(("ref_loss", "rel_err", "cosine", "max_abs_err")),
    }
    row["gpu_peak_bytes"] = timing.attributable_peak(device_before, timing.device_memory())
    return row
