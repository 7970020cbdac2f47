"""Choose the gradient method from a memory budget: :func:`plan` and :class:`Auto`.

>>> p = ga.plan(cell, params, state0, (100_000, 4), memory_budget="8GiB", online=True)
>>> print(p)                       # the choice, its measured bytes, the rejected candidates
>>> ga.value_and_grad(ga.Auto(memory_budget="8GiB"), cell, params, state0, xs, targets)
"""

from gradalgos.planner.auto import Auto
from gradalgos.planner.budget import format_bytes, parse_budget
from gradalgos.planner.plan import Candidate, Plan, candidates, plan

__all__ = ["Auto", "Candidate", "Plan", "candidates", "format_bytes", "parse_budget", "plan"]
