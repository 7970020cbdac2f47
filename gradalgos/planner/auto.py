"""``Auto``: an algorithm value that plans on first use and then is the method it chose."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.sequence_cell import AbstractSequenceCell
from gradalgos.losses import mse
from gradalgos.planner.budget import parse_budget
from gradalgos.planner.plan import Plan, _check_flag, plan_problem
from gradalgos.planner.problem import Problem, make_problem

__all__ = ["Auto"]

#: Decisions by (Auto value, problem shapes, key given?): planned once, then looked up.
_DECISIONS: dict[tuple[Auto, Problem, bool], Plan] = {}
#: Each Auto value's latest decision (for its ``repr``) and how many problems it planned.
_LATEST: dict[Auto, tuple[Plan, int]] = {}


@dataclasses.dataclass(frozen=True, repr=False)
class Auto(AbstractAlgorithm):
    """The fastest method that fits ``memory_budget``, chosen by :func:`gradalgos.plan`.

    On first use for a problem (cell, loss, shapes and dtypes of params, state, inputs,
    targets and mask, whether a key is passed) it plans — compiling a few candidates, running
    none — and caches the decision; every later call with those shapes is the chosen method's
    own call (the same compiled program as passing that method). ``repr`` shows the choice.

    Arguments:
        memory_budget: bytes (int) or a string such as ``"8GiB"`` or ``"512MB"``.
        online: choose among the methods that run forward in time (hybrid, RTRL).
        exact: ``False`` allows the approximate online methods where no exact one fits
            (those that sample noise only when a key is passed).

    Auto is not a method of its own and is not in the registry; to step an online method by
    hand, take ``ga.plan(...).algorithm`` and call its ``init``/``step``.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "auto",
        "auto (memory budget)",
        exact=True,
        online=False,
        stochastic=False,
        time_exponent=math.nan,
        memory_exponent=None,
        memory_vs_T=math.nan,
        reference="gradalgos.plan: the method it chooses",
    )

    memory_budget: int | float | str
    online: bool = False
    exact: bool = True

    def __post_init__(self) -> None:
        parse_budget(self.memory_budget)
        _check_flag("online", self.online)
        _check_flag("exact", self.exact)

    @property
    def budget_bytes(self) -> int:
        """The budget in bytes."""
        return parse_budget(self.memory_budget)

    @property
    def last_plan(self) -> Plan | None:
        """The latest decision of this Auto value (``print`` it for the table), or ``None``."""
        return _LATEST.get(self, (None, 0))[0]

    def plan_for(self, problem: Problem, *, keyed: bool) -> Plan:
        """The cached decision for ``problem`` (planned on the first request)."""
        cache_key = (self, problem, keyed)
        decision = _DECISIONS.get(cache_key)
        if decision is None:
            decision = plan_problem(
                problem, self.budget_bytes, online=self.online, exact=self.exact, keyed=keyed
            )
            _DECISIONS[cache_key] = decision
            planned = _LATEST.get(self, (None, 0))[1] + 1
            _LATEST[self] = (decision, planned)
        return decision

    def resolve(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        *,
        loss: Loss = mse,
        mask: jax.Array | None = None,
        key: jax.Array | None = None,
    ) -> AbstractAlgorithm:
        """The method chosen for these (validated) inputs; only shapes and dtypes are read."""
        if isinstance(cell, AbstractSequenceCell):  # the cost model prices one forward step
            raise ValueError(
                f"Auto plans from the cost of one forward step, which {type(cell).__name__} "
                f"({cell.kind}) has not; pass BPTT() or CheckpointedBPTT(segment) yourself"
            )
        problem = make_problem(
            cell, params, state0, xs, loss=loss, targets=targets, mask=mask, key=key
        )
        return self.plan_for(problem, keyed=key is not None).algorithm

    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, Params, State]:
        """The chosen method's (planned for these batched shapes; :func:`gradalgos.value_and_grad`
        resolves an Auto before it compiles, so this is only for direct callers)."""
        chosen = self.resolve(cell, params, state0, xs, targets, loss=loss, mask=mask, key=key)
        args = (cell, params, state0, xs, targets, mask, loss)
        if isinstance(chosen, AbstractOnlineAlgorithm):
            return chosen.batched_value_and_grad(*args, key=key)
        return chosen.batched_value_and_grad(*args)

    def __repr__(self) -> str:
        text = (
            f"Auto(memory_budget={self.memory_budget!r}, online={self.online}, exact={self.exact})"
        )
        latest = _LATEST.get(self)
        if latest is None:
            return text + " (not planned yet)"
        decision, planned = latest
        more = f", latest of {planned} problems" if planned > 1 else ""
        return f"{text} → {decision.algorithm!r} ({decision.problem}{more})"

    def __str__(self) -> str:
        return repr(self)
