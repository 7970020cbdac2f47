"""The cost of an online method beside BPTT's, at one (cell, n, T): time, memory and FLOPs.

- ``step``: the method's pure ``update`` jitted with its carry donated, as a training loop
  calls it. XLA's ``cost_analysis()`` counts a step's FLOPs exactly where the step holds no
  loop over floats (:func:`has_loop`); else ``flops_per_step`` is ``None``.
- ``scan``: the method's offline ``batched_value_and_grad`` over the T steps in one call, / T.
  BPTT's T-step call / T is its like-for-like comparison: a one-step call pays a program launch
  that a T-step call pays once.
- BPTT: its T-step call / T; its FLOPs are ``cost_analysis()`` of that call, which counts the
  forward and backward loop bodies once each, i.e. one step's work.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import gradalgos as ga
from gradalgos.bench.timing import cost_flops, memory_bytes, time_compiled
from gradalgos.losses import mse

__all__ = ["carry_bytes", "has_loop", "scan_ratio", "scanned_costs", "step_cost"]

#: An HLO ``while`` instruction (``%w = (loop state types) while(...)``), and a float type.
_LOOP = re.compile(r"=(.*?)\bwhile\(")
_FLOAT = re.compile(r"\b(bf16|f16|f32|f64|c64|c128)\[")
#: Each timing takes ≥ this much wall time (up to 100 calls): the fastest of many calls is the
#: least disturbed by other jobs on the CPUs.
MIN_TOTAL_S = 0.5


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


def scan_ratio(row: dict[str, Any]) -> float | None:
    """A study row's step scanned over T in one call / BPTT's step, measured side by side."""
    scan, bptt = row.get("scan_time_per_step_s"), row.get("bptt_time_per_step_s")
    return scan / bptt if scan and bptt else None


def _key(alg: ga.AbstractOnlineAlgorithm) -> jax.Array | None:
    return jax.random.key(0) if alg.needs_key else None


def step_cost(
    alg: ga.AbstractOnlineAlgorithm,
    cell: ga.cells.AbstractCell,
    params: Any,
    state0: Any,
    repeats: int,
) -> dict[str, Any]:
    """One online step (B = 1, zero input): ``time_per_step_s`` (median), ``_min_s``,
    ``compile_s``, ``xla_bytes`` (arguments + outputs + temp − aliased), ``xla_temp_bytes``,
    ``carry_bytes`` and ``flops_per_step`` (``None`` where the step loops)."""
    carry = alg.init(cell, params, state0, key=_key(alg))
    size = carry_bytes(carry)  # before the first call donates it
    x = np.zeros(cell.input_size, np.float32)
    target, mask = np.zeros(cell.output_size, np.float32), np.float32(1)

    def step(carry, params, x, target, mask):
        return alg.update(cell, mse, params, carry, x, target, mask)

    timed = time_compiled(step, (carry, params, x, target, mask), repeats, MIN_TOTAL_S, carry_arg=0)
    compiled = timed["compiled"]
    mem = memory_bytes(compiled)
    parts = [mem.get(f"mem_{k}_size_in_bytes") or 0 for k in ("argument", "output", "temp")]
    return {
        "time_per_step_s": timed["time_median_s"],
        "time_per_step_min_s": timed["time_min_s"],
        "compile_s": timed["compile_s"],
        "xla_bytes": sum(parts) - (mem.get("mem_alias_size_in_bytes") or 0),
        "xla_temp_bytes": mem.get("mem_temp_size_in_bytes"),
        "carry_bytes": size,
        "flops_per_step": cost_flops(compiled) if has_loop(compiled) is False else None,
    }


def _batch(state0: Any, xs: jax.Array, targets: jax.Array) -> tuple[Any, ...]:
    """``(state0, xs, targets, mask)`` with a batch axis of one sequence."""
    one = jax.tree_util.tree_map(lambda a: a[None], (state0, xs, targets))
    return (*one, jnp.ones((1, xs.shape[0]), xs.dtype))


def scanned_costs(
    algs: Sequence[ga.AbstractOnlineAlgorithm],
    cell: ga.cells.AbstractCell,
    params: Any,
    state0: Any,
    xs: jax.Array,
    targets: jax.Array,
    repeats: int,
) -> tuple[dict[str, Any], list[float]]:
    """BPTT's T-step call / T (``bptt_time_per_step_s``: median, ``bptt_flops_per_step``) and,
    for each of ``algs``, the median time per step [s] of its step scanned over the T steps of
    ``xs`` in one call (its offline ``batched_value_and_grad``)."""
    args, T = (params, *_batch(state0, xs, targets)), xs.shape[0]
    fn = functools.partial(ga.BPTT().batched_value_and_grad, cell, loss=mse)
    bptt = time_compiled(fn, args, repeats, MIN_TOTAL_S)
    times = []
    for alg in algs:
        fn = functools.partial(alg.batched_value_and_grad, cell, loss=mse, key=_key(alg))
        times.append(time_compiled(fn, args, repeats, MIN_TOTAL_S)["time_median_s"] / T)
    cost = {"bptt_time_per_step_s": bptt["time_median_s"] / T}
    return cost | {"bptt_flops_per_step": cost_flops(bptt["compiled"])}, times
