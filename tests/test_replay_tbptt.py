"""TBPTT(k) with replay (``ReplayTBPTT``): its per-step gradient against jax.grad of the
window's unrolled loss, with the weights changing between steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.algorithms import ReplayTBPTT
from gradalgos.losses import mse

CELL = ga.cells.Elman(2, 3, 2)
T = 7


def _data():
    kx, kt = jax.random.split(jax.random.key(0))
    xs = jax.random.normal(kx, (T, 2))
    targets = jax.random.normal(kt, (T, 2))
    params = [CELL.init(jax.random.key(10 + t)) for t in range(T)]  # θ_t changes every step
    return xs, targets, params


def _window_loss(params, start, xs, target):
    """ℓ at the window's last step, the window unrolled by hand from a constant start."""
    s = start
    for x in xs:
        s, y = CELL.step(params, s, x)
    return mse(y, target)


@pytest.mark.parametrize("k", [1, 3])
def test_replay_gradient_matches_the_unrolled_window(k):
    xs, targets, params = _data()
    alg = ReplayTBPTT(k=k)
    carry = alg.init(CELL, params[0], CELL.initial_state())
    latest = [CELL.initial_state()]  # latest[j]: the state at time j as last replayed
    for t in range(T):
        carry, value, grads = alg.step(CELL, params[t], carry, xs[t], targets[t], loss=mse)
        lo = max(0, t + 1 - k)  # window x_lo..x_t, from the state at time lo
        window = xs[lo : t + 1]
        want_value, want = jax.value_and_grad(_window_loss)(
            params[t], latest[lo], window, targets[t]
        )
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        for name in want:
            np.testing.assert_allclose(grads[name], want[name], rtol=1e-10, atol=1e-14)
        s = latest[lo]
        latest = latest[: lo + 1]
        for x in window:
            s, _ = CELL.step(params[t], s, x)
            latest.append(s)
        np.testing.assert_allclose(carry.state, latest[-1], rtol=1e-12)


def test_k1_is_the_immediate_method_and_bad_k_is_rejected():
    xs, targets, params = _data()
    a, b = ReplayTBPTT(k=1), ga.Immediate()
    ca = a.init(CELL, params[0], CELL.initial_state())
    cb = b.init(CELL, params[0], CELL.initial_state())
    for t in range(3):
        ca, _, ga_ = a.step(CELL, params[t], ca, xs[t], targets[t], loss=mse)
        cb, _, gb = b.step(CELL, params[t], cb, xs[t], targets[t], loss=mse)
        for name in gb:
            np.testing.assert_allclose(ga_[name], gb[name], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="k"):
        ReplayTBPTT(k=0)
    assert "tbptt-replay" in ga.algorithms.registry.names(online=True)
    assert jnp.all(jnp.isfinite(ca.state))
