"""BPTT on a batch scans the cells' batch form (``cell.batch_step``; Elman's own row form
h·Wᵀ): the same loss, gradient and final state as a Python loop of per-sequence
``jax.grad`` of an unrolled loop, on every cell, with a mask and a per-sequence state0."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES

import gradalgos as ga

B, T = 3, 4


def _unrolled_loss(cell, params, state, xs, targets, mask):
    total = 0.0
    for t in range(xs.shape[0]):
        state, y = cell.step(params, state, xs[t])
        total = total + mask[t] * ga.losses.mse(y, targets[t])
    return total, state


@pytest.mark.parametrize("name", ["elman-tanh", "elman-sparse", "irnn", "lstm", "stack-gru-elman"])
def test_batched_bptt_matches_a_loop_of_unrolled_sequences(name):
    cell = CELL_CASES[name]()
    k = jax.random.split(jax.random.key(3), 4)
    params = cell.init(k[0])
    xs = jax.random.normal(k[1], (B, T, 3))
    targets = jax.random.normal(k[2], (B, T, 2))
    mask = (jax.random.uniform(k[3], (B, T)) > 0.3).astype(xs.dtype)
    s1 = jax.tree_util.tree_map(lambda s: s + 0.1, cell.initial_state())
    state0 = jax.tree_util.tree_map(lambda *s: jnp.stack(s), cell.initial_state(), s1, s1)
    loss, grads, state_T = ga.value_and_grad(
        ga.BPTT(), cell, params, state0, xs, targets, mask=mask
    )
    grad_fn = jax.grad(_unrolled_loss, argnums=1, has_aux=True)
    want_loss, want_grads, want_states = 0.0, [], []
    for b in range(B):
        s0 = jax.tree_util.tree_map(lambda s, b=b: s[b], state0)
        args = (cell, params, s0, xs[b], targets[b], mask[b])
        want_loss += float(_unrolled_loss(*args)[0]) / B
        g, s_T = grad_fn(*args)
        want_grads.append(g)
        want_states.append(s_T)
    assert float(loss) == pytest.approx(want_loss, rel=1e-12)
    mean = jax.tree_util.tree_map(lambda *g: sum(g) / B, *want_grads)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(mean), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    stacked = jax.tree_util.tree_map(lambda *s: jnp.stack(s), *want_states)
    for got, want in zip(jax.tree.leaves(state_T), jax.tree.leaves(stacked), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", ["elman-tanh", "elman-sparse", "elman-ring"])
@pytest.mark.parametrize("batch", [1, 3])
def test_elman_batch_step_is_vmap_of_step(name, batch):
    cell = CELL_CASES[name]()
    k = jax.random.split(jax.random.key(4), 3)
    params = jax.tree_util.tree_map(lambda p: p + 0.1, cell.init(k[0]))  # b ≠ 0
    state = jax.random.normal(k[1], (batch, cell.hidden_size))
    x = jax.random.normal(k[2], (batch, 3))
    got = cell.batch_step(params, state, x)
    want = jax.vmap(cell.step, in_axes=(None, 0, 0))(params, state, x)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


class _Doubled(ga.cells.Elman):
    """A subclass with its own equations: Elman's row form must not stand in for them."""

    def step(self, params, state, x):
        h, y = super().step(params, state, x)
        return 2 * h, y


def test_a_subclass_with_its_own_step_is_batched_by_vmap():
    cell = _Doubled(input_size=3, hidden_size=4, output_size=2)
    params = cell.init(jax.random.key(5))
    state, x = jnp.ones((3, 4)), jnp.ones((3, 3))
    got = cell.batch_step(params, state, x)
    want = jax.vmap(cell.step, in_axes=(None, 0, 0))(params, state, x)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
