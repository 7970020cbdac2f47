"""The block Jacobians of the hybrid (``sensitivity.block_jacobians``) against ``jax.jacrev``
of the block's state map, an independent reference, for every cell."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.sensitivity import block_jacobians
from tests.cases import CELL_CASES


def _unrolled_block(cell, unravel_state, params, s, xs):
    """s_h of a block by a Python loop over its steps (no scan)."""
    state = unravel_state(s)
    for x in xs:
        state, _ = cell.step(params, state, x)
    return ravel_pytree(state)[0]


@pytest.mark.parametrize("name", sorted(CELL_CASES))
@pytest.mark.parametrize("h", [1, 2, 5])
def test_block_jacobians_match_jacrev(name, h):
    cell = CELL_CASES[name]()
    k_p, k_s, k_x = jax.random.split(jax.random.key(3), 3)
    params = cell.init(k_p, jnp.float64)
    s0, unravel_state = ravel_pytree(cell.initial_state(jnp.float64))
    s0 = s0 + 0.3 * jax.random.normal(k_s, s0.shape, jnp.float64)
    xs = jax.random.normal(k_x, (h, cell.input_size), jnp.float64)

    J, D = jax.jit(lambda p, s, x: block_jacobians(cell, unravel_state, p, s, x))(params, s0, xs)

    def block(p, s):
        return _unrolled_block(cell, unravel_state, p, s, xs)

    D_ref, J_ref = jax.jacrev(block, argnums=(0, 1))(params, s0)
    S = s0.shape[0]
    assert J.shape == (S, S)
    np.testing.assert_allclose(J, J_ref, rtol=1e-12, atol=1e-12)
    for leaf, leaf_ref, p in zip(
        jax.tree_util.tree_leaves(D),
        jax.tree_util.tree_leaves(D_ref),
        jax.tree_util.tree_leaves(params),
        strict=True,
    ):
        assert leaf.shape == (S, *p.shape)
        np.testing.assert_allclose(leaf, leaf_ref, rtol=1e-12, atol=1e-12)
