"""The IIR-MLP cell (Back & Tsoi 1991): its step against scipy's lfilter applied layer by layer,
and the exact algorithms on it against jax.grad of an unrolled loop of the synapse equations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import lfilter

import gradalgos as ga
from gradalgos.cells import IIRMLP

T, B = 7, 2


def _params(cell: IIRMLP, seed: int = 0):
    """Random parameters with non-zero biases (the init's are 0)."""
    params = cell.init(jax.random.key(seed))
    keys = jax.random.split(jax.random.key(seed + 1), len(params))
    return tuple(
        {**p, "b": 0.3 * jax.random.normal(k, p["b"].shape)}
        for p, k in zip(params, keys, strict=True)
    )


def _lfilter_network(cell: IIRMLP, params, xs: np.ndarray) -> np.ndarray:
    """The network on a whole sequence ``(T, m)``: each synapse is scipy's lfilter with
    b = w(0…L), a = (1, −v(1), …, −v(I)); the layers are applied one after another."""
    x = np.asarray(xs)
    for layer, p in enumerate(params):
        w = np.asarray(p["w"])
        v = np.asarray(p["v"]) if "v" in p else np.zeros((0, *w.shape[1:]))
        n, m = w.shape[1:]
        s = np.tile(np.asarray(p["b"]), (len(x), 1))
        for i in range(n):
            for j in range(m):
                s[:, i] += lfilter(w[:, i, j], np.r_[1.0, -v[:, i, j]], x[:, j])
        act = np.tanh if layer < len(params) - 1 else (lambda a: a)
        x = act(s)
    return x


@pytest.mark.parametrize("fb_order", [0, 2])
def test_the_step_filters_like_lfilter(fb_order):
    cell = IIRMLP((2, 3, 2), ff_order=2, fb_order=fb_order)
    params = _params(cell)
    xs = jax.random.normal(jax.random.key(5), (T, 2))

    def body(s, x):
        return cell.step(params, s, x)

    _, ys = jax.lax.scan(body, cell.initial_state(), xs)
    np.testing.assert_allclose(ys, _lfilter_network(cell, params, xs), rtol=1e-12, atol=1e-13)


def _unrolled_loss(cell: IIRMLP, params, xs, targets):
    """Batch mean of Σ_t mse(x^M(t), target) by a Python loop over t of the synapse equations."""

    def one(x_seq, t_seq):
        L, I = cell.ff_order, cell.fb_order
        inputs = [x_seq[t] for t in range(T)]
        for layer, p in enumerate(params):
            ys = []  # y_nm(t), (n, m)
            outs = []
            for t in range(T):
                y = sum(p["w"][k] * inputs[t - k][None, :] for k in range(L + 1) if t - k >= 0)
                y = y + sum(p["v"][q - 1] * ys[t - q] for q in range(1, I + 1) if t - q >= 0)
                ys.append(y)
                s = jnp.sum(y, axis=1) + p["b"]
                outs.append(jnp.tanh(s) if layer < len(params) - 1 else s)
            inputs = outs
        return sum(jnp.mean((inputs[t] - t_seq[t]) ** 2) for t in range(T))

    return jnp.mean(jax.vmap(one)(xs, targets))


def _flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


@pytest.fixture(scope="module")
def problem():
    """A two-layer IIR-MLP, a batch, and jax.grad of the unrolled loop (computed once)."""
    cell = IIRMLP((2, 3, 1), ff_order=1, fb_order=2)
    params = _params(cell, 3)
    xs = jax.random.normal(jax.random.key(6), (B, T, 2))
    targets = jax.random.normal(jax.random.key(7), (B, T, 1))
    reference = jax.jit(jax.value_and_grad(lambda p: _unrolled_loss(cell, p, xs, targets)))
    return cell, params, xs, targets, reference(params)


@pytest.mark.parametrize("algorithm", [ga.BPTT(), ga.RTRL(), ga.Hybrid(block=4)], ids=str)
def test_exact_algorithms_equal_grad_of_the_unrolled_loop(problem, algorithm):
    cell, params, xs, targets, (ref_loss, ref) = problem
    state0 = jax.tree_util.tree_map(lambda a: jnp.stack([a] * B), cell.initial_state())
    loss, grads, _ = ga.value_and_grad(algorithm, cell, params, state0, xs, targets)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(_flat(grads), _flat(ref), rtol=1e-10, atol=1e-12)


def test_the_approximate_methods_run_and_kfrtrl_refuses_clearly():
    cell = IIRMLP((1, 2, 1), ff_order=1, fb_order=1)
    params = cell.init(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (B, T, 1))
    state0 = jax.tree_util.tree_map(lambda a: jnp.stack([a] * B), cell.initial_state())
    for alg in [ga.SnAp(1)]:
        key = jax.random.key(2) if getattr(alg, "needs_key", False) else None
        loss, grads, _ = ga.value_and_grad(alg, cell, params, state0, xs, xs, key=key)
        assert np.isfinite(loss) and np.all(np.isfinite(_flat(grads))), alg
    with pytest.raises(ValueError, match="KFRTRL does not apply to IIRMLP"):
        ga.value_and_grad(ga.KFRTRL(), cell, params, state0, xs, xs, key=jax.random.key(0))


def test_shapes_registry_and_bad_arguments():
    cell = IIRMLP((2, 4, 3), ff_order=2, fb_order=1)
    assert ga.cells.get("iir_mlp") is IIRMLP and "IIRMLP" in ga.cells.__all__
    assert (cell.input_size, cell.output_size, cell.num_layers) == (2, 3, 2)
    assert cell.num_params == 4 * 2 * 4 + 4 + 3 * 4 * 4 + 3
    assert cell.state_size == 3 * 2 + 4 * 2 + 3 * 4 + 3 * 4
    fir = IIRMLP((2, 3), ff_order=3, fb_order=0)
    assert set(fir.init(jax.random.key(0))[0]) == {"w", "b"}
    assert set(fir.initial_state()[0]) == {"taps"}
    v = cell.init(jax.random.key(0))[0]["v"]
    assert float(jnp.max(jnp.sum(jnp.abs(v), axis=0))) <= 0.5  # stable initial filters
    with pytest.raises(TypeError, match="sizes"):
        IIRMLP((3,))
    with pytest.raises(ValueError, match=r"sizes\[1\]"):
        IIRMLP((3, 0))
    with pytest.raises(ValueError, match="fb_order must be an int ≥ 0"):
        IIRMLP((1, 1), fb_order=-1)
    with pytest.raises(ValueError, match="static MLP"):
        IIRMLP((1, 1), ff_order=0, fb_order=0)
    with pytest.raises(ValueError, match="output_activation"):
        IIRMLP((1, 1), output_activation="nope")
