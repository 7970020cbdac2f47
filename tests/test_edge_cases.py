"""Edge cases found by an audit: losses undefined at zero targets under TBPTT's padding, windows
longer than the sequence, labels given to regression losses, non-finite initial states, loss
functions with the wrong output, list inputs to the online ``step``, and memory that must not
grow with T."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from tests.memory import temp_bytes

jax.config.update("jax_enable_x64", True)

F64 = jnp.float64


def _case(T: int = 7, B: int = 2, n: int = 5, m: int = 3, o: int = 4, seed: int = 0):
    cell = ga.cells.Elman(input_size=m, hidden_size=n, output_size=o)
    keys = jax.random.split(jax.random.PRNGKey(seed), 3)
    params = cell.init(keys[0], F64)
    xs = jax.random.normal(keys[1], (B, T, m), F64)
    targets = 1.0 + jax.random.uniform(keys[2], (B, T, o), F64)  # in [1, 2]: never 0
    state0 = jnp.zeros((B, n), F64)
    return cell, params, state0, xs, targets


def mape(y: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute percentage error: undefined (inf) at a zero target."""
    return jnp.mean(jnp.abs(y - target) / jnp.abs(target))


def _leaves_close(a, b, rtol: float = 1e-10) -> None:
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("k1, k2", [(2, 3), (3, 100), (1, 7)])
def test_tbptt_padding_never_evaluates_a_loss_at_a_made_up_target(k1: int, k2: int) -> None:
    """TBPTT pads the front of the sequence for its first windows; a loss undefined at a zero
    target must not turn the padding into NaN. With k2 ≥ T it equals BPTT."""
    cell, params, state0, xs, targets = _case()
    value, grads, _ = ga.value_and_grad(
        ga.TBPTT(k1, k2), cell, params, state0, xs, targets, loss=mape
    )
    assert np.isfinite(float(value))
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))
    ref_value, ref_grads, _ = ga.value_and_grad(
        ga.BPTT(), cell, params, state0, xs, targets, loss=mape
    )
    np.testing.assert_allclose(float(value), float(ref_value), rtol=1e-12)
    if k2 >= xs.shape[1]:
        _leaves_close(grads, ref_grads)


def test_tbptt_window_longer_than_the_sequence_costs_what_k2_equal_T_costs() -> None:
    """Steps before t = 0 are inactive: a requested k2 ≫ T gives the k2 = T gradient and needs
    no more memory than it."""
    cell, params, state0, xs, targets = _case(T=9)
    at_T = ga.value_and_grad(ga.TBPTT(1, 9), cell, params, state0, xs, targets)
    huge = ga.value_and_grad(ga.TBPTT(1, 5000), cell, params, state0, xs, targets)
    _leaves_close(huge[1], at_T[1], rtol=1e-12)
    args = (cell, params, state0, xs, targets)
    # A 5000-step window would hold ≥ 5000·B·n states (400 KB here); the k2 = T program's
    # scratch is a few KiB. The margin (8 KiB, ~5 windows of T steps of inputs and states)
    # absorbs XLA's small temporaries, not one buffer over k2 steps.
    B, T, n = xs.shape[0], xs.shape[1], cell.hidden_size
    margin = 8192
    assert margin < (5000 - T) * B * n * xs.dtype.itemsize  # the check can tell
    assert temp_bytes(ga.TBPTT(1, 5000), *args) <= temp_bytes(ga.TBPTT(1, 9), *args) + margin


@pytest.mark.parametrize("algorithm", [ga.RTRL(), ga.Hybrid(block=4)], ids=["rtrl", "hybrid"])
def test_offline_rtrl_and_hybrid_scratch_does_not_grow_with_T(algorithm) -> None:
    """The blocks' inputs are sliced inside the loop, not copied into an (n_blocks, h, ...)
    array before it: XLA's scratch grows by less than one input step's bytes per step."""
    temps = {}
    for T in (400, 1600):
        cell, params, state0, xs, targets = _case(T=T, B=1, m=32, o=32)
        temps[T] = temp_bytes(algorithm, cell, params, state0, xs, targets)
    per_step = (temps[1600] - temps[400]) / 1200
    assert per_step < 32 * 8 / 4, (temps, per_step)  # an input step is 32 float64 = 256 bytes


@pytest.mark.parametrize(
    "loss", [ga.losses.mse, ga.losses.sum_squared_error, ga.losses.sigmoid_binary_cross_entropy]
)
def test_integer_labels_with_a_regression_loss_are_refused(loss) -> None:
    cell, params, state0, xs, _ = _case()
    labels = jnp.zeros(xs.shape[:2], jnp.int32)
    with pytest.raises(TypeError, match=f"loss={loss.__name__}.*cross_entropy"):
        ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, labels, loss=loss)
    carry = ga.RTRL().init(cell, params, state0[0])
    with pytest.raises(TypeError, match=f"loss={loss.__name__}"):
        ga.RTRL().step(cell, params, carry, xs[0, 0], labels[0, 0], loss=loss)
    value, _, _ = ga.value_and_grad(
        ga.BPTT(), cell, params, state0, xs, labels, loss=ga.losses.cross_entropy
    )
    assert np.isfinite(float(value))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_initial_state_is_refused(bad: float) -> None:
    cell, params, state0, xs, targets = _case()
    with pytest.raises(ValueError, match="state0 contains NaN or inf"):
        ga.value_and_grad(ga.BPTT(), cell, params, state0.at[0, 1].set(bad), xs, targets)
    with pytest.raises(ValueError, match="state0 contains NaN or inf"):
        ga.RTRL().init(cell, params, state0[0].at[1].set(bad))


def _vector_loss(y, target):
    return (y - target) ** 2


def _failing_loss(y, target):
    raise RuntimeError("boom")


def _integer_loss(y, target):
    return jnp.sum(y > target).astype(jnp.int32)


@pytest.mark.parametrize(
    "loss, says",
    [
        (_vector_loss, r"returned \(4,\), not a scalar"),
        (_failing_loss, "raised RuntimeError: boom"),
        (_integer_loss, "returned dtype int32, not a float"),
    ],
)
def test_a_loss_without_a_float_scalar_output_is_refused_by_name(loss, says: str) -> None:
    cell, params, state0, xs, targets = _case()
    for alg in (ga.BPTT(), ga.RTRL()):
        with pytest.raises(TypeError, match=f"loss must map .*{loss.__name__}.*{says}"):
            ga.value_and_grad(alg, cell, params, state0, xs, targets, loss=loss)
    carry = ga.RTRL().init(cell, params, state0[0])
    with pytest.raises(TypeError, match=says):
        ga.RTRL().step(cell, params, carry, xs[0, 0], targets[0, 0], loss=loss)


def test_online_step_takes_lists_like_arrays() -> None:
    cell, params, state0, xs, targets = _case(T=4, B=1)
    for alg, x, t in [
        (ga.RTRL(), xs[0, 0], targets[0, 0]),
        (ga.Hybrid(block=4), xs[0], targets[0]),
    ]:
        carry = alg.init(cell, params, state0[0])
        want = alg.step(cell, params, carry, x, t)
        got = alg.step(cell, params, carry, np.asarray(x).tolist(), np.asarray(t).tolist())
        _leaves_close(got, want, rtol=1e-14)


def test_a_python_number_in_the_state_is_refused_by_name() -> None:
    def step(params, h, x):
        h = jnp.tanh(params["A"] * h + jnp.sum(x))
        return h, jnp.stack([h])

    cell = ga.cells.FunctionCell(
        step, lambda key: {"A": jnp.ones((), F64)}, lambda: 0.0, input_size=2, output_size=1
    )
    xs, targets = jnp.ones((3, 2), F64), jnp.ones((3, 1), F64)
    with pytest.raises(TypeError, match="state0 must contain arrays, got a float leaf"):
        ga.value_and_grad(ga.BPTT(), cell, {"A": jnp.ones((), F64)}, 0.0, xs, targets)
