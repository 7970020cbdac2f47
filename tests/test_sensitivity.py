"""One block of the hybrid (``sensitivity.block_pullback``) against ``jax.jacrev`` and
``jax.grad`` of the block written as a Python loop, an independent reference, for every cell."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.sensitivity import block_pullback
from gradalgos.losses import cross_entropy, mse
from tests.cases import CELL_CASES


def _unrolled_block(cell, loss, unravel_state, params, s, xs, targets, mask):
    """``(s_h, Σ_t mask_t·ℓ_t)`` of a block by a Python loop over its steps (no scan)."""
    state, total = unravel_state(s), 0.0
    for x, target, m in zip(xs, targets, mask, strict=True):
        state, y = cell.step(params, state, x)
        total = total + m * loss(y, target)
    return ravel_pytree(state)[0], total


def _assert_tree_close(tree, ref, shapes):
    for leaf, leaf_ref, shape in zip(
        jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(ref), shapes, strict=True
    ):
        assert leaf.shape == shape
        np.testing.assert_allclose(leaf, leaf_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CELL_CASES))
@pytest.mark.parametrize(
    ("h", "loss"),
    [(1, mse), (2, mse), (5, mse), (5, cross_entropy)],
    ids=["1", "2", "5", "5-labels"],
)
def test_block_pullback_matches_jacrev_and_grad(name, h, loss):
    cell = CELL_CASES[name]()
    k_p, k_s, k_x, k_t = jax.random.split(jax.random.key(3), 4)
    params = cell.init(k_p, jnp.float64)
    s0, unravel_state = ravel_pytree(cell.initial_state(jnp.float64))
    s0 = s0 + 0.3 * jax.random.normal(k_s, s0.shape, jnp.float64)
    xs = jax.random.normal(k_x, (h, cell.input_size), jnp.float64)
    if loss is mse:
        targets = jax.random.normal(k_t, (h, cell.output_size), jnp.float64)
    else:
        targets = jax.random.randint(k_t, (h,), 0, cell.output_size)
    mask = jnp.arange(h, dtype=jnp.float64) % 3 != 1  # step 1 of each 3 masked out
    mask = mask.astype(jnp.float64)

    out = jax.jit(lambda p, s, x, t, m: block_pullback(cell, loss, unravel_state, p, s, x, t, m))(
        params, s0, xs, targets, mask
    )

    def block(p, s):
        return _unrolled_block(cell, loss, unravel_state, p, s, xs, targets, mask)

    (D_ref, J_ref), _ = jax.jacrev(block, argnums=(0, 1))(params, s0)
    grad_ref, lam_ref = jax.grad(lambda p, s: block(p, s)[1], argnums=(0, 1))(params, s0)
    s_ref, total_ref = block(params, s0)
    S = s0.shape[0]
    shapes = [p.shape for p in jax.tree_util.tree_leaves(params)]
    np.testing.assert_allclose(out.state, s_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.total, total_ref, rtol=1e-12, atol=1e-12)
    assert out.J.shape == (S, S) and out.lam.shape == (S,)
    np.testing.assert_allclose(out.J, J_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.lam, lam_ref, rtol=1e-12, atol=1e-12)
    _assert_tree_close(out.D, D_ref, [(S, *shape) for shape in shapes])
    _assert_tree_close(out.grad, grad_ref, shapes)
