"""What a plan weighs: each candidate's measured memory, an analytic floor under it, and an
estimate of its FLOPs per time step.

**Memory** is measured, never assumed: the candidate's real program (``jax.jit`` of
:func:`gradalgos.value_and_grad` on the problem's shapes) is lowered and compiled, not run, and
XLA's ``memory_analysis()`` gives its footprint, ``temp + argument + output − alias`` bytes:
XLA's scratch plus the call's own inputs and outputs, everything the call holds while it runs.
Where a backend reports no memory analysis, the analytic count (twice the floor's core) stands
in for the measurement.

**The floor** is half of an analytic count of the arrays a method cannot do without (B
sequences, itemsize b): BPTT's T states, B·T·S·b; checkpointed BPTT's T/c boundary states and
one segment's c states, B·(T/c + c)·S·b; the hybrid's M and the new M' and its block's
stacked S×S cotangents, B·(2·S·P_s + h·S²)·b; dense RTRL's M and M', B·2·S·P_s·b (its
element-wise path at least B·P_s·b); plus the inputs and outputs.
A candidate whose floor exceeds the budget is rejected without compiling it; the factor ½
leaves room for XLA's buffer sharing, so that the floor stays below the measurement.

**Time** is an estimate, in FLOPs per time step of the whole batch: XLA's ``cost_analysis()``
of loop-free programs (one cell step with its loss, f; its VJP, v; one step of RTRL and of
the approximate online methods), combined by the methods' known structure: BPTT v,
checkpointed BPTT v + f (one extra forward), the hybrid with block h the dense RTRL step
without its J·M product, plus 2f, plus that product amortised over the block,
2·S·(S + 1)·P_s / h. FLOPs are not seconds: memory traffic, launches and the sequential
dependence of a scan are not counted, so two candidates whose estimates are close may run
in either order.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.checkpointed import CheckpointedBPTT
from gradalgos.algorithms.exact_online import AbstractSensitivityAlgorithm
from gradalgos.algorithms.hybrid import Hybrid
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.rtrl import RTRL, elementwise
from gradalgos.algorithms.sensitivity import SensitivityState, initial_sensitivity
from gradalgos.planner.problem import Problem

__all__ = ["Measured", "StepCosts", "estimate_flops", "measure", "memory_floor", "step_costs"]


class Measured(NamedTuple):
    """XLA's memory accounting of one candidate's compiled program (bytes)."""

    bytes: int  # temp + argument + output − alias
    temp_bytes: int


#: Measurements by (algorithm, problem): a plan for another budget compiles nothing again.
_MEASURED: dict[tuple[AbstractAlgorithm, Problem], Measured | None] = {}


def _key_struct() -> jax.ShapeDtypeStruct:
    return jax.eval_shape(jax.random.key, 0)


def measure(algorithm: AbstractAlgorithm, problem: Problem) -> Measured | None:
    """The footprint of ``value_and_grad(algorithm, ...)`` on the problem's shapes, compiled
    and not run (cached); ``None`` where the backend reports no memory analysis."""
    cache_key = (algorithm, problem)
    if cache_key in _MEASURED:
        return _MEASURED[cache_key]
    from gradalgos.value_and_grad import value_and_grad

    cell, loss = problem.cell, problem.loss
    key = problem.key
    if key is None and isinstance(algorithm, AbstractOnlineAlgorithm) and algorithm.needs_key:
        key = _key_struct()

    def call(params, state0, xs, targets, mask, key):
        return value_and_grad(
            algorithm, cell, params, state0, xs, targets, loss=loss, mask=mask, key=key
        )

    args = (
        problem.params.tree(),
        problem.state0.tree(),
        problem.xs,
        problem.targets,
        problem.mask,
        key,
    )
    compiled = jax.jit(call).lower(*args).compile()
    try:
        stats = compiled.memory_analysis()
    except Exception:  # a backend without memory analysis
        stats = None
    result = None
    if stats is not None:
        total = (
            stats.temp_size_in_bytes
            + stats.argument_size_in_bytes
            + stats.output_size_in_bytes
            - stats.alias_size_in_bytes
        )
        result = Measured(int(total), int(stats.temp_size_in_bytes))
    if len(_MEASURED) > 4096:
        _MEASURED.clear()
    _MEASURED[cache_key] = result
    return result


def memory_floor(algorithm: AbstractAlgorithm, problem: Problem) -> int:
    """A floor under the candidate's measured footprint in bytes (module docstring)."""
    B, T, S, b = problem.B, problem.T, problem.S, problem.itemsize
    P_s = problem.P_state
    if isinstance(algorithm, BPTT):
        core = T * S
    elif isinstance(algorithm, CheckpointedBPTT):
        c = algorithm.segment_length(T)
        core = (T // c + c) * S
    elif isinstance(algorithm, Hybrid):
        h = min(algorithm.block_length(problem.cell), T)
        core = 2 * S * P_s + (h * S * S if h > 1 else 0)
    elif isinstance(algorithm, RTRL):
        core = P_s if _elementwise(problem) else 2 * S * P_s
    else:
        core = 0
    return problem.io_bytes() + B * core * b // 2


class StepCosts(NamedTuple):
    """FLOPs of one time step of one sequence: the cell step and its loss (``forward``), its
    VJP with respect to parameters and state (``vjp``, forward included), and one dense RTRL
    step (``rtrl_dense``); ``source``: ``"xla"`` (``cost_analysis()``) or ``"analytic"``."""

    forward: float
    vjp: float
    rtrl_dense: float
    source: str


_FLOAT_LOOP = re.compile(r"=(.*?)\bwhile\(")
_FLOAT = re.compile(r"\b(bf16|f16|f32|f64|c64|c128)\[")


def _flops(compiled: Any) -> float | None:
    """``cost_analysis()`` FLOPs of a program without loops over floats (a loop body is
    counted once, whatever its trip count: then ``None``)."""
    try:
        text = compiled.as_text()
        if any(_FLOAT.search(m.group(1)) for m in _FLOAT_LOOP.finditer(text)):
            return None
        cost = compiled.cost_analysis()
    except Exception:
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops is not None and flops >= 0 else None


def _compile_flops(fn: Any, *args: Any) -> float | None:
    return _flops(jax.jit(fn).lower(*args).compile())


def _step_loss(cell, loss, params, state, x, target, mask):
    state, y = cell.step(params, state, x)
    return mask * loss(y, target), state


@functools.lru_cache(maxsize=64)
def step_costs(problem: Problem) -> StepCosts:
    """The problem's :class:`StepCosts`, from three small compiled programs (not run)."""
    cell, loss = problem.cell, problem.loss
    params, state, x, target = problem.step_structs()
    mask = jax.ShapeDtypeStruct((), problem.dtype)
    step = functools.partial(_step_loss, cell, loss)

    def vjp(params, state, x, target, mask):
        out, pull = jax.vjp(lambda p, s: step(p, s, x, target, mask), params, state)
        return out, pull(jax.tree_util.tree_map(jnp.ones_like, out))

    def rtrl_dense(params, state, x, target, mask):
        carry = SensitivityState(state, initial_sensitivity(cell, params, state))
        # the dense path even where RTRL itself takes the element-wise one
        return AbstractSensitivityAlgorithm.update(
            RTRL(), cell, loss, params, carry, x, target, mask
        )

    f = _compile_flops(step, params, state, x, target, mask)
    v = _compile_flops(vjp, params, state, x, target, mask)
    r = _compile_flops(rtrl_dense, params, state, x, target, mask)
    S, P_s = problem.S, problem.P_state
    if f is None or v is None or r is None:
        f = 2.0 * problem.P
        v = 3.0 * f
        r = f + S * (v - f) + 2.0 * S * (S + 1) * P_s
        return StepCosts(f, v, r, "analytic")
    return StepCosts(f, v, r, "xla")


def online_step_flops(algorithm: AbstractOnlineAlgorithm, problem: Problem) -> float | None:
    """FLOPs of one ``update`` of a single-step online method (its own carry), or ``None``."""
    cell, loss = problem.cell, problem.loss
    params, state, x, target = problem.step_structs()
    mask = jax.ShapeDtypeStruct((), problem.dtype)
    key = _key_struct() if algorithm.needs_key else None

    def one(params, state, key, x, target, mask):
        carry = algorithm.initial_carry(cell, params, state, key)
        return algorithm.update(cell, loss, params, carry, x, target, mask)

    try:
        return _compile_flops(one, params, state, key, x, target, mask)
    except Exception:
        return None


def estimate_flops(algorithm: AbstractAlgorithm, problem: Problem) -> float:
    """Estimated FLOPs per time step of the batch (module docstring); ``inf`` where no
    estimate exists (the candidate is then tried last)."""
    c = step_costs(problem)
    S, P_s = problem.S, problem.P_state
    jm = 2.0 * S * (S + 1) * P_s  # [J; λ]·M, once per block
    if isinstance(algorithm, BPTT):
        per_seq = c.vjp
    elif isinstance(algorithm, CheckpointedBPTT):
        per_seq = c.vjp + c.forward
    elif isinstance(algorithm, Hybrid):
        h = min(algorithm.block_length(problem.cell), problem.T)
        per_seq = c.rtrl_dense if h == 1 else max(c.rtrl_dense - jm, 0) + 2 * c.forward + jm / h
    elif isinstance(algorithm, AbstractOnlineAlgorithm) and algorithm.single_step:
        measured = _online_flops(algorithm, problem)
        per_seq = measured if measured is not None else math.inf
    else:
        per_seq = math.inf
    return problem.B * per_seq


@functools.lru_cache(maxsize=256)
def _online_flops(algorithm: AbstractOnlineAlgorithm, problem: Problem) -> float | None:
    if isinstance(algorithm, RTRL) and not _elementwise(problem):
        return step_costs(problem).rtrl_dense  # the same program: compiled once
    return online_step_flops(algorithm, problem)


def _elementwise(problem: Problem) -> bool:
    """Whether RTRL takes its element-wise path on the problem's cell."""
    params, state, _, _ = problem.step_structs()
    return elementwise(problem.cell, params, state)
