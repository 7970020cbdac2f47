"""``plan``: the fastest gradient method whose compiled program fits a memory budget."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import jax

from gradalgos._validation import validate
from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.checkpointed import CheckpointedBPTT
from gradalgos.algorithms.hybrid import Hybrid
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.losses import mse
from gradalgos.planner.budget import format_bytes, parse_budget
from gradalgos.planner.costs import estimate_flops, measure, memory_floor, step_costs
from gradalgos.planner.problem import Problem, make_problem

__all__ = ["Candidate", "Plan", "candidates", "plan", "plan_problem"]

CHOSEN, OVER, SLOWER, UNSUPPORTED = "chosen", "over budget", "slower", "unsupported"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One method a plan considered.

    Attributes:
        algorithm: the method (an algorithm value).
        flops_per_step: estimated FLOPs per time step of the batch (the plan's cost model).
        floor_bytes: the analytic floor under its memory (rejected unseen above the budget).
        bytes: measured footprint (XLA temp + arguments + outputs − aliased), or ``None``
            where it was not compiled.
        status: ``"chosen"``, ``"over budget"``, ``"slower"`` (than the choice: not
            compiled) or ``"unsupported"``.
        reason: why, in words.
    """

    algorithm: AbstractAlgorithm
    flops_per_step: float
    floor_bytes: int
    bytes: int | None
    status: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """The method chosen for a problem under a memory budget, and what else was weighed.

    Attributes:
        algorithm: the chosen algorithm value (pass it to :func:`gradalgos.value_and_grad`).
        bytes: its measured footprint: ``temp + argument + output − alias`` bytes of
            ``compiled.memory_analysis()`` of its real program (compiled, not run).
        temp_bytes: the XLA scratch part of ``bytes``.
        flops_per_step: its estimated FLOPs per time step of the whole batch.
        time_vs_bptt: that estimate over BPTT's on the same problem (≈ its time per step in
            BPTT steps; an estimate, see :mod:`gradalgos.planner.costs`).
        memory_budget: the budget in bytes.
        candidates: every candidate, in the order tried (exact first, then cheapest first).
        problem: the problem, in words.
        flops_source: ``"xla"`` (``cost_analysis()`` of one step) or ``"analytic"``.
        compiled: how many candidates' programs were compiled (or read from the cache).
        seconds: wall time of planning.
    """

    algorithm: AbstractAlgorithm
    bytes: int
    temp_bytes: int
    flops_per_step: float
    time_vs_bptt: float
    memory_budget: int
    candidates: tuple[Candidate, ...]
    problem: str
    flops_source: str
    compiled: int
    seconds: float

    def __str__(self) -> str:
        head = (
            f"plan for {self.problem}: {self.algorithm!r}, {format_bytes(self.bytes)} "
            f"({self.bytes} B, measured) of a {format_bytes(self.memory_budget)} budget; "
            f"≈ {self.flops_per_step:.3g} FLOPs/step ({self.time_vs_bptt:.3g}× a BPTT step, "
            f"estimated)"
        )
        width = max(len(repr(c.algorithm)) for c in self.candidates)
        lines = [head, f"  {'candidate':<{width}}  {'memory':>11}  {'FLOPs/step':>10}  decision"]
        for c in self.candidates:
            if c.bytes is not None:
                memory = format_bytes(c.bytes)
            elif c.status == OVER:
                memory = "≥ " + format_bytes(c.floor_bytes)
            else:
                memory = "—"
            lines.append(
                f"  {c.algorithm!r:<{width}}  {memory:>11}  {c.flops_per_step:>10.3g}  "
                f"{c.status}: {c.reason}"
            )
        return "\n".join(lines)


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")


def candidates(problem: Problem, *, online: bool, exact: bool) -> list[AbstractAlgorithm]:
    """The methods a plan weighs.

    Exact: ``BPTT()``, ``CheckpointedBPTT(segment=c)`` for c ≈ √T/2, √T, 2√T (c < T),
    ``Hybrid(block=h)`` for h = 2, 4, 8, … and h = S, all < T (a block of T steps carries no
    M: it is BPTT, and not online), and ``RTRL()``; with ``online`` only the hybrid and RTRL.
    With ``exact=False`` also the approximate online methods of the registry with their
    default settings (tried only when no exact one fits).
    Truncated BPTT (also its online replay, ``tbptt-replay``) is never a candidate: its
    truncation is a modelling choice, not a memory one.
    """
    T, S = problem.T, problem.S
    out: list[AbstractAlgorithm] = []
    if not online:
        out.append(BPTT())
        segments = {max(1, round(math.sqrt(T) * k)) for k in (0.5, 1.0, 2.0)}
        out += [CheckpointedBPTT(segment=c) for c in sorted(segments) if c < T]
    blocks = {2**k for k in range(1, max(T, 2).bit_length())} | {S}
    out += [Hybrid(block=h) for h in sorted(blocks, reverse=True) if 2 <= h < T]
    out.append(RTRL())
    if not exact:
        names = registry.names(online=True, exact=False)
        out += [registry.make(name) for name in names if name != "tbptt-replay"]
    return out


def _unsupported(algorithm: AbstractAlgorithm, problem: Problem, keyed: bool) -> str:
    """Why ``algorithm`` cannot run this problem ('' where it can)."""
    if not isinstance(algorithm, AbstractOnlineAlgorithm):
        return ""
    if algorithm.needs_key and not keyed:
        return "samples noise and no key was given"
    params, state, _, _ = problem.step_structs()
    try:  # traced on shapes, as value_and_grad's check reads no values
        jax.eval_shape(lambda p, s: algorithm.check_supported(problem.cell, p, s), params, state)
    except ValueError as error:
        return str(error)
    return ""


@dataclasses.dataclass
class _Row:
    algorithm: AbstractAlgorithm
    flops: float
    floor: int
    bytes: int | None = None
    temp: int | None = None
    status: str = ""
    reason: str = ""


def _try(row: _Row, problem: Problem) -> None:
    measured = measure(row.algorithm, problem)
    if measured is None:  # no memory analysis on this backend: the analytic count instead
        row.bytes = row.temp = 2 * row.floor - problem.io_bytes()
    else:
        row.bytes, row.temp = measured


def plan_problem(
    problem: Problem, budget: int, *, online: bool, exact: bool, keyed: bool = True
) -> Plan:
    """:func:`plan` on a :class:`Problem`; ``keyed``: whether a PRNG key will be passed
    (otherwise the methods that sample noise are unsupported)."""
    start = time.perf_counter()
    rows = []
    for algorithm in candidates(problem, online=online, exact=exact):
        why = _unsupported(algorithm, problem, keyed)
        flops = math.inf if why else estimate_flops(algorithm, problem)
        row = _Row(algorithm, flops, memory_floor(algorithm, problem))
        if why:
            row.status, row.reason = UNSUPPORTED, why
        rows.append(row)
    rows.sort(key=lambda r: (not r.algorithm.exact, r.flops, r.floor))
    budget_str = f"{format_bytes(budget)} budget"
    chosen = None
    compiled = 0
    for row in rows:
        if row.status:
            continue
        if chosen is not None:
            row.status, row.reason = SLOWER, "estimated no faster than the choice (not compiled)"
        elif row.floor > budget:
            row.status = OVER
            row.reason = f"analytic floor {format_bytes(row.floor)} > {budget_str} (not compiled)"
        else:
            _try(row, problem)
            compiled += 1
            if row.bytes <= budget:
                chosen = row
                row.status, row.reason = CHOSEN, "the cheapest estimate that fits"
            else:
                row.status = OVER
                row.reason = f"measured {format_bytes(row.bytes)} > {budget_str}"
    if chosen is None:
        _raise_too_small(rows, problem, budget)
    bptt = estimate_flops(BPTT(), problem)
    return Plan(
        algorithm=chosen.algorithm,
        bytes=chosen.bytes,
        temp_bytes=chosen.temp,
        flops_per_step=chosen.flops,
        time_vs_bptt=chosen.flops / bptt if bptt > 0 else math.nan,
        memory_budget=budget,
        candidates=tuple(
            Candidate(r.algorithm, r.flops, r.floor, r.bytes, r.status, r.reason) for r in rows
        ),
        problem=problem.describe(),
        flops_source=step_costs(problem).source,
        compiled=compiled,
        seconds=time.perf_counter() - start,
    )


def _raise_too_small(rows: list[_Row], problem: Problem, budget: int) -> None:
    """No candidate fits: measure the smallest ones and name the least in a ``ValueError``."""
    usable = [r for r in rows if r.status != UNSUPPORTED]
    if not usable:
        reasons = "; ".join(f"{r.algorithm!r}: {r.reason}" for r in rows)
        raise ValueError(f"no candidate method supports this problem ({reasons})")
    for row in sorted(usable, key=lambda r: r.floor):
        least = min((r.bytes for r in usable if r.bytes is not None), default=math.inf)
        if row.bytes is None and row.floor < least:
            _try(row, problem)
    smallest = min((r for r in usable if r.bytes is not None), key=lambda r: r.bytes)
    raise ValueError(
        f"memory_budget={budget} bytes ({format_bytes(budget)}) is below the smallest "
        f"candidate: {smallest.algorithm!r} needs {smallest.bytes} bytes "
        f"({format_bytes(smallest.bytes)}, measured) for {problem.describe()}"
    )


def _check_inputs(problem: Problem) -> None:
    """:func:`gradalgos.value_and_grad`'s own input checks, on shapes only (traced by
    ``jax.eval_shape``: nothing is compiled)."""

    def check(params, state0, xs, targets, mask):
        validate(problem.cell, params, state0, xs, targets, mask, problem.loss)

    jax.eval_shape(
        check,
        problem.params.tree(),
        problem.state0.tree(),
        problem.xs,
        problem.targets,
        problem.mask,
    )


def plan(
    cell: AbstractCell,
    params: Params,
    state0: State,
    xs_shape: tuple[int, ...],
    *,
    memory_budget: int | float | str,
    online: bool = False,
    exact: bool = True,
    loss: Loss = mse,
    targets: Any = None,
    mask: Any = None,
    device: jax.Device | None = None,
) -> Plan:
    """The fastest method whose compiled gradient program fits ``memory_budget``.

    Candidates (:func:`candidates`) are ranked by an estimate of their FLOPs per step
    (exact ones first); going down the ranking, one whose analytic memory floor exceeds the
    budget is rejected unseen, the others are compiled (never run) until one's measured
    footprint fits: only the few near the boundary are compiled, and measurements are cached.
    See :mod:`gradalgos.planner.costs` for what is measured and estimated.

    Arguments:
        cell, params, state0: as for :func:`gradalgos.value_and_grad` (arrays or
            ``jax.ShapeDtypeStruct`` s; only shapes and dtypes are read).
        xs_shape: ``(T, m)`` or ``(B, T, m)``; the inputs are in the params' dtype.
        memory_budget: bytes (int) or a string such as ``"8GiB"`` or ``"512MB"``: what the
            call may hold, its inputs and outputs included.
        online: only methods that run forward in time (the hybrid with the largest block that
            fits, or RTRL).
        exact: ``False`` also allows the approximate online methods, tried only when no
            exact method fits (ranked by cost alone: the plan does not judge their bias).
        loss: the per-step loss of the call (it changes the program).
        targets, mask: arrays or ``ShapeDtypeStruct`` s of the call's targets (default floats
            ``(*xs_shape[:-1], o)``) and mask (default none).
        device: the device to plan for (default JAX's default device).

    Returns:
        A :class:`Plan` (``print`` it for a table of the candidates).

    Raises:
        TypeError / ValueError: a budget that is not a positive number of bytes or a known
            unit, or inputs of the wrong kind or shape; ``ValueError`` naming the smallest
            candidate and its bytes where none fits.
    """
    budget = parse_budget(memory_budget)
    _check_flag("online", online)
    _check_flag("exact", exact)
    problem = make_problem(
        cell, params, state0, xs_shape, loss=loss, targets=targets, mask=mask, device=device
    )
    _check_inputs(problem)
    return plan_problem(problem, budget, online=online, exact=exact)
