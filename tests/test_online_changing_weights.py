"""Online learning with weights that change after every step (RTRL) or block (the hybrid).

Along an actual run θ_{t+1} = θ_t − η·g_t, the online gradient of step t is RTRL's
``g_t = ∂ℓ_t/∂θ|direct + ∂ℓ_t/∂s_{t-1}·M_{t-1}`` with ``M_t = J^s_t·M_{t-1} + J^θ_t``, every
Jacobian at the weights step t ran with (:class:`gradalgos.RTRL`). Unrolled, that is the
derivative along a common perturbation δ of all the weights used so far: the state
``s_t(δ) = f(s_{t-1}(δ), x_t; θ_t + δ)`` and ``g_t = dℓ_t(y_t(δ))/dδ`` at δ = 0. The reference
below takes that derivative with ``jax.jacrev`` through a Python loop over the history (one row
per step's loss), not through any gradalgos algorithm. The hybrid holds θ over a block of h
steps (updated after each block), and its block gradient is the sum of the rows of the block.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES
from test_algorithms import make_data, max_rel_error

import gradalgos as ga

T = 7
ETA = 0.3
#: Dense RTRL (Elman; LSTM, whose state is a tuple; GRU) and its element-wise path (LRU).
#: The hybrid on the first three (it has no element-wise path).
CELLS = ["elman-tanh", "lstm", "gru", "lru"]


def per_step_online_gradients(cell, thetas, state0, xs, targets, mask, loss=ga.losses.mse):
    """``(ℓ, g)``: the masked losses ``(T,)`` and the rows ``g_t = dℓ_t/dδ`` (leaves
    ``(T, *leaf.shape)``) at δ = 0, where step τ runs with ``thetas[τ] + δ``."""

    def losses(delta):
        s, out = state0, []
        for t, theta in enumerate(thetas):
            p = jax.tree_util.tree_map(jnp.add, theta, delta)
            s, y = cell.step(p, s, xs[t])
            out.append(mask[t] * loss(y, targets[t]))
        return jnp.stack(out)

    zero = jax.tree_util.tree_map(jnp.zeros_like, thetas[0])
    return losses(zero), jax.jacrev(losses)(zero)


def replayed_at_current_weights(cell, theta, state0, xs, targets, mask, t, loss=ga.losses.mse):
    """A wrong online gradient: ∂ℓ_t/∂θ with the whole history re-run at θ_t (what fixed
    weights would give). The test checks that the run tells the two apart."""

    def loss_t(p):
        s = state0
        for tau in range(t + 1):
            s, y = cell.step(p, s, xs[tau])
        return mask[t] * loss(y, targets[t])

    return jax.grad(loss_t)(theta)


def sgd(params, grads):
    """θ − η·g, leaf by leaf."""
    return jax.tree_util.tree_map(lambda p, g: p - ETA * g, params, grads)


def row(tree, t):
    """Step t of a pytree of per-step leaves ``(T, ...)``."""
    return jax.tree_util.tree_map(lambda a: a[t], tree)


@functools.cache
def problem(name):
    """Cell ``name``, its parameters, an initial state, inputs, targets and a mask ``(T,)``
    with two masked steps."""
    cell = CELL_CASES[name]()
    params, state0, xs, targets = make_data(cell, jax.random.key(21), batch=1, steps=T)
    s0 = jax.tree_util.tree_map(lambda s: s[0], state0)
    mask = jnp.asarray([1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    return cell, params, s0, xs[0], targets[0], mask


@pytest.mark.parametrize("name", CELLS)
def test_rtrl_step_with_weights_updated_every_step(name):
    cell, params, s0, xs, targets, mask = problem(name)
    rtrl = ga.RTRL()
    carry = rtrl.init(cell, params, s0)
    thetas, values, grads = [], [], []
    theta = params
    for t in range(T):
        thetas.append(theta)
        carry, value, g = rtrl.step(cell, theta, carry, xs[t], targets[t], mask=mask[t])
        values.append(value)
        grads.append(g)
        theta = sgd(theta, g)
    want_values, want = per_step_online_gradients(cell, thetas, s0, xs, targets, mask)
    got = jax.tree_util.tree_map(lambda *g: np.stack(g), *grads)
    want = jax.tree_util.tree_map(np.asarray, want)
    np.testing.assert_allclose(np.asarray(values), np.asarray(want_values), rtol=1e-13)
    for t in range(T):  # each step's gradient against the same step's reference
        assert max_rel_error(row(got, t), row(want, t)) <= 1e-10, t
    # The weights moved enough that re-running the history at the current weights (the
    # fixed-weight gradient) is a different answer at the last step.
    wrong = replayed_at_current_weights(cell, thetas[-1], s0, xs, targets, mask, T - 1)
    assert max_rel_error(wrong, row(want, T - 1)) > 1e-4


@pytest.mark.parametrize("name", CELLS[:3])
def test_hybrid_step_with_weights_updated_every_block(name):
    """Blocks of h = 3 steps (7 = 3 + 3 + 1: a partial last block), θ held over a block and
    updated after it. (The hybrid has no element-wise path: on LRU it would repeat the
    others' code.)"""
    cell, params, s0, xs, targets, mask = problem(name)
    h = 3
    hybrid = ga.Hybrid(block=h)
    carry = hybrid.init(cell, params, s0)
    thetas, blocks = [], []
    theta = params
    for start in range(0, T, h):
        b = slice(start, start + h)
        carry, value, g = hybrid.step(cell, theta, carry, xs[b], targets[b], mask=mask[b])
        blocks.append((b, value, g))
        thetas += [theta] * len(range(*b.indices(T)))
        theta = sgd(theta, g)
    want_values, want = per_step_online_gradients(cell, thetas, s0, xs, targets, mask)
    want = jax.tree_util.tree_map(np.asarray, want)
    for b, value, g in blocks:
        want_g = jax.tree_util.tree_map(lambda a, b=b: np.sum(a[b], axis=0), want)
        assert float(value) == pytest.approx(float(jnp.sum(want_values[b])), rel=1e-13)
        assert max_rel_error(g, want_g) <= 1e-10, b
