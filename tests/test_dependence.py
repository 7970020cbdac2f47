"""Which parameters the state depends on (``cells.dependence``), checked against
``jax.jacrev`` of the state map, and RTRL/hybrid carrying M for those parameters only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from test_algorithms import make_data, max_rel_error

import gradalgos as ga
from gradalgos.cells.dependence import num_state_params, state_parameter_mask
from tests.cases import CELL_CASES


def _random_point(cell, key):
    k_p, k_s, k_x = jax.random.split(key, 3)
    params = cell.init(k_p, jnp.float64)
    state = jax.tree_util.tree_map(
        lambda s: s + 0.3 * jax.random.normal(k_s, s.shape, s.dtype),
        cell.initial_state(jnp.float64),
    )
    return params, state, jax.random.normal(k_x, (cell.input_size,), jnp.float64)


@pytest.mark.parametrize("name", sorted(CELL_CASES))
def test_mask_matches_the_state_jacobian(name):
    """False ⇔ ∂s'/∂θ_leaf is exactly zero (reference: jax.jacrev at a random point)."""
    cell = CELL_CASES[name]()
    params, state, x = _random_point(cell, jax.random.key(5))
    jac = jax.jacrev(lambda p: ravel_pytree(cell.step(p, state, x)[0])[0])(params)
    mask = state_parameter_mask(cell, params, state)
    leaves = zip(jax.tree_util.tree_leaves(mask), jax.tree_util.tree_leaves(jac), strict=True)
    for keep, d in leaves:
        assert keep == bool(np.any(np.asarray(d) != 0))


def test_elman_readout_is_excluded_and_jordan_keeps_it():
    elman = ga.cells.Elman(input_size=3, hidden_size=5, output_size=7)
    params = elman.init(jax.random.key(0))
    mask = state_parameter_mask(elman, params, elman.initial_state())
    assert mask == {"W_in": True, "W_rec": True, "b": True, "W_out": False, "b_out": False}
    assert num_state_params(elman) == 5 * 5 + 5 * 3 + 5  # P_s = n² + n·m + n
    assert elman.num_params == num_state_params(elman) + 7 * 5 + 7
    jordan = ga.cells.Jordan(input_size=3, hidden_size=5, output_size=2)  # state = output
    assert num_state_params(jordan) == jordan.num_params


def test_nested_jaxpr_is_conservative():
    """A parameter that meets the state only inside a jitted function is kept (sound)."""

    @jax.jit
    def both(A, C, h):
        return jnp.tanh(A @ h), C @ h

    def step(params, h, x):
        h, y = both(params["A"], params["C"], h + x)
        return h, y

    cell = ga.cells.FunctionCell(
        step,
        lambda key: {"A": jnp.eye(3), "C": jnp.ones((2, 3))},
        lambda: jnp.zeros((3,)),
        input_size=3,
        output_size=2,
    )
    params = cell.init(jax.random.key(0))
    assert state_parameter_mask(cell, params, cell.initial_state()) == {"A": True, "C": True}


def test_mask_under_jit_and_vmap_is_static():
    cell = CELL_CASES["gru"]()
    params, state, _ = _random_point(cell, jax.random.key(1))

    def count(p, s):
        mask = state_parameter_mask(cell, p, s)
        return sum(int(keep) for keep in jax.tree_util.tree_leaves(mask))

    expected = count(params, state)
    assert jax.jit(lambda p, s: jnp.asarray(count(p, s)))(params, state) == expected
    batch = jax.tree_util.tree_map(lambda s: jnp.stack([s, s]), state)
    assert list(jax.vmap(lambda s: jnp.asarray(count(params, s)))(batch)) == [expected] * 2


@pytest.mark.parametrize("algorithm", [ga.RTRL(), ga.Hybrid(block=3)])
def test_large_readout_not_carried_and_gradient_exact(algorithm):
    """o ≫ S: M holds S·P_s numbers, not S·P, and the gradient still equals BPTT's."""
    cell = ga.cells.Elman(input_size=2, hidden_size=3, output_size=40)
    params, state0, xs, targets = make_data(cell, jax.random.key(2), batch=2, steps=7)
    carry = algorithm.init(cell, params, state0[0])
    carried = sum(m.size for m in jax.tree_util.tree_leaves(carry.sensitivity))
    assert carried == cell.state_size * num_state_params(cell) == 3 * (9 + 6 + 3)
    _, ref, _ = ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets)
    _, got, _ = ga.value_and_grad(algorithm, cell, params, state0, xs, targets)
    assert max_rel_error(got, ref) <= 1e-12
