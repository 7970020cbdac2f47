"""``ga.plan`` and ``ga.Auto``: the choice under a memory budget is checked against memory
measured here, in the test, from ``memory_analysis()`` of every candidate's compiled program,
and the gradient of ``Auto`` against the method it chose and ``jax.grad`` of an unrolled loop."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import pytest

import gradalgos as ga

CELL = ga.cells.Elman(input_size=3, hidden_size=5, output_size=2)
B, T = 2, 16


def _inputs(seed: int = 0):
    k_par, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params = CELL.init(k_par)
    xs = jax.random.normal(k_x, (B, T, CELL.input_size))
    targets = jax.random.normal(k_y, (B, T, CELL.output_size))
    return params, CELL.initial_state(), xs, targets


def _footprint(algorithm, params, state0, xs, targets) -> int:
    """Everything the compiled call holds: XLA's scratch, its arguments and its outputs
    (less buffers an output reuses from an argument), from ``memory_analysis()``."""
    fn = jax.jit(lambda p, s, x, t: ga.value_and_grad(algorithm, CELL, p, s, x, t))
    stats = fn.lower(params, state0, xs, targets).compile().memory_analysis()
    if stats is None:
        pytest.skip("this backend reports no memory analysis")
    return (
        stats.temp_size_in_bytes
        + stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        - stats.alias_size_in_bytes
    )


_MEASURED: dict = {}


def _measured(online: bool) -> tuple[dict, tuple]:
    """Each candidate's footprint, measured here (one dict for all: the online candidates
    are among the offline ones); and the plan's candidates with their cost estimates."""
    params, state0, xs, targets = _inputs()
    if not _MEASURED:
        wide = ga.plan(CELL, params, state0, xs.shape, memory_budget=10**12)
        for c in wide.candidates:
            _MEASURED[c.algorithm] = _footprint(c.algorithm, params, state0, xs, targets)
    wide = ga.plan(CELL, params, state0, xs.shape, memory_budget=10**12, online=online)
    return {c.algorithm: _MEASURED[c.algorithm] for c in wide.candidates}, wide.candidates


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
def test_plan_picks_the_cheapest_candidate_that_fits_every_budget(online: bool) -> None:
    """For budgets between the candidates' measured sizes (and above them all), the choice
    fits, its reported bytes are the measured ones, and no candidate that fits has a smaller
    cost estimate; the analytic floors used to reject unseen stay below the measurements."""
    sizes, candidates = _measured(online)
    names = {type(a).__name__ for a in sizes}
    assert {"Hybrid", "RTRL"} <= names and ("BPTT" in names) != online
    for c in candidates:
        assert c.floor_bytes <= sizes[c.algorithm], c
    levels = sorted(set(sizes.values()))
    budgets = [(a + b) // 2 for a, b in itertools.pairwise(levels)] + [levels[-1]]
    params, state0, xs, _ = _inputs()
    chosen = set()
    for budget in budgets:
        p = ga.plan(CELL, params, state0, xs.shape, memory_budget=budget, online=online)
        assert p.bytes == sizes[p.algorithm] <= budget, (budget, p.algorithm)
        for c in p.candidates:
            if sizes[c.algorithm] <= budget:
                assert c.flops_per_step >= p.flops_per_step, (budget, c, p.algorithm)
        chosen.add(p.algorithm)
    assert len(chosen) >= 3, chosen  # the budgets span several methods
    cheapest_overall = min(candidates, key=lambda c: c.flops_per_step).algorithm
    assert p.algorithm == cheapest_overall  # at the largest budget, everything fits


def test_online_plan_takes_the_largest_hybrid_block_that_fits() -> None:
    """The hybrid's estimated time falls with h and its memory grows with it: an online plan
    takes the largest block that fits (RTRL only where none does)."""
    sizes, _ = _measured(True)
    params, state0, xs, _ = _inputs()
    blocks = sorted((a.block, b) for a, b in sizes.items() if isinstance(a, ga.Hybrid))
    for h, size in blocks:
        p = ga.plan(CELL, params, state0, xs.shape, memory_budget=size, online=True)
        fitting = [k for k, s in blocks if s <= size]
        assert p.algorithm == ga.Hybrid(block=max(fitting)), (h, p.algorithm)


def test_budget_below_every_candidate_names_the_smallest_and_its_bytes() -> None:
    sizes, _ = _measured(False)
    smallest = min(sizes, key=sizes.get)
    params, state0, xs, _ = _inputs()
    with pytest.raises(ValueError, match="memory_budget") as info:
        ga.plan(CELL, params, state0, xs.shape, memory_budget=sizes[smallest] - 1)
    assert repr(smallest) in str(info.value) and f"{sizes[smallest]} bytes" in str(info.value)


def test_exact_false_falls_back_to_an_approximate_method_only_where_no_exact_one_fits() -> None:
    sizes, _ = _measured(True)
    params, state0, xs, targets = _inputs()
    budget = min(sizes.values()) - 1
    p = ga.plan(CELL, params, state0, xs.shape, memory_budget=budget, online=True, exact=False)
    assert not p.algorithm.exact and p.algorithm.info.online
    key = jax.random.key(1) if p.algorithm.needs_key else None
    fn = jax.jit(lambda p_, x, t: ga.value_and_grad(p.algorithm, CELL, p_, state0, x, t, key=key))
    stats = fn.lower(params, xs, targets).compile().memory_analysis()
    used = stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes
    assert used - stats.alias_size_in_bytes <= budget
    roomy = ga.plan(CELL, params, state0, xs.shape, memory_budget=10**12, exact=False)
    assert roomy.algorithm == ga.BPTT()  # exact first, however cheap an approximation is


def _unrolled_loss(params, state0, xs, targets):
    """The sequence loss written out step by step (mean over the batch of Σ_t mse)."""
    total = 0.0
    for b in range(xs.shape[0]):
        state = state0
        for t in range(xs.shape[1]):
            state, y = CELL.step(params, state, xs[b, t])
            total = total + jnp.mean((y - targets[b, t]) ** 2)
    return total / xs.shape[0]


def test_auto_gives_the_gradient_of_the_method_it_chose() -> None:
    sizes, _ = _measured(True)
    hybrids = sorted(s for a, s in sizes.items() if isinstance(a, ga.Hybrid))
    auto = ga.Auto(memory_budget=hybrids[len(hybrids) // 2], online=True)
    params, state0, xs, targets = _inputs(3)
    value, grads, state_T = ga.value_and_grad(auto, CELL, params, state0, xs, targets)
    chosen = auto.last_plan.algorithm
    assert isinstance(chosen, ga.Hybrid) and repr(chosen) in repr(auto)
    ref_value, ref_grads, ref_state = ga.value_and_grad(chosen, CELL, params, state0, xs, targets)
    for a, b in zip(
        jax.tree.leaves((value, grads, state_T)),
        jax.tree.leaves((ref_value, ref_grads, ref_state)),
        strict=True,
    ):
        assert jnp.max(jnp.abs(a - b)) <= 1e-12
    unrolled = jax.grad(_unrolled_loss)(params, state0, xs, targets)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(unrolled), strict=True):
        assert jnp.max(jnp.abs(a - b)) <= 1e-12


_TRACES: list[int] = []


def counting_mse(y, target):
    """MSE that records each time it is traced (planning or compiling traces it; a cached
    call does not)."""
    _TRACES.append(1)
    return jnp.mean((y - target) ** 2)


def test_auto_plans_once_per_shapes_and_then_is_the_chosen_program() -> None:
    params, state0, xs, targets = _inputs(4)
    auto = ga.Auto(memory_budget="1MiB")
    assert "not planned" in repr(auto)
    ga.value_and_grad(auto, CELL, params, state0, xs, targets, loss=counting_mse)
    traced = len(_TRACES)
    assert traced > 0
    chosen = auto.last_plan.algorithm
    assert repr(chosen) in repr(auto)
    # new values, same shapes: no planning, no compiling, for this and an equal Auto value
    _, _, xs2, targets2 = _inputs(5)
    ga.value_and_grad(auto, CELL, params, state0, xs2, targets2, loss=counting_mse)
    ga.value_and_grad(
        ga.Auto(memory_budget="1MiB"), CELL, params, state0, xs2, targets2, loss=counting_mse
    )
    # the chosen method itself runs the very program Auto compiled
    ga.value_and_grad(chosen, CELL, params, state0, xs2, targets2, loss=counting_mse)
    assert len(_TRACES) == traced
    # new shapes: a new plan
    ga.value_and_grad(auto, CELL, params, state0, xs2[:, :12], targets2[:, :12], loss=counting_mse)
    assert len(_TRACES) > traced
    assert "latest of 2 problems" in repr(auto)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ("8GiB", 8 * 2**30),
        ("512MB", 512 * 10**6),
        ("1.5 KiB", 1536),
        ("4096", 4096),
        (4096, 4096),
        (4096.9, 4096),
        ("2 gb", 2 * 10**9),
    ],
)
def test_budget_strings_and_numbers(budget, expected) -> None:
    assert ga.planner.parse_budget(budget) == expected
    assert ga.Auto(memory_budget=budget).budget_bytes == expected


@pytest.mark.parametrize(
    ("budget", "error"),
    [
        (0, ValueError),
        (-5, ValueError),
        (0.5, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("", ValueError),
        ("lots", ValueError),
        ("-1GiB", ValueError),
        ("8 parsecs", ValueError),
        ("8 GiBs", ValueError),
        ("0MB", ValueError),
        (True, TypeError),
        (None, TypeError),
        ([8], TypeError),
    ],
)
def test_bad_budgets_are_refused_naming_memory_budget(budget, error) -> None:
    params, state0, xs, _ = _inputs()
    with pytest.raises(error, match="memory_budget"):
        ga.plan(CELL, params, state0, xs.shape, memory_budget=budget)
    with pytest.raises(error, match="memory_budget"):
        ga.Auto(memory_budget=budget)


def test_bad_inputs_are_refused_by_name() -> None:
    params, state0, xs, _ = _inputs()
    with pytest.raises(ValueError, match="xs_shape"):
        ga.plan(CELL, params, state0, (T, 7), memory_budget="1GiB")
    with pytest.raises(TypeError, match="xs_shape"):
        ga.plan(CELL, params, state0, "long", memory_budget="1GiB")
    with pytest.raises(TypeError, match="online"):
        ga.plan(CELL, params, state0, xs.shape, memory_budget="1GiB", online="yes")
    with pytest.raises(TypeError, match="exact"):
        ga.Auto(memory_budget="1GiB", exact=None)
    with pytest.raises(ValueError, match="params"):
        ga.plan(CELL, {"W": params["W_rec"]}, state0, xs.shape, memory_budget="1GiB")


def test_plan_prints_a_table_of_every_candidate() -> None:
    sizes, _ = _measured(False)
    params, state0, xs, _ = _inputs()
    checkpointed = min(s for a, s in sizes.items() if isinstance(a, ga.CheckpointedBPTT))
    assert checkpointed < sizes[ga.BPTT()]
    p = ga.plan(CELL, params, state0, xs.shape, memory_budget=checkpointed)
    text = str(p)
    assert repr(p.algorithm) in text.splitlines()[0]
    for c in p.candidates:
        assert repr(c.algorithm) in text
    assert {"chosen", "over budget", "slower"} <= {c.status for c in p.candidates}
