"""The structure derived from a cell's step (gradalgos.cells.structure) against dense
Jacobians computed here, and the derived readout against the step's own output."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.cells.structure import cell_structure, readout_function


def dense_patterns(cell, params, state, x):
    """Pattern of J^θ (S, P) and J^s (S, S) from ``jax.jacfwd`` at one point."""
    s, unravel = ravel_pytree(state)
    p, unravel_p = ravel_pytree(params)

    def f(p_flat, s_flat):
        return ravel_pytree(cell.step(unravel_p(p_flat), unravel(s_flat), x)[0])[0]

    j_theta, j_state = jax.jacfwd(f, argnums=(0, 1))(p, s)
    return np.asarray(j_theta) != 0, np.asarray(j_state) != 0


def touch_matrix(structure):
    """The derived touch pattern as a dense (S, P) bool matrix."""
    columns = []
    for ptr, idx in zip(structure.touch.indptr, structure.touch.indices, strict=True):
        for j in range(len(ptr) - 1):
            col = np.zeros(structure.state_size, bool)
            col[idx[ptr[j] : ptr[j + 1]]] = True
            columns.append(col)
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("name", sorted(CELL_CASES))
def test_structure_is_the_union_of_dense_patterns_at_random_points(name):
    """The derived patterns contain every non-zero of the exact Jacobians at several random
    points (never miss a connection), and equal their union (no spurious one) for cells
    without piecewise selections."""
    cell = CELL_CASES[name]()
    params, state = cell.init(jax.random.key(0)), cell.initial_state()
    structure = cell_structure(cell, params, state)
    union_theta, union_state = 0, 0
    for seed in range(4):
        k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
        p = jax.tree_util.tree_map(
            lambda a, k=k1: a + jax.random.normal(k, a.shape, a.dtype), params
        )
        s = jax.tree_util.tree_map(lambda a, k=k2: jax.random.normal(k, a.shape, a.dtype), state)
        x = jax.random.normal(k3, (cell.input_size,))
        theta, st = dense_patterns(cell, p, s, x)
        union_theta, union_state = union_theta | theta, union_state | st
    touch = touch_matrix(structure)
    assert not (union_theta & ~touch).any()
    assert not (union_state & ~structure.state_pattern).any()
    if "relu" not in name and name != "irnn":
        assert (touch == union_theta).all()
        assert (structure.state_pattern == union_state).all()


def test_a_relu_unit_that_is_off_at_every_probe_still_counts():
    """IndRNN with ReLU and a bias far below zero: every unit is off, so the Jacobians are 0
    at the point; the structure still connects each unit to its own weights."""
    cell = ga.cells.IndRNN(2, 3, 1)
    params = cell.init(jax.random.key(0))
    params = {**params, "b": params["b"] - 100.0}
    theta, _ = dense_patterns(cell, params, cell.initial_state(), jnp.ones(2))
    assert not theta.any()
    structure = cell_structure(cell, params, cell.initial_state())
    assert np.diag(structure.state_pattern).all()
    assert structure.touch.max_size() == 1


def test_a_fixed_sparsity_mask_keeps_its_zeros():
    cell = ga.cells.Elman(2, 6, 1, density=0.4, mask_seed=3)
    structure = cell_structure(cell, cell.init(jax.random.key(0)), cell.initial_state())
    assert (structure.state_pattern == cell.recurrent_mask()).all()


@jax.jit
def _jitted_step(params, h, x):
    h = jax.nn.relu(params["A"] @ h + params["B"] @ x)
    return h, params["C"] @ h


def _init(key):
    return {"A": jnp.eye(3) * 0.5, "B": jnp.ones((3, 2)), "C": jnp.ones((1, 3))}


def _zeros():
    return jnp.zeros((3,))


def test_nested_jit_and_custom_jvp_are_seen_through():
    """A user step under ``jax.jit`` using ``jax.nn.relu`` (a custom-JVP function)."""
    cell = ga.cells.FunctionCell(_jitted_step, _init, _zeros, input_size=2, output_size=1)
    params, state = cell.init(jax.random.key(0)), cell.initial_state()
    structure = cell_structure(cell, params, state)
    assert structure.state_pattern.all()
    readout = readout_function(cell, params, state)
    x = jnp.array([0.3, -0.2])
    new, y = cell.step(params, jnp.ones(3), x)
    assert jnp.allclose(readout(params, new, x), y)
    assert readout.uses_params


@pytest.mark.parametrize("name", sorted(CELL_CASES))
def test_the_readout_reproduces_the_steps_output(name):
    cell = CELL_CASES[name]()
    params, state = cell.init(jax.random.key(1)), cell.initial_state()
    state = jax.tree_util.tree_map(lambda s: s + 0.3, state)
    x = jnp.linspace(-1.0, 1.0, cell.input_size)
    new, y = cell.step(params, state, x)
    got = readout_function(cell, params, state)(params, new, x)
    assert jnp.allclose(got, y, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("cell", "size"), [("IndRNN", 256), ("ElementwiseLSTM", 16)])
def test_float32_probe_finds_every_connection(cell, size):
    """The probe point must not saturate tanh/sigmoid (a derivative of exactly 0 hides a
    connection): float32 and float64 structures agree, and J^s is fully diagonal."""
    extra = {"activation": "tanh"} if cell == "IndRNN" else {}
    c = getattr(ga.cells, cell)(input_size=4, hidden_size=size, output_size=4, **extra)
    found = []
    for dtype in (jnp.float32, jnp.float64):
        params = jax.tree_util.tree_map(lambda a, d=dtype: a.astype(d), c.init(jax.random.key(0)))
        found.append(cell_structure(c, params, c.initial_state(dtype)))
    np.testing.assert_array_equal(found[0].state_pattern, found[1].state_pattern)
    for a, b in zip(found[0].touch.indices, found[1].touch.indices, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.diag(found[0].state_pattern).all()


def test_snap1_on_a_gru_keeps_each_parameters_one_step_pattern() -> None:
    """A GRU's reset-gate weights reach every h̃_i through W_hh; they must not merge the state
    into one unit (SnAp-1 would become dense RTRL). Reference written here: M̃_t = P ⊙ (J^s
    M̃_{t−1} + J^θ) with P the one-step pattern of J^θ (Menick et al. 2021), dense Jacobians;
    without P it must give BPTT's gradient (a check of the reference itself)."""
    from jax.flatten_util import ravel_pytree

    import gradalgos as ga

    cell = ga.cells.GRU(2, 9, 1)
    params = cell.init(jax.random.key(0), jnp.float64)
    xs = jax.random.normal(jax.random.key(1), (6, 2), jnp.float64)
    targets = jax.random.normal(jax.random.key(2), (6, 1), jnp.float64)
    theta, unravel = ravel_pytree(params)

    def new_state(th, h, x):
        return cell.step(unravel(th), h, x)[0]

    def step_loss(th, h, target):  # ℓ_t through the read-out only: y = W_out h + b_out
        p = unravel(th)
        return ga.losses.mse(p["W_out"] @ h + p["b_out"], target)

    h_rand = jax.random.normal(jax.random.key(3), (9,), jnp.float64)
    pattern = jax.jacrev(new_state)(theta, h_rand, xs[0]) != 0

    jacobians = jax.jit(lambda h, x: jax.jacrev(new_state, (1, 0))(theta, h, x))
    loss_grads = jax.jit(lambda h, target: jax.grad(step_loss, (1, 0))(theta, h, target))

    def reference(mask):
        h, M, grad = cell.initial_state(jnp.float64), jnp.zeros((9, theta.size)), 0.0
        for x, target in zip(xs, targets, strict=True):
            Js, Jt = jacobians(h, x)
            M = mask * (Js @ M + Jt)
            h = new_state(theta, h, x)
            q, direct = loss_grads(h, target)
            grad = grad + q @ M + direct
        return unravel(grad)

    def flat(tree):
        return ravel_pytree(tree)[0]

    state0 = cell.initial_state(jnp.float64)
    _, exact, _ = ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets)
    _, snap, _ = ga.value_and_grad(ga.SnAp(1), cell, params, state0, xs, targets)
    np.testing.assert_allclose(flat(reference(True)), flat(exact), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(flat(snap), flat(reference(pattern)), rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(flat(snap) - flat(exact))) > 1e-6  # SnAp-1 is not RTRL on a GRU
