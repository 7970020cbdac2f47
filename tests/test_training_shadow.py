"""The exact-RTRL shadow of online training (``train_online(..., shadow=True)``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.tasks import Sine
from gradalgos.training import train_online

TASK = Sine(length=10)
CELL = ga.cells.Elman(1, 4, 1)
KEY = jax.random.key(3)
LR = 0.2


def _run(algorithm, steps, log_every, optimizer="sgd"):
    return train_online(TASK, CELL, algorithm, optimizer, steps, key=KEY, learning_rate=LR,
                        log_every=log_every, shadow=True, progress=False)  # fmt: skip


@pytest.mark.parametrize("algorithm", [ga.RTRL(), ga.Hybrid(block=3)], ids=["rtrl", "hybrid"])
def test_exact_method_against_its_shadow_logs_cosine_one(algorithm):
    result = _run(algorithm, 60, 6, optimizer="adam")
    cos = result.history.shadow_cosine
    assert cos.shape == result.history.step.shape == (10,)
    np.testing.assert_allclose(cos, 1.0, rtol=0, atol=1e-10)
    # along a training run: the weights moved
    init = CELL.init(jax.random.fold_in(KEY, 0))
    assert float(jnp.max(jnp.abs(result.params["W_rec"] - init["W_rec"]))) > 1e-3


def _next_state(params, h, x):
    return CELL.step(params, h, x)[0]


def _readout_loss(params, h, target):
    return ga.losses.mse(params["W_out"] @ h + params["b_out"], target)


def _reference_snap1_cosines(steps: int) -> list[float]:
    """The SnAp-1 learner (SGD) and exact RTRL's M on its weights, by full Jacobians."""
    params = CELL.init(jax.random.fold_in(KEY, 0))
    stream = TASK.stream(jax.random.fold_in(KEY, 1), steps)
    names = ("W_in", "W_rec", "b")  # the leaves the state depends on; rows = state units
    n = CELL.hidden_size
    s = jnp.zeros(n)
    M = {k: jnp.zeros((n, *params[k].shape)) for k in names}
    Ms = dict(M)
    eye = jnp.eye(n).reshape  # SnAp-1 keeps M[k, i, ...] only where k == i

    def diag(a):
        return a * eye((n, n) + (1,) * (a.ndim - 2))

    out = []
    for t in range(steps):
        x, target = stream.xs[t], stream.targets[t]
        Js = jax.jacobian(_next_state, 1)(params, s, x)
        Jp = jax.jacobian(_next_state, 0)(params, s, x)
        M = {k: jnp.tensordot(Js, M[k], 1) + Jp[k] for k in names}
        Ms = {k: diag(jnp.tensordot(Js, Ms[k], 1) + Jp[k]) for k in names}
        s = CELL.step(params, s, x)[0]
        q = jax.grad(_readout_loss, 1)(params, s, target)
        direct = jax.grad(_readout_loss, 0)(params, s, target)
        exact = np.concatenate([np.ravel(jnp.tensordot(q, M[k], 1)) for k in names])
        snap = {k: jnp.tensordot(q, Ms[k], 1) for k in names}
        approx = np.concatenate([np.ravel(snap[k]) for k in names])
        out.append(exact @ approx / np.linalg.norm(exact) / np.linalg.norm(approx))
        grads = {**direct, **snap}
        params = {k: params[k] - LR * grads[k] for k in params}
    return out


def test_snap1_logged_cosine_matches_a_reference():
    steps = 4
    result = _run(ga.SnAp(order=1), steps, 1)
    want = _reference_snap1_cosines(steps)
    np.testing.assert_allclose(result.history.shadow_cosine, want, rtol=0, atol=1e-12)
    assert want[0] == pytest.approx(1.0, abs=1e-12)  # step 1: both exact
    assert min(want[1:]) < 1 - 1e-6  # later steps: SnAp-1 drops M's off-diagonal rows


def test_shadow_off_logs_nothing_and_bad_shadow_is_rejected():
    plain = train_online(TASK, CELL, ga.RTRL(), "sgd", 12, key=KEY, log_every=6,
                         progress=False)  # fmt: skip
    assert plain.history.shadow_cosine.shape == (0,)
    with pytest.raises(TypeError, match="shadow"):
        train_online(TASK, CELL, ga.RTRL(), steps=4, key=KEY, shadow=1, progress=False)
    big = ga.cells.Elman(1, 300, 1)
    with pytest.raises(ValueError, match="hidden size"):
        train_online(TASK, big, ga.RTRL(), steps=4, key=KEY, shadow=True, progress=False)
