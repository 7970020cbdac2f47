"""CRBP (Campolucci et al. 1999) on IIR-MLPs: exact on one layer, its truncation error falls with
the depth Q and vanishes once Q covers the sequence, Q = 0 is a hand-written Back–Tsoi step,
the online steps plus the flush give value_and_grad, and bad inputs are refused clearly."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.cells import IIRMLP
from gradalgos.losses import mse

T = 10


def _flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def _data(cell: IIRMLP, B: int = 2):
    xs = jax.random.normal(jax.random.key(1), (B, T, cell.input_size))
    targets = jax.random.normal(jax.random.key(2), (B, T, cell.output_size))
    state0 = jax.tree_util.tree_map(lambda a: jnp.stack([a] * B), cell.initial_state())
    return state0, xs, targets


def _exact(cell: IIRMLP, params, xs, targets) -> np.ndarray:
    """jax.grad of the batch-mean Σ_t mse over a scan of the cell's step."""

    def loss(p):
        def one(x, t):
            _, ys = jax.lax.scan(lambda s, xt: cell.step(p, s, xt), cell.initial_state(), x)
            return jnp.sum(jax.vmap(mse)(ys, t))

        return jnp.mean(jax.vmap(one)(xs, targets))

    return _flat(jax.jit(jax.grad(loss))(params))


def _error(algorithm, cell, params, data, exact) -> float:
    _, grads, _ = ga.value_and_grad(algorithm, cell, params, *data)
    return float(np.linalg.norm(_flat(grads) - exact) / np.linalg.norm(exact))


def test_one_layer_is_exact_at_every_depth():
    cell = IIRMLP((2, 3), ff_order=2, fb_order=2)
    params = cell.init(jax.random.key(0))
    data = _data(cell)
    exact = _exact(cell, params, *data[1:])
    assert _error(ga.CRBP(0), cell, params, data, exact) < 1e-13


@pytest.mark.parametrize("fb_order", [0, 2])
def test_two_layers_error_falls_with_depth_and_vanishes_once_it_covers_the_sequence(fb_order):
    cell = IIRMLP((2, 3, 1), ff_order=2, fb_order=fb_order)
    params = cell.init(jax.random.key(0))
    data = _data(cell)
    exact = _exact(cell, params, *data[1:])
    depths = (1, 2) if fb_order == 0 else (0, 3, T - 1)
    errors = [_error(ga.CRBP(q), cell, params, data, exact) for q in depths]
    if fb_order == 0:  # Wan's FIR network: exact once Q reaches the filter order L = 2
        assert errors[0] > 0.05 and errors[1] < 1e-13, errors
    else:
        assert errors[0] > 0.05 and errors[-1] < 1e-13, errors
        assert all(a > b for a, b in itertools.pairwise(errors)), errors


def _back_tsoi_grads(params, xs, targets) -> list[np.ndarray]:
    """Back & Tsoi's online step, by hand in NumPy, for a (m, h, o) IIR-MLP with a tanh hidden
    layer and a linear output, loss mse: per step t the flat gradient δ(t)·(β, α, 1) per
    layer, with the hidden error σ'(s¹) Σ_n w²_nm(0) δ²_n(t) (instantaneous, Q = 0)."""
    layers = [{k: np.asarray(v) for k, v in p.items()} for p in params]
    I = layers[0]["v"].shape[0]
    L = layers[0]["w"].shape[0] - 1
    inputs = [[], []]  # x^{l-1}(τ) for τ ≤ t
    ys = [[], []]  # y^l_nm(τ)
    betas = [[], []]  # β^l(τ) (L+1, n, m)
    alphas = [[], []]  # α^l(τ) (I, n, m)
    out = []
    for t in range(len(xs)):
        x, pre = np.asarray(xs[t]), []
        for l, p in enumerate(layers):
            inputs[l].append(x)
            n, m = p["b"].shape[0], x.shape[0]
            y, beta, alpha = np.zeros((n, m)), np.zeros((L + 1, n, m)), np.zeros((I, n, m))
            for k in range(L + 1):
                if t - k >= 0:
                    y += p["w"][k] * inputs[l][t - k][None, :]
                    beta[k] += inputs[l][t - k][None, :]
            for q in range(1, I + 1):
                if t - q >= 0:
                    y += p["v"][q - 1] * ys[l][t - q]
                    alpha[q - 1] += ys[l][t - q]
                    beta += p["v"][q - 1][None] * betas[l][t - q]
                    alpha += p["v"][q - 1][None] * alphas[l][t - q]
            ys[l].append(y)
            betas[l].append(beta)
            alphas[l].append(alpha)
            pre.append(y.sum(axis=1) + p["b"])
            x = np.tanh(pre[-1]) if l == 0 else pre[-1]
        d2 = 2 * (x - np.asarray(targets[t])) / x.shape[0]
        d1 = (1 - np.tanh(pre[0]) ** 2) * (layers[1]["w"][0] * d2[:, None]).sum(axis=0)
        grads = []
        for l, d in enumerate((d1, d2)):  # leaves in pytree order: b, v, w
            grads += [d, d[None, :, None] * alphas[l][t], d[None, :, None] * betas[l][t]]
        out.append(np.concatenate([g.ravel() for g in grads]))
    return out


def test_depth_0_is_a_hand_written_back_tsoi_step():
    cell = IIRMLP((2, 3, 2), ff_order=1, fb_order=2)
    params = cell.init(jax.random.key(4))
    _, xs, targets = _data(cell, B=1)
    crbp = ga.CRBP(0)
    carry = crbp.init(cell, params, cell.initial_state())
    expected = _back_tsoi_grads(params, xs[0], targets[0])
    for t in range(T):
        carry, _, grads = crbp.step(cell, params, carry, xs[0, t], targets[0, t])
        np.testing.assert_allclose(_flat(grads), expected[t], rtol=1e-12, atol=1e-14)


def test_online_steps_plus_the_flush_give_value_and_grad_and_the_delays_hold():
    cell = IIRMLP((1, 2, 2, 1), ff_order=1, fb_order=1)
    params = cell.init(jax.random.key(5))
    state0, xs, targets = _data(cell, B=1)
    crbp = ga.CRBP((2, 1))
    assert crbp.delays(cell) == (3, 1, 0)
    carry = crbp.init(cell, params, cell.initial_state())
    total = jax.tree_util.tree_map(jnp.zeros_like, params)
    for t in range(T):
        carry, _, grads = crbp.step(cell, params, carry, xs[0, t], targets[0, t])
        if t < 3:  # layer 1 has no update before t = D_1 = 3, layer 2 before D_2 = 1
            assert not np.any(_flat(grads[0])) and (t >= 1) == bool(np.any(_flat(grads[1])))
        total = jax.tree_util.tree_map(jnp.add, total, grads)
    total = jax.tree_util.tree_map(jnp.add, total, crbp.flush(cell, params, carry))
    _, offline, _ = ga.value_and_grad(crbp, cell, params, state0, xs, targets)
    np.testing.assert_allclose(_flat(total), _flat(offline), rtol=1e-12, atol=1e-14)
    assert ga.CRBP(3).delays(cell) == ga.CRBP((3, 3)).delays(cell) == (6, 3, 0)


def test_bad_inputs_are_refused_clearly():
    assert ga.algorithms.registry.get("crbp") is ga.CRBP
    for depth in (-1, 1.5, True, (1, -2)):
        with pytest.raises(ValueError, match="depth must be an int ≥ 0"):
            ga.CRBP(depth)
    cell = IIRMLP((1, 2, 1))
    params = cell.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"depth must have one entry per hidden layer: 1"):
        ga.CRBP((1, 2)).init(cell, params, cell.initial_state())
    elman = ga.cells.Elman(1, 2, 1)
    with pytest.raises(ValueError, match=r"CRBP applies only to .*IIRMLP.*not to Elman"):
        ga.CRBP(1).init(elman, elman.init(jax.random.key(0)), elman.initial_state())
    xs = jnp.zeros((1, 3, 1))
    with pytest.raises(ValueError, match="not to Elman"):
        params = elman.init(jax.random.key(0))
        ga.value_and_grad(ga.CRBP(), elman, params, jnp.zeros((1, 2)), xs, xs)
