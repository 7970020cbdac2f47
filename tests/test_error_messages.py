"""Error messages name the argument that is wrong, by its name (and a pytree leaf by its path),
and are raised before anything is compiled."""

from __future__ import annotations

import contextlib
import logging
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.cells import GRU, IRNN, LRU, LSTM, Elman, FunctionCell, Stack

M, N, O, T, B = 3, 4, 2, 5, 2  # T != B: a swap of the two is visible


@contextlib.contextmanager
def raises_before_compiling(caplog, error, message):
    """``pytest.raises(error)`` whose message contains ``message`` verbatim, with no XLA
    compilation logged (``jax.log_compiles``) inside the block."""
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING),
        jax.log_compiles(),
        pytest.raises(error, match=re.escape(message)) as info,
    ):
        yield info
    compiled = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert not compiled, compiled


def test_the_compilation_check_can_fail(caplog):
    f = jax.jit(lambda x: x * 3.25 + 1)  # a new function: it compiles
    x = jnp.ones(7)
    with (
        pytest.raises(AssertionError, match="Compiling"),
        raises_before_compiling(caplog, ValueError, "boom"),
    ):
        f(x)
        raise ValueError("boom")


# --- params: a wrong-sized leaf is named by its path -----------------------------------------


def _fc_init(key):
    k1, k2 = jax.random.split(key)
    return (jax.random.normal(k1, (N, N + M)), jax.random.normal(k2, (O, N)))


def _fc_step(params, h, x):
    W, C = params
    h = jnp.tanh(W @ jnp.concatenate([h, x]))
    return h, C @ h


def _fc_zeros():
    return jnp.zeros(N)


FUNCTION_CELL = FunctionCell(_fc_step, _fc_init, _fc_zeros, input_size=M, output_size=O)

# (cell, path of the leaf to break, its shape as the cell's equations define it)
WRONG_LEAF = {
    "elman": (Elman(M, N, O), "['W_in']", (N, M)),
    "irnn": (IRNN(M, N, O), "['W_rec']", (N, N)),
    "lstm": (LSTM(M, N, O), "['W_h']", (4 * N, N)),
    "gru": (GRU(M, N, O), "['b']", (3 * N,)),
    "lru": (LRU(M, N, O), "['B_re']", (N, M)),
    "stack": (Stack((Elman(M, N, 5), GRU(5, N, O))), "[1]['W_x']", (3 * N, 5)),
    "function": (FUNCTION_CELL, "[0]", (N, N + M)),
}


def _replace_leaf(params, path, value):
    return jax.tree_util.tree_map_with_path(
        lambda p, leaf: value if jax.tree_util.keystr(p) == path else leaf, params
    )


@pytest.mark.parametrize("name", WRONG_LEAF)
def test_a_wrong_sized_parameter_is_named_by_its_path(name, caplog):
    cell, path, shape = WRONG_LEAF[name]
    params = cell.init(jax.random.key(0))
    wrong = (shape[0] + 1, *shape[1:])
    bad = _replace_leaf(params, path, jnp.zeros(wrong))
    xs, targets, s0 = jnp.ones((T, M)), jnp.zeros((T, O)), cell.initial_state()
    message = f"params{path} must have shape {shape}"  # Python's tuple repr: (4, 3), (12,)
    with raises_before_compiling(caplog, ValueError, message) as info:
        ga.value_and_grad(ga.BPTT(), cell, bad, s0, xs, targets)
    assert str(info.value).endswith(f"got {wrong}")
    rtrl = ga.RTRL()
    with raises_before_compiling(caplog, ValueError, message):
        rtrl.init(cell, bad, s0)
    carry = rtrl.init(cell, params, s0)
    x, target = jnp.ones(M), jnp.zeros(O)
    with raises_before_compiling(caplog, ValueError, message):
        rtrl.step(cell, bad, carry, x, target)


def test_a_wrong_dtype_or_a_non_finite_parameter_is_named(caplog):
    cell = LSTM(M, N, O)
    params = cell.init(jax.random.key(0))
    xs, targets, s0 = jnp.ones((T, M)), jnp.zeros((T, O)), cell.initial_state()
    ints = {**params, "b": params["b"].astype(jnp.int32)}
    with raises_before_compiling(caplog, TypeError, "params['b'] must be a floating array"):
        ga.value_and_grad(ga.BPTT(), cell, ints, s0, xs, targets)
    mixed = {**params, "W_x": params["W_x"].astype(jnp.float32)}
    with raises_before_compiling(caplog, TypeError, "params['W_x'] is float32"):
        ga.value_and_grad(ga.BPTT(), cell, mixed, s0, xs, targets)
    nan = {**params, "W_h": params["W_h"].at[1, 1].set(jnp.nan)}
    floats = {**params, "b": 0.5}
    with raises_before_compiling(
        caplog, ValueError, "params contains NaN or inf (in params['W_h'])"
    ):
        ga.value_and_grad(ga.BPTT(), cell, nan, s0, xs, targets)
    with raises_before_compiling(caplog, ValueError, "params['b'] must have shape (16,)"):
        ga.value_and_grad(ga.BPTT(), cell, floats, s0, xs, targets)


# --- params / state0 of the wrong structure: say which key is missing or extra -----------------


def _call(cell, params, state0=None, xs=None, targets=None, **kwargs):
    """BPTT's value_and_grad; defaults made with NumPy (a JAX array op could compile)."""
    if state0 is None:  # the cells here start from zeros
        shapes = jax.eval_shape(cell.initial_state)
        state0 = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    xs = np.ones((T, M)) if xs is None else xs
    targets = np.zeros((T, O)) if targets is None else targets
    return ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets, **kwargs)


def test_a_missing_or_extra_key_is_named(caplog):
    cell = Elman(M, N, O)
    params = cell.init(jax.random.key(0))
    no_b = {k: v for k, v in params.items() if k != "b"}
    with raises_before_compiling(caplog, ValueError, "params is missing 'b' (expected a dict"):
        _call(cell, no_b)
    extra = {**params, "c": np.zeros(2)}
    with raises_before_compiling(caplog, ValueError, "params has unexpected 'c'") as info:
        _call(cell, extra)
    assert "missing" not in str(info.value) and "PyTreeDef" not in str(info.value)
    renamed = {**no_b, "bias": params["b"]}
    with raises_before_compiling(
        caplog, ValueError, "params is missing 'b' and has unexpected 'bias'"
    ):
        _call(cell, renamed)
    with raises_before_compiling(caplog, ValueError, "params must be a dict with keys 'W_in',"):
        _call(cell, tuple(params.values()))


def test_a_nested_structure_error_says_where(caplog):
    cell = Stack((Elman(M, N, 5), LSTM(5, N, O)))
    params = cell.init(jax.random.key(0))
    lower, upper = params
    no_p = (lower, {k: v for k, v in upper.items() if k != "W_out"})
    with raises_before_compiling(caplog, ValueError, "params[1] is missing 'W_out'"):
        _call(cell, no_p)
    with raises_before_compiling(caplog, ValueError, "params must have 2 entries, got 1"):
        _call(cell, (lower,))
    with raises_before_compiling(
        caplog, ValueError, "params must be a tuple of 2 entries, got a list"
    ):
        _call(cell, [lower, upper])
    h, c = cell.initial_state()[1]
    state = (cell.initial_state()[0], h)  # the LSTM's (h, c) given as h alone
    with raises_before_compiling(
        caplog, ValueError, "state0[1] must be a tuple of 2 entries, got an array of shape (4,)"
    ):
        _call(cell, params, state0=state)
    state = (cell.initial_state()[0], (h, c[:3]))
    with raises_before_compiling(caplog, ValueError, "state0[1][1] must have shape (4,)"):
        _call(cell, params, state0=state)


# --- xs, targets, mask, state0: the one that disagrees is blamed -------------------------------

CELL = Elman(M, N, O)
PARAMS = CELL.init(jax.random.key(1))
XS = jnp.ones((B, T, M))  # batch-major, as gradalgos takes them
TARGETS = jnp.zeros((B, T, O))
LABELS = jnp.zeros((B, T), jnp.int32)
MASK = jnp.ones((B, T))
STATE = jnp.zeros((B, N))  # a batched state0
TIME_MAJOR = {"xs": XS.transpose(1, 0, 2), "targets": TARGETS.transpose(1, 0, 2)}


STATE0 = CELL.initial_state()
# derived inputs, made here: an array operation inside a checked block would compile
XS_UNBATCHED, LABELS_T, TARGETS_SHORT = XS[0], LABELS.T, TARGETS[:, :4]
MASK_T, MASK_SHORT, STATE_3 = MASK.T, MASK[:, :4], jnp.zeros((3, N))


def _batch(**changes):
    args = {"state0": STATE0, "xs": XS, "targets": TARGETS} | changes
    return _call(CELL, PARAMS, **args)


def test_time_major_xs_with_batch_major_targets_names_xs(caplog):
    xs = TIME_MAJOR["xs"]
    # nothing else decides between xs and targets: both named, xs first, with the layout
    with raises_before_compiling(caplog, ValueError, "xs has shape (5, 2, 3) but targets") as e:
        _batch(xs=xs)
    assert "xs (B, T, input_size)" in str(e.value)
    assert "jnp.swapaxes(xs, 0, 1)" in str(e.value)
    # the mask, or a batched state0, sides with targets: xs alone is blamed
    want = (
        "xs must have shape (2, 5, 3) (B, T, input_size) to match targets and mask, got (5, 2, 3)"
    )
    with raises_before_compiling(caplog, ValueError, want) as e:
        _batch(xs=xs, mask=MASK)
    assert "jnp.swapaxes(xs, 0, 1)" in str(e.value)
    want = "xs must have shape (2, 5, 3) (B, T, input_size) to match targets and state0's batch"
    with raises_before_compiling(caplog, ValueError, want):
        _batch(xs=xs, state0=STATE)
    want = "xs must have shape (2, 5, 3) (B, T, input_size) to match targets and mask"
    with raises_before_compiling(caplog, ValueError, want):  # labels: (B, T)
        _batch(xs=xs, targets=LABELS, mask=MASK, loss=ga.losses.cross_entropy)


def test_unbatched_xs_with_batched_targets_and_mask_names_xs(caplog):
    want = "xs must have shape (2, 5, 3) (B, T, input_size) to match targets and mask, got (5, 3)"
    with raises_before_compiling(caplog, ValueError, want):
        _batch(xs=XS_UNBATCHED, mask=MASK)


def test_time_major_targets_alone_names_targets(caplog):
    want = (
        "targets must have shape (2, 5, 2) (leading axes of xs, then output_size=2), got (5, 2, 2)"
    )
    with raises_before_compiling(caplog, ValueError, want) as e:
        _batch(targets=TIME_MAJOR["targets"], mask=MASK)
    assert "jnp.swapaxes(targets, 0, 1)" in str(e.value)
    with raises_before_compiling(caplog, ValueError, "integer targets (class labels) must have"):
        _batch(targets=LABELS_T, mask=MASK, loss=ga.losses.cross_entropy)
    # a wrong length (no swap), with nothing else to decide: xs sets the leading axes
    with raises_before_compiling(caplog, ValueError, "targets must have shape (2, 5, 2)"):
        _batch(targets=TARGETS_SHORT)


def test_a_wrong_mask_alone_names_mask(caplog):
    with raises_before_compiling(
        caplog, ValueError, "mask must have shape (2, 5) (the leading"
    ) as e:
        _batch(mask=MASK_T)
    assert "jnp.swapaxes(mask, 0, 1)" in str(e.value)
    with raises_before_compiling(caplog, ValueError, "mask must have shape (2, 5)"):
        _batch(mask=MASK_SHORT, state0=STATE)


def test_a_wrong_state0_alone_names_state0(caplog):
    with raises_before_compiling(
        caplog, ValueError, "state0 must have shape (4,) or (2, 4), got (3, 4)"
    ):
        _batch(state0=STATE_3, mask=MASK)
    # xs and targets both time-major agree with each other; state0 has B: state0 is named,
    # with a hint at the time-major xs
    with raises_before_compiling(caplog, ValueError, "state0 must have shape (4,) or (5, 4)") as e:
        _batch(**TIME_MAJOR, state0=STATE)
    assert "is xs time-major?" in str(e.value)
    cell = LSTM(M, N, O)
    params = cell.init(jax.random.key(0))
    _, c = cell.initial_state()
    state = (jnp.zeros((B, N)), c)
    with raises_before_compiling(
        caplog, ValueError, "state0 mixes batched and unbatched leaves: state0[0]"
    ):
        _call(cell, params, state0=state, xs=XS, targets=TARGETS)


def test_consistent_inputs_still_pass():
    for kwargs in ({}, {"mask": MASK}, {"state0": STATE}, {"mask": MASK, "state0": STATE}):
        loss, _, _ = _batch(**kwargs)
        assert np.isfinite(float(loss))


# --- cell.init: the key -----------------------------------------------------------------------

INIT_CELLS = [
    Elman(M, N, O),
    LSTM(M, N, O),
    LRU(M, N, O),
    IRNN(M, N, O),
    FUNCTION_CELL,
    Stack((Elman(M, N, 5), GRU(5, N, O))),
]


INT_KEY = jnp.zeros(2, jnp.int32)


@pytest.mark.parametrize("cell", INIT_CELLS, ids=lambda c: type(c).__name__)
def test_init_with_an_int_says_to_pass_a_key(cell, caplog):
    with raises_before_compiling(
        caplog, TypeError, "key must be a PRNG key: pass jax.random.key(0)"
    ):
        cell.init(0)
    with raises_before_compiling(caplog, TypeError, "pass jax.random.key(seed), got float"):
        cell.init(1.5)
    with raises_before_compiling(caplog, TypeError, "an array of dtype int32"):
        cell.init(INT_KEY)
    keys = jax.random.split(jax.random.key(0), 3)
    with raises_before_compiling(caplog, TypeError, "key must be a single PRNG key"):
        cell.init(keys)
    with raises_before_compiling(caplog, TypeError, "pass jax.random.key(3)"):
        cell.init(key=3)


@pytest.mark.parametrize("cell", INIT_CELLS, ids=lambda c: type(c).__name__)
def test_legacy_and_typed_keys_give_the_same_params(cell):
    typed = cell.init(jax.random.key(7))
    raw = cell.init(jax.random.PRNGKey(7))  # a raw uint32 key, still accepted
    wrapped = cell.init(jax.random.wrap_key_data(jax.random.PRNGKey(7)))
    for a, b, c in zip(*map(jax.tree_util.tree_leaves, (typed, raw, wrapped)), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    f32 = jax.jit(cell.init, static_argnums=1)(jax.random.key(7), jnp.float32)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(f32)} == {jnp.dtype(jnp.float32)}


# --- online entry points name their own arguments ----------------------------------------------


def test_online_init_and_step_name_their_arguments(caplog):
    cell, params = CELL, PARAMS
    s0 = cell.initial_state()
    rtrl, hybrid = ga.RTRL(), ga.Hybrid(block=4)
    no_out = {k: v for k, v in params.items() if k != "W_out"}
    with raises_before_compiling(caplog, ValueError, "state0 has a batch axis of 2"):
        rtrl.init(cell, params, STATE)
    with raises_before_compiling(caplog, ValueError, "params is missing 'W_out'"):
        rtrl.init(cell, no_out, s0)
    with raises_before_compiling(caplog, TypeError, "pass key=jax.random.key(0)"):
        ga.UORO().init(cell, params, s0, key=0)
    carry = rtrl.init(cell, params, s0)
    # every input is made here: an array operation inside a checked block would compile
    x, target, long, two = jnp.ones(M), jnp.zeros(O), jnp.zeros(O + 1), jnp.ones((2, M))
    nan = jnp.array([jnp.nan, 0.0])
    no_rec = carry._replace(sensitivity={**carry.sensitivity, "W_rec": None})
    five = carry._replace(state=jnp.zeros(5))
    want = "target must have shape (2,) (leading axes of x"
    with raises_before_compiling(caplog, ValueError, want):
        rtrl.step(cell, params, carry, x, long)
    with raises_before_compiling(caplog, ValueError, "target contains NaN"):
        rtrl.step(cell, params, carry, x, nan)
    with raises_before_compiling(caplog, ValueError, "x must have shape (input_size,) (one step"):
        rtrl.step(cell, params, carry, two, target)
    with raises_before_compiling(caplog, ValueError, "carry.sensitivity['W_rec'] is None"):
        rtrl.step(cell, params, no_rec, x, target)
    with raises_before_compiling(caplog, ValueError, "carry.state must have shape (4,), got (5,)"):
        rtrl.step(cell, params, five, x, target)
    block = hybrid.init(cell, params, s0)
    xs, targets, mask = jnp.ones((4, M)), jnp.zeros((4, O)), jnp.ones(4)
    xs3, targets3, mask3 = jnp.ones((3, M)), jnp.zeros((3, O)), jnp.ones(3)
    with raises_before_compiling(caplog, ValueError, "x must have shape (h, input_size) (a block"):
        hybrid.step(cell, params, block, x, target)
    want = "x must have shape (4, 3) (h, input_size) to match target and mask, got (3, 3)"
    with raises_before_compiling(caplog, ValueError, want):
        hybrid.step(cell, params, block, xs3, targets, mask=mask)
    with raises_before_compiling(caplog, ValueError, "target must have shape (4, 2)"):
        hybrid.step(cell, params, block, xs, targets3, mask=mask)
    want = "mask must have shape (4,) (the leading axes of x)"
    with raises_before_compiling(caplog, ValueError, want):
        hybrid.step(cell, params, block, xs, targets, mask=mask3)


def test_kfrtrl_and_uoro_carries_name_the_wrong_leaf_by_path(caplog):
    cell, params, s0 = CELL, PARAMS, STATE0
    x, target, key = jnp.ones(M), jnp.zeros(O), jax.random.key(0)
    kf = ga.KFRTRL()
    carry = kf.init(cell, params, s0, key=key)
    bad_a = carry._replace(A={**carry.A, "W_rec": jnp.zeros((N + 1, N))})
    bad_u = carry._replace(u={**carry.u, "b": jnp.zeros(N + 2)})
    with raises_before_compiling(caplog, ValueError, "carry.A['W_rec'] must be (4, "):
        kf.step(cell, params, bad_a, x, target)
    with raises_before_compiling(caplog, ValueError, "carry.u['b'] must be ("):
        kf.step(cell, params, bad_u, x, target)
    uoro = ga.UORO()
    carry = uoro.init(cell, params, s0, key=key)
    bad = carry._replace(theta_tilde={**carry.theta_tilde, "W_in": jnp.zeros((N, M + 1))})
    want = "carry.theta_tilde['W_in'] must be (4, 3) for UORO on Elman, got (4, 4)"
    with raises_before_compiling(caplog, ValueError, want):
        uoro.step(cell, params, bad, x, target)
