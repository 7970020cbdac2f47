"""Online forms (RTRL.step, Hybrid.step) and composition with jit / vmap / caching."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest
from cases import CELL_CASES
from test_algorithms import make_data, max_rel_error

import gradalgos as ga
from gradalgos.algorithms import online
from gradalgos.value_and_grad import _trace_count


@pytest.fixture(scope="module")
def problem():
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    params, state0, xs, targets = make_data(cell, jax.random.key(1), batch=2, steps=7)
    return cell, params, state0[0], xs[0], targets[0]


@pytest.fixture(scope="module", params=sorted(CELL_CASES))
def cell_problem(request):
    """One 7-step sequence for each cell of the suite (tuple states: LSTM, Stack, …)."""
    cell = CELL_CASES[request.param]()
    params, state0, xs, targets = make_data(cell, jax.random.key(1), batch=2, steps=7)
    s0 = jax.tree_util.tree_map(lambda s: s[0], state0)
    full = ga.value_and_grad(ga.BPTT(), cell, params, s0, xs[0], targets[0])
    return request.param, cell, params, s0, xs[0], targets[0], full


def test_online_rtrl_per_step_gradients_sum_to_full_gradient(cell_problem):
    name, cell, params, s0, xs, targets, (full_loss, full_grads, full_state) = cell_problem
    rtrl = ga.RTRL()
    carry = rtrl.init(cell, params, s0)
    # M is carried for the state's parameters only (leaves (S, *leaf.shape); on element-wise
    # cells only each parameter's block, leaves (C, *leaf.shape), C ≤ 8); a readout's ∂s/∂θ
    # is 0 and not stored (None).
    if isinstance(carry, ga.TraceState):
        assert name in ("indrnn", "elementwise-lstm", "lru")
        sens, rows = carry.traces, next(m.shape[0] for m in jax.tree_util.tree_leaves(carry.traces))
        assert rows <= min(8, cell.state_size // 2)
    else:
        sens, rows = carry.sensitivity, cell.state_size
    sens = jax.tree_util.tree_leaves(sens, is_leaf=lambda m: m is None)
    leaves = jax.tree_util.tree_leaves_with_path(params)
    assert len(sens) == len(leaves)
    pairs = list(zip(sens, leaves, strict=True))
    assert all(m is None or m.shape == (rows, *p.shape) for m, (_, p) in pairs)
    assert any(m is not None for m in sens)
    if name == "elman-tanh":
        uncarried = {jax.tree_util.keystr(k) for m, (k, _) in pairs if m is None}
        assert uncarried == {"['W_out']", "['b_out']"}
    total, grads = 0.0, jax.tree_util.tree_map(jnp.zeros_like, params)
    for t in range(xs.shape[0]):
        carry, loss_t, g_t = rtrl.step(cell, params, carry, xs[t], targets[t])
        total = total + loss_t
        grads = jax.tree_util.tree_map(jnp.add, grads, g_t)
    assert float(total) == pytest.approx(float(full_loss), rel=1e-13)
    assert max_rel_error(grads, full_grads) <= 1e-10
    assert max_rel_error(carry.state, full_state) <= 1e-13


# Every cell with h = 3 (7 steps = blocks of 3, 3, 1: a full and a partial block); the Elman
# cell with h = 1 and 2 too (one compilation per cell and block length: the cost of this file).
HYBRID_CASES = [("elman-tanh", 1), ("elman-tanh", 2)] + [(name, 3) for name in sorted(CELL_CASES)]


@pytest.mark.parametrize(("cell_problem", "h"), HYBRID_CASES, indirect=["cell_problem"])
def test_online_hybrid_block_gradients_sum_to_full_gradient(cell_problem, h):
    _, cell, params, s0, xs, targets, (full_loss, full_grads, full_state) = cell_problem
    hybrid = ga.Hybrid(block=h)
    carry = hybrid.init(cell, params, s0)
    total, grads = 0.0, jax.tree_util.tree_map(jnp.zeros_like, params)
    for start in range(0, xs.shape[0], h):  # 7 steps: the last block is partial for h = 2, 3
        block = slice(start, start + h)
        carry, loss, g = hybrid.step(cell, params, carry, xs[block], targets[block])
        total = total + loss
        grads = jax.tree_util.tree_map(jnp.add, grads, g)
    assert float(total) == pytest.approx(float(full_loss), rel=1e-13)
    assert max_rel_error(grads, full_grads) <= 1e-10
    assert max_rel_error(carry.state, full_state) <= 1e-13


def test_online_step_jits_and_vmaps(problem):
    cell, params, s0, xs, targets = problem
    rtrl = ga.RTRL()
    step = jax.jit(functools.partial(rtrl.step, cell))
    carry = rtrl.init(cell, params, s0)
    eager = rtrl.step(cell, params, carry, xs[0], targets[0])
    jitted = step(params, carry, xs[0], targets[0])
    assert max_rel_error(jitted[2], eager[2]) <= 1e-14
    # A batch of independent streams: vmap over carry and inputs, params shared.
    carries = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), carry)
    batched = jax.vmap(step, in_axes=(None, 0, 0, 0))(params, carries, xs[:2], targets[:2])
    for b in range(2):
        single = rtrl.step(cell, params, carry, xs[b], targets[b])
        assert (
            max_rel_error(jax.tree_util.tree_map(lambda g, b=b: g[b], batched[2]), single[2])
            <= 1e-14
        )


def test_value_and_grad_composes_with_jit_and_vmap(problem):
    cell, params, s0, xs, targets = problem
    ref = ga.value_and_grad(ga.RTRL(), cell, params, s0, xs, targets)
    jitted = jax.jit(lambda p, x: ga.value_and_grad(ga.RTRL(), cell, p, s0, x, targets))(params, xs)
    assert max_rel_error(jitted[1], ref[1]) <= 1e-14
    # vmap over three parameter sets: every element is its own parameters' BPTT gradient,
    # loss and final state (not only the first, unchanged copy).
    scales = (1.0, 2.0, -0.5)
    p3 = jax.tree_util.tree_map(lambda a: jnp.stack([c * a for c in scales]), params)
    many = jax.vmap(lambda p: ga.value_and_grad(ga.Hybrid(block=2), cell, p, s0, xs, targets))(p3)
    for i, c in enumerate(scales):
        p_i = jax.tree_util.tree_map(lambda a, c=c: c * a, params)
        want_loss, want_grads, want_state = ga.value_and_grad(ga.BPTT(), cell, p_i, s0, xs, targets)
        got_loss, got_grads, got_state = jax.tree_util.tree_map(lambda a, i=i: a[i], many)
        assert float(got_loss) == pytest.approx(float(want_loss), rel=1e-13), c
        assert max_rel_error(got_grads, want_grads) <= 1e-10, c
        assert max_rel_error(got_state, want_state) <= 1e-13, c


def test_second_call_does_not_recompile(problem):
    """Counted by traces of the jitted entry point (every compilation starts with one)."""
    cell, params, s0, xs, targets = problem
    ga.value_and_grad(ga.Hybrid(block=3), cell, params, s0, xs, targets)
    before = _trace_count()
    new_params = jax.tree_util.tree_map(lambda a: a * 1.5, params)
    ga.value_and_grad(ga.Hybrid(block=3), cell, new_params, s0, xs + 1.0, targets)
    # An equal (not identical) algorithm and cell hash the same: still no recompilation.
    same_cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    ga.value_and_grad(ga.Hybrid(block=3), same_cell, params, s0, xs, targets)
    assert _trace_count() == before
    # The count sees a new compilation: a new sequence length traces once, then not again.
    for _ in range(2):
        ga.value_and_grad(ga.Hybrid(block=3), cell, params, s0, xs[:5], targets[:5])
    assert _trace_count() == before + 1


def _counting_elman(calls: list[int]) -> ga.cells.Elman:
    """An Elman cell (m = 3, n = 4, o = 2) whose ``step`` adds its Python calls to
    ``calls[0]``: JAX runs it while tracing (the online step's trace, the dependence walk's
    ``make_jaxpr``), never when a compiled program is reused. Its class is new on every call,
    so the cell equals no earlier one and its first step traces afresh."""

    class CountingElman(ga.cells.Elman):
        def step(self, params, state, x):
            calls[0] += 1
            return super().step(params, state, x)

    return CountingElman(input_size=3, hidden_size=4, output_size=2)


@pytest.mark.parametrize("donate_carry", [False, True])
@pytest.mark.parametrize("algorithm", [ga.RTRL(), ga.Hybrid(block=2)])
def test_online_steps_compile_once_and_trace_the_mask_once(problem, algorithm, donate_carry):
    """A Python loop of ``step`` calls runs one compiled program: later steps (new carry, new
    inputs, new weights) neither re-trace (so recompile) the block nor re-trace the dependence
    walk. Counted by side effects that run only while JAX traces: the online step's trace
    count, and the Python calls of the cell's ``step`` (a cell of a fresh class, so that its
    first step is seen to trace)."""
    _, params, s0, xs, targets = problem
    cell_steps = [0]
    cell = _counting_elman(cell_steps)
    at = (lambda t: t) if isinstance(algorithm, ga.RTRL) else (lambda t: slice(t, t + 2))
    inputs = [(xs[at(t)], targets[at(t)]) for t in (0, 2, 4)]
    step = functools.partial(algorithm.step, donate_carry=donate_carry)
    carry = algorithm.init(cell, params, s0)
    steps_before, traces_before = cell_steps[0], online._trace_count()
    carry, _, _ = step(cell, params, carry, *inputs[0])
    assert online._trace_count() == traces_before + 1
    assert cell_steps[0] > steps_before
    steps, traces = cell_steps[0], online._trace_count()
    new_params = jax.tree_util.tree_map(lambda a: a * 1.5, params)
    for x, target in inputs[1:]:
        carry, _, g = step(cell, new_params, carry, x, target)
    assert online._trace_count() == traces
    assert cell_steps[0] == steps
    assert all(jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(g))


@pytest.mark.parametrize("algorithm", [ga.RTRL(), ga.Hybrid(block=3)])
def test_donating_steps_give_the_same_gradients_and_invalidate_only_the_old_carry(
    problem, algorithm
):
    """``donate_carry=True`` reuses the carry's buffers: the same per-step losses, gradients
    and final carry as without it (and, summed, the BPTT gradient), the old carry unusable
    with a clear error, and the ``state0`` given to ``init`` intact."""
    cell, params, s0, xs, targets = problem
    _, full_grads, _ = ga.value_and_grad(ga.BPTT(), cell, params, s0, xs, targets)
    h = algorithm.block_length(cell)
    at = (lambda t: t) if h == 1 else (lambda t: slice(t, t + h))
    runs = {}
    for donate in (False, True):
        carry = algorithm.init(cell, params, s0)
        outputs = []
        for start in range(0, xs.shape[0], h):
            old = carry
            carry, loss, g = algorithm.step(
                cell, params, carry, xs[at(start)], targets[at(start)], donate_carry=donate
            )
            outputs.append((loss, g))
            deleted = [leaf.is_deleted() for leaf in jax.tree_util.tree_leaves(old)]
            assert all(deleted) if donate else not any(deleted)
        runs[donate] = outputs, carry
    (kept, kept_carry), (donated, donated_carry) = runs[False], runs[True]
    for (loss_a, g_a), (loss_b, g_b) in zip(kept, donated, strict=True):
        assert float(loss_a) == float(loss_b)
        assert max_rel_error(g_b, g_a) == 0.0
    assert max_rel_error(donated_carry, kept_carry) == 0.0
    summed = jax.tree_util.tree_map(lambda *gs: sum(gs), *(g for _, g in donated))
    assert max_rel_error(summed, full_grads) <= 1e-10
    assert not s0.is_deleted()
    with pytest.raises(ValueError, match="donate_carry=True"):
        algorithm.step(cell, params, old, xs[at(0)], targets[at(0)])


def test_donate_carry_must_be_a_bool(problem):
    cell, params, s0, xs, targets = problem
    carry = ga.RTRL().init(cell, params, s0)
    with pytest.raises(TypeError, match="donate_carry must be a bool"):
        ga.RTRL().step(cell, params, carry, xs[0], targets[0], donate_carry="yes")


def test_repeated_step_checks_still_catch_bad_values(problem):
    """Inputs of an already-traced structure skip the structural checks (they run while the
    step traces: a loop of steps pays them once), but their values are still checked on every
    call; a changed shape traces again and is checked again."""
    cell, params, s0, xs, targets = problem
    rtrl = ga.RTRL()
    carry, _, _ = rtrl.step(cell, params, rtrl.init(cell, params, s0), xs[0], targets[0])
    traces = online._trace_count()
    carry, _, _ = rtrl.step(cell, params, carry, xs[1], targets[1])
    assert online._trace_count() == traces  # same structure: no new trace, so no re-check
    nan_params = {**params, "W_rec": params["W_rec"].at[0, 0].set(jnp.nan)}
    bad = [
        ((params, xs[1].at[0].set(jnp.nan), targets[1]), "x contains NaN"),
        ((params, xs[1], targets[1].at[0].set(jnp.inf)), "target contains NaN or inf"),
        ((nan_params, xs[1], targets[1]), "params contains NaN"),
        ((params, xs[1, :2], targets[1]), "x must have shape"),
        # a wrong shape and a bad value: the structural error, as on a first call
        ((params, xs[1, :2].at[0].set(jnp.nan), targets[1]), "x must have shape"),
    ]
    for (p, x, t), message in bad:
        with pytest.raises(ValueError, match=message):
            rtrl.step(cell, p, carry, x, t)
        with pytest.raises(ValueError, match=message):  # refused before anything is donated
            rtrl.step(cell, p, carry, x, t, donate_carry=True)
    assert not any(leaf.is_deleted() for leaf in jax.tree_util.tree_leaves(carry))
    # a Python number where an array belongs is refused by name (jit alone would take it)
    with pytest.raises(ValueError, match=r"params\['b'\] must have shape \(4,\) .*, got float"):
        rtrl.step(cell, {**params, "b": 0.5}, carry, xs[1], targets[1])
    rtrl.step(cell, params, carry, xs[1], targets[1], mask=jnp.asarray(1.0))  # checked whole
    with pytest.raises(ValueError, match="mask contains NaN"):
        rtrl.step(cell, params, carry, xs[1], targets[1], mask=jnp.asarray(jnp.nan))


def test_repeated_hybrid_checks_still_catch_out_of_range_labels():
    cell = ga.cells.Elman(input_size=2, hidden_size=3, output_size=4)
    params = cell.init(jax.random.key(0))
    hybrid = ga.Hybrid(block=2)
    carry = hybrid.init(cell, params, cell.initial_state())
    xs = jnp.ones((2, 2))
    carry, _, _ = hybrid.step(
        cell, params, carry, xs, jnp.array([0, 3]), loss=ga.losses.cross_entropy
    )
    with pytest.raises(ValueError, match="integer target must lie in"):
        hybrid.step(cell, params, carry, xs, jnp.array([0, 4]), loss=ga.losses.cross_entropy)
