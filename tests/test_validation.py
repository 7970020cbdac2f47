"""Bad input gives a TypeError/ValueError that names the argument, before any compilation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.value_and_grad import _trace_count

CELL = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
PARAMS = CELL.init(jax.random.key(0))
STATE0 = CELL.initial_state()
XS = jnp.ones((5, 3))
TARGETS = jnp.zeros((5, 2))


def call(**changes):
    args = {
        "algorithm": ga.BPTT(),
        "cell": CELL,
        "params": PARAMS,
        "state0": STATE0,
        "xs": XS,
        "targets": TARGETS,
    }
    kwargs = {k: changes.pop(k) for k in ("loss", "mask") if k in changes}
    args.update(changes)
    return ga.value_and_grad(*args.values(), **kwargs)


BAD_CALLS = [
    # (changes, exception, words the message must contain)
    ({"algorithm": "bptt"}, TypeError, "algorithm"),
    ({"cell": object()}, TypeError, "cell"),
    ({"xs": jnp.ones((5, 3), jnp.int32)}, TypeError, "xs must be a floating"),
    ({"xs": jnp.ones((3,))}, ValueError, "xs must have shape"),
    ({"xs": jnp.ones((2, 2, 5, 3))}, ValueError, "xs must have shape"),
    ({"xs": jnp.ones((5, 4))}, ValueError, "input_size=3"),
    ({"xs": jnp.ones((0, 3)), "targets": jnp.ones((0, 2))}, ValueError, "empty sequence"),
    ({"xs": jnp.ones((0, 5, 3)), "targets": jnp.ones((0, 5, 2))}, ValueError, "empty batch"),
    ({"targets": jnp.zeros((6, 2))}, ValueError, "targets must have shape (5, 2)"),
    ({"targets": jnp.zeros((5, 3))}, ValueError, "output_size=2"),
    ({"targets": jnp.zeros((5, 2), bool)}, TypeError, "targets"),
    ({"targets": jnp.zeros((5, 1), jnp.int32)}, ValueError, "integer targets"),
    ({"targets": jnp.full((5,), 7)}, ValueError, "[0, output_size=2)"),
    ({"mask": jnp.ones((4,))}, ValueError, "mask must have shape (5,)"),
    ({"mask": jnp.ones((5,), jnp.int32)}, TypeError, "mask"),
    ({"state0": jnp.zeros((5,))}, ValueError, "state0"),
    ({"state0": (jnp.zeros((4,)), jnp.zeros((4,)))}, ValueError, "state0 does not match"),
    ({"state0": jnp.zeros((4,), jnp.float32)}, TypeError, "state0 has dtype"),
    ({"params": {**PARAMS, "W_rec": jnp.zeros((4, 5))}}, ValueError, "params['W_rec'] must have"),
    ({"params": {"W_in": PARAMS["W_in"]}}, ValueError, "params does not match"),
    ({"params": {**PARAMS, "b": jnp.zeros(4, jnp.int32)}}, TypeError, "params"),
    ({"xs": XS.astype(jnp.float32)}, TypeError, "xs has dtype float32"),
    ({"xs": XS.at[2, 1].set(jnp.nan)}, ValueError, "xs contains NaN"),
    ({"targets": TARGETS.at[0, 0].set(jnp.inf)}, ValueError, "targets contains NaN"),
    ({"params": {**PARAMS, "b": jnp.full(4, jnp.nan)}}, ValueError, "params contains NaN"),
    ({"loss": "mse"}, TypeError, "loss must be a callable"),
    ({"xs": "abc"}, TypeError, "xs must be an array"),
]


@pytest.mark.parametrize("changes,error,words", BAD_CALLS)
def test_bad_input_raises_before_compilation(changes, error, words):
    """Raised by the checks, before JAX traces (let alone compiles) the jitted entry point: a
    trace that started and then failed on the bad input would count too."""
    before = _trace_count()
    with pytest.raises(error) as info:
        call(**dict(changes))
    assert words in str(info.value)
    assert _trace_count() == before


def test_batched_state_must_match_batch_size():
    xs, targets = jnp.ones((2, 5, 3)), jnp.zeros((2, 5, 2))
    with pytest.raises(ValueError, match=r"state0 must have shape \(4,\) or \(2, 4\)"):
        call(xs=xs, targets=targets, state0=jnp.zeros((3, 4)))


@pytest.mark.parametrize(
    "make,error,words",
    [
        (lambda: ga.TBPTT(0), ValueError, "k1"),
        (lambda: ga.TBPTT(-2), ValueError, "k1"),
        (lambda: ga.TBPTT(2.5), TypeError, "k1"),
        (lambda: ga.TBPTT(3, 0), ValueError, "k2"),
        (lambda: ga.TBPTT(3, 2), ValueError, "k2 must be >= k1"),
        (lambda: ga.TBPTT(True), TypeError, "k1"),
        (lambda: ga.Hybrid(block=0), ValueError, "block"),
        (lambda: ga.Hybrid(block="4"), TypeError, "block"),
        (lambda: ga.CheckpointedBPTT(segment=-1), ValueError, "segment"),
        (lambda: ga.cells.Elman(0, 4, 2), ValueError, "input_size"),
        (lambda: ga.cells.Elman(3, 4, 2, activation="swish3"), ValueError, "activation"),
        (lambda: ga.cells.Elman(3, 4, 2, recurrent_init="eye"), ValueError, "recurrent_init"),
        (lambda: ga.cells.Elman(3, 4, 2).init(jax.random.key(0), jnp.int32), TypeError, "dtype"),
    ],
)
def test_bad_settings_raise(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_online_step_validates():
    rtrl, hybrid = ga.RTRL(), ga.Hybrid(block=2)
    carry = rtrl.init(CELL, PARAMS, STATE0)
    with pytest.raises(ValueError, match=r"x must have shape \(input_size,\)"):
        rtrl.step(CELL, PARAMS, carry, jnp.ones((2, 3)), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"x must have shape \(h, input_size\)"):
        hybrid.step(CELL, PARAMS, carry, jnp.ones(3), jnp.zeros(2))
    with pytest.raises(TypeError, match="carry must be the SensitivityState"):
        rtrl.step(CELL, PARAMS, (STATE0, None), jnp.ones(3), jnp.zeros(2))
    with pytest.raises(ValueError, match="state0"):
        rtrl.init(CELL, PARAMS, jnp.zeros(7))


def test_online_step_validates_the_sensitivity():
    rtrl = ga.RTRL()
    carry = rtrl.init(CELL, PARAMS, STATE0)
    x, y = jnp.ones(3), jnp.zeros(2)
    no_rec = {**carry.sensitivity, "W_rec": None}  # the state depends on W_rec
    with pytest.raises(ValueError, match=r"carry\.sensitivity\['W_rec'\] is None, but the state"):
        rtrl.step(CELL, PARAMS, carry._replace(sensitivity=no_rec), x, y)
    bad = {**carry.sensitivity, "b": jnp.zeros((2, 2))}
    with pytest.raises(ValueError, match=r"must have shape \(4, 4\) \(S, \*param.shape\)"):
        rtrl.step(CELL, PARAMS, carry._replace(sensitivity=bad), x, y)
    with pytest.raises(ValueError, match="pytree like params"):
        rtrl.step(CELL, PARAMS, carry._replace(sensitivity={"W_rec": None}), x, y)
    # A readout's M may be carried in full (zeros): exact, just not needed.
    full = {k: jnp.zeros((4, *p.shape)) for k, p in PARAMS.items()}
    rtrl.step(CELL, PARAMS, carry._replace(sensitivity=full), x, y)


def test_numpy_inputs_are_accepted():
    loss, _, _ = call(xs=np.ones((5, 3)), targets=np.zeros((5, 2)), mask=np.ones(5, bool))
    assert np.isfinite(float(loss))


def test_nan_inside_user_jit_propagates_as_documented():
    xs = XS.at[2, 1].set(jnp.nan)
    loss, grads, _ = jax.jit(
        lambda x: ga.value_and_grad(ga.BPTT(), CELL, PARAMS, STATE0, x, TARGETS)
    )(xs)
    assert np.isnan(float(loss))
    assert np.isnan(np.asarray(grads["W_rec"])).any()
