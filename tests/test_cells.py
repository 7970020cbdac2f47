"""Built-in cells: shapes, dtypes, S and P, one step against independent NumPy code, errors."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES, as_numpy, randomised, shape_tree

import gradalgos as ga
from gradalgos.cells import (
    CTRNN,
    GRU,
    IRNN,
    LSTM,
    Elman,
    FunctionCell,
    IndRNN,
    Jordan,
    SecondOrder,
    Stack,
)
from gradalgos.cells.activations import ACTIVATIONS, resolve_activation

M, N, O = 3, 4, 2  # distinct sizes, so that a transposed weight cannot go unnoticed
TAUS = ((3, 2.0), (2, 8.0))
NT = sum(count for count, _ in TAUS)


# --- Independent NumPy references of the documented equations --------------------------------


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0.0)


def softplus(a):
    return np.log(1.0 + np.exp(a))


def elu(a):
    return np.where(a > 0, a, np.exp(a) - 1.0)


#: Each named activation of ``cells.activations`` written from its formula.
NP_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": relu,
    "sigmoid": sigmoid,
    "identity": lambda a: a,
    "softplus": softplus,
    "elu": elu,
}


def readout(p, h):
    return p["W_out"] @ h + p["b_out"]


def np_elman(p, h, x, act=np.tanh):
    h = act(p["W_rec"] @ h + p["W_in"] @ x + p["b"])
    return h, readout(p, h)


def np_irnn(p, h, x):
    return np_elman(p, h, x, act=relu)


def np_jordan(p, y, x, act=np.tanh):
    h = act(p["W_rec"] @ y + p["W_in"] @ x + p["b"])
    y = readout(p, h)
    return y, y


def np_lstm(p, state, x):
    h, c = state
    W_x, W_h, b = p["W_x"], p["W_h"], p["b"]
    n = h.shape[0]
    pre = [W_x[k * n : (k + 1) * n] @ x + W_h[k * n : (k + 1) * n] @ h + b[k * n : (k + 1) * n]
           for k in range(4)]  # fmt: skip
    peep = p.get("p", np.zeros((3, n)))
    i = sigmoid(pre[0] + peep[0] * c)
    f = sigmoid(pre[1] + peep[1] * c)
    g = np.tanh(pre[2])
    c_new = f * c + i * g
    o = sigmoid(pre[3] + peep[2] * c_new)
    h_new = o * np.tanh(c_new)
    return (h_new, c_new), readout(p, h_new)


def np_gru(p, h, x):
    n = h.shape[0]
    Wz, Wr, Wh = (p["W_x"][k * n : (k + 1) * n] for k in range(3))
    Uz, Ur, Uh = (p["W_h"][k * n : (k + 1) * n] for k in range(3))
    bz, br, bh = (p["b"][k * n : (k + 1) * n] for k in range(3))
    z = sigmoid(Wz @ x + Uz @ h + bz)
    r = sigmoid(Wr @ x + Ur @ h + br)
    h_tilde = np.tanh(Wh @ x + Uh @ (r * h) + bh)
    h_new = z * h + (1 - z) * h_tilde
    return h_new, readout(p, h_new)


def np_indrnn(p, h, x, act=relu):
    h = act(p["u"] * h + p["W_in"] @ x + p["b"])
    return h, readout(p, h)


def np_ctrnn(p, h, x, dt=0.5, act=np.tanh):
    tau = np.array([tau for count, tau in TAUS for _ in range(count)])
    h = h + (dt / tau) * (-h + p["W_rec"] @ act(h) + p["W_in"] @ x + p["b"])
    return h, readout(p, h)


def np_second_order(p, h, x, act=sigmoid):
    W = p["W"]
    n, _, m = W.shape
    a = np.array(
        [sum(W[i, j, k] * h[j] * x[k] for j in range(n) for k in range(m)) for i in range(n)]
    )
    h = act(a + p["b"])
    return h, readout(p, h)


def np_stack(p, state, x):
    s1, y1 = np_gru(p[0], state[0], x)
    s2, y2 = np_elman(p[1], state[1], y1)
    return (s1, s2), y2


def np_function(p, h, x):
    h = np.tanh(p["A"] @ h + p["B"] @ x)
    return h, p["C"] @ h


# --- The FunctionCell under test (module-level functions: hashable, stable) ------------------


def fn_init(key):
    k_a, k_b, k_c = jax.random.split(key, 3)
    return {
        "A": jax.random.normal(k_a, (N, N)),
        "B": jax.random.normal(k_b, (N, M)),
        "C": jax.random.normal(k_c, (O, N)),
    }


def fn_initial_state():
    return jnp.zeros((N,))


def fn_step(params, h, x):
    h = jnp.tanh(params["A"] @ h + params["B"] @ x)
    return h, params["C"] @ h


# --- The table every test below is parametrized over -----------------------------------------


class Case(NamedTuple):
    cell: Callable[[], ga.cells.AbstractCell]
    reference: Callable  # NumPy step (params, state, x) -> (state, y)
    params: dict | tuple  # expected parameter shapes
    state: tuple  # expected state shapes (a pytree of shape tuples)
    P: int  # documented parameter count
    S: int  # documented state size


def shapes(**named):
    return dict(named)


READOUT = shapes(W_out=(O, N), b_out=(O,))
ELMAN_P = N * N + N * M + N + O * N + O
GATES_4 = shapes(W_x=(4 * N, M), W_h=(4 * N, N), b=(4 * N,))
LSTM_P = 4 * N * (N + M + 1) + O * N + O
SO_N = 3  # a stack's first layer: GRU(M, SO_N, SO_N)

CASES = {
    "irnn": Case(
        lambda: IRNN(M, N, O),
        np_irnn,
        shapes(W_in=(N, M), W_rec=(N, N), b=(N,), **READOUT),
        (N,),
        ELMAN_P,
        N,
    ),
    "jordan": Case(
        lambda: Jordan(M, N, O),
        np_jordan,
        shapes(W_in=(N, M), W_rec=(N, O), b=(N,), **READOUT),
        (O,),
        2 * N * O + N * M + N + O,
        O,
    ),
    "lstm": Case(lambda: LSTM(M, N, O), np_lstm, GATES_4 | READOUT, ((N,), (N,)), LSTM_P, 2 * N),
    "lstm-peepholes": Case(
        lambda: LSTM(M, N, O, peepholes=True),
        np_lstm,
        GATES_4 | shapes(p=(3, N)) | READOUT,
        ((N,), (N,)),
        LSTM_P + 3 * N,
        2 * N,
    ),
    "gru": Case(
        lambda: GRU(M, N, O),
        np_gru,
        shapes(W_x=(3 * N, M), W_h=(3 * N, N), b=(3 * N,), **READOUT),
        (N,),
        3 * N * (N + M + 1) + O * N + O,
        N,
    ),
    "indrnn": Case(
        lambda: IndRNN(M, N, O),
        np_indrnn,
        shapes(W_in=(N, M), u=(N,), b=(N,), **READOUT),
        (N,),
        N * M + 2 * N + O * N + O,
        N,
    ),
    "ctrnn": Case(
        lambda: CTRNN(M, O, taus=TAUS, dt=0.5),
        np_ctrnn,
        shapes(W_in=(NT, M), W_rec=(NT, NT), b=(NT,), W_out=(O, NT), b_out=(O,)),
        (NT,),
        NT * NT + NT * M + NT + O * NT + O,
        NT,
    ),
    "second-order": Case(
        lambda: SecondOrder(M, N, O),
        np_second_order,
        shapes(W=(N, N, M), b=(N,), **READOUT),
        (N,),
        N * N * M + N + O * N + O,
        N,
    ),
    "stack": Case(
        lambda: Stack((GRU(M, SO_N, SO_N), Elman(SO_N, N, O))),
        np_stack,
        (
            shapes(W_x=(3 * SO_N, M), W_h=(3 * SO_N, SO_N), b=(3 * SO_N,))
            | shapes(W_out=(SO_N, SO_N), b_out=(SO_N,)),
            shapes(W_in=(N, SO_N), W_rec=(N, N), b=(N,), **READOUT),
        ),
        ((SO_N,), (N,)),
        3 * SO_N * (SO_N + M + 1) + SO_N * SO_N + SO_N + N * N + N * SO_N + N + O * N + O,
        SO_N + N,
    ),
    "function": Case(
        lambda: FunctionCell(fn_step, fn_init, fn_initial_state, input_size=M, output_size=O),
        np_function,
        shapes(A=(N, N), B=(N, M), C=(O, N)),
        (N,),
        N * N + N * M + O * N,
        N,
    ),
}


# Elman with every named activation (and a callable), written from the formulas above; the
# other cells that take ``activation=`` with a non-default one.
ELMAN_SHAPES = shapes(W_in=(N, M), W_rec=(N, N), b=(N,), **READOUT)
for _act, _np_act in [*NP_ACTIVATIONS.items(), ("callable", np.sin)]:
    CASES[f"elman-{_act}"] = Case(
        functools.partial(Elman, M, N, O, activation=jnp.sin if _act == "callable" else _act),
        functools.partial(np_elman, act=_np_act),
        ELMAN_SHAPES,
        (N,),
        ELMAN_P,
        N,
    )
for _name, _cls, _act, _ref in [
    ("jordan", Jordan, "softplus", np_jordan),
    ("indrnn", IndRNN, "elu", np_indrnn),
    ("second-order", SecondOrder, "tanh", np_second_order),
]:
    CASES[f"{_name}-{_act}"] = CASES[_name]._replace(
        cell=functools.partial(_cls, M, N, O, activation=_act),
        reference=functools.partial(_ref, act=NP_ACTIVATIONS[_act]),
    )
CASES["ctrnn-sigmoid"] = CASES["ctrnn"]._replace(
    cell=functools.partial(CTRNN, M, O, taus=TAUS, dt=0.5, activation="sigmoid"),
    reference=functools.partial(np_ctrnn, act=sigmoid),
)


# --- Tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", CASES)
def test_init_and_initial_state_shapes_and_dtype(name, dtype):
    case = CASES[name]
    cell = case.cell()
    params = jax.eval_shape(functools.partial(cell.init, dtype=dtype), jax.random.key(0))
    state = cell.initial_state(dtype)
    assert shape_tree(params) == case.params
    assert shape_tree(state) == case.state
    for leaf in jax.tree_util.tree_leaves((params, state)):
        assert leaf.dtype == dtype
    _, y = jax.eval_shape(cell.step, params, state, jax.ShapeDtypeStruct((M,), dtype))
    assert y.shape == (O,) and y.dtype == dtype


@pytest.mark.parametrize("name", CASES)
def test_sizes_match_documented_formulas(name):
    case = CASES[name]
    cell = case.cell()
    assert (cell.input_size, cell.output_size) == (M, O)
    assert cell.num_params == case.P
    assert cell.state_size == case.S


@pytest.mark.parametrize("name", CASES)
def test_step_matches_numpy_reference(name):
    case = CASES[name]
    cell = case.cell()
    k_p, k_s, k_x = jax.random.split(jax.random.key(7), 3)
    params = randomised(cell.init(k_p, jnp.float64), k_p)
    state = randomised(cell.initial_state(jnp.float64), k_s)
    x = jax.random.normal(k_x, (M,), jnp.float64)
    state_new, y = jax.jit(cell.step)(params, state, x)
    want_state, want_y = case.reference(as_numpy(params), as_numpy(state), np.asarray(x))
    np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-12)
    assert jax.tree_util.tree_structure(state_new) == jax.tree_util.tree_structure(state)
    leaves = jax.tree_util.tree_leaves
    for got, want in zip(leaves(state_new), leaves(want_state), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_initial_states():
    for name in ("irnn", "jordan", "lstm", "gru", "indrnn", "ctrnn", "stack"):
        for leaf in jax.tree_util.tree_leaves(CASES[name].cell().initial_state()):
            assert not np.any(leaf)
    np.testing.assert_array_equal(SecondOrder(M, N, O).initial_state(), np.eye(N)[0])


def test_irnn_is_relu_elman_with_identity_recurrence():
    irnn = IRNN(M, N, O, recurrent_scale=0.5)
    params = irnn.init(jax.random.key(1))
    np.testing.assert_array_equal(params["W_rec"], 0.5 * np.eye(N))
    assert not np.any(params["b"])
    assert irnn.elman == Elman(
        M, N, O, activation="relu", recurrent_init="identity", recurrent_scale=0.5
    )


def test_lstm_forget_bias_and_peephole_init():
    b = LSTM(M, N, O, forget_bias=2.0).init(jax.random.key(0))["b"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(N), 2 * np.ones(N), np.zeros(2 * N)])
    assert "p" not in LSTM(M, N, O).init(jax.random.key(0))


def test_indrnn_u_range():
    u = IndRNN(M, 50, O, u_range=(0.5, 0.9)).init(jax.random.key(0))["u"]
    assert float(u.min()) >= 0.5 and float(u.max()) <= 0.9


def test_ctrnn_time_constants_and_hashable_taus():
    cell = CTRNN(M, O, taus=[[3, 2], (2, 8.0)])
    assert cell.taus == ((3, 2.0), (2, 8.0)) and cell.hidden_size == 5
    assert hash(cell) == hash(CTRNN(M, O, taus=((3, 2.0), (2, 8.0))))
    np.testing.assert_array_equal(cell.time_constants(), [2, 2, 2, 8, 8])


def test_ctrnn_dt_equal_tau_forgets_the_past():
    # dt = τ: h_t = W σ(h_{t-1}) + U x_t + b, an ordinary RNN on σ(h).
    cell = CTRNN(M, O, taus=((N, 1.0),), dt=1.0)
    params = randomised(cell.init(jax.random.key(2)), jax.random.key(3))
    h, x = jnp.linspace(-1, 1, N), jnp.ones((M,))
    want = params["W_rec"] @ jnp.tanh(h) + params["W_in"] @ x + params["b"]
    np.testing.assert_allclose(cell.step(params, h, x)[0], want, rtol=1e-12)


def test_stack_sizes_and_layer_outputs():
    lower, upper = GRU(M, SO_N, SO_N), Elman(SO_N, N, O)
    stack = Stack([lower, upper])
    assert stack.cells == (lower, upper)
    assert stack.num_params == lower.num_params + upper.num_params
    params, state = stack.init(jax.random.key(0)), stack.initial_state()
    x = jnp.ones((M,))
    s1, y1 = lower.step(params[0], state[0], x)
    s2, y2 = upper.step(params[1], state[1], y1)
    (got1, got2), y = stack.step(params, state, x)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(got1, s1)
    np.testing.assert_array_equal(got2, s2)


def test_function_cell_casts_dtype_and_is_stable_under_jit():
    cell = CASES["function"].cell()
    assert cell == CASES["function"].cell() and hash(cell) == hash(CASES["function"].cell())
    params = cell.init(jax.random.key(0), jnp.float32)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(params)} == {jnp.dtype("float32")}


@functools.partial(jax.jit, static_argnums=0)
def init64(cell, key):
    """``cell.init(key, float64)``, compiled once per cell (eager init compiles op by op)."""
    return cell.init(key, jnp.float64)


def test_named_activations_match_their_formulas():
    """Every name of ``cells.activations`` is the function of its formula (``NP_ACTIVATIONS``),
    on both branches of relu and elu and in the tails of sigmoid and softplus."""
    assert set(ACTIVATIONS) == set(NP_ACTIVATIONS)  # a new name needs its formula here
    z = np.concatenate([np.linspace(-8.0, 8.0, 161), [-1e-3, 1e-3]])
    for name, formula in NP_ACTIVATIONS.items():
        got = resolve_activation(name)(jnp.asarray(z, jnp.float64))
        np.testing.assert_allclose(got, formula(z), rtol=1e-12, atol=1e-15, err_msg=name)


ORTHOGONAL = Elman(M, 6, O, recurrent_init="orthogonal", recurrent_scale=0.8)


def test_orthogonal_recurrent_init():
    """``recurrent_init="orthogonal"``: ``W_rec = recurrent_scale · Q`` with ``QᵀQ = QQᵀ = I``
    (every singular value is the scale). With a mask (``density``, ``ring``) it is documented
    as drawn as for a dense cell, then masked: same key, same matrix, masked."""
    key = jax.random.key(4)
    W = np.asarray(init64(ORTHOGONAL, key)["W_rec"])
    assert W.shape == (6, 6) and W.dtype == np.float64
    np.testing.assert_allclose(W.T @ W, 0.64 * np.eye(6), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W @ W.T, 0.64 * np.eye(6), rtol=0, atol=1e-12)
    for sparse in (
        dataclasses.replace(ORTHOGONAL, density=0.5),
        dataclasses.replace(ORTHOGONAL, ring=True),
    ):
        got = init64(sparse, key)["W_rec"]
        np.testing.assert_array_equal(got, np.where(sparse.recurrent_mask(), W, 0.0))


def test_orthogonal_init_is_haar_distributed():
    """Over K = 500 keys (n = 3, scale 1), each matrix is orthogonal; each entry of a
    Haar-random orthogonal matrix is uniform on [−1, 1] (a coordinate of a uniform point on
    the sphere S²) and det = ±1 with probability ½ each: Kolmogorov–Smirnov distance below its
    0.1 % critical value 1.95/√K. A QR without the sign fix of R's diagonal fails this (its
    diagonal entries all have one sign)."""
    cell = Elman(M, 3, O, recurrent_init="orthogonal")
    K = 500
    keys = jax.random.split(jax.random.key(0), K)
    W = np.asarray(jax.vmap(lambda k: init64(cell, k)["W_rec"])(keys))
    eye = np.broadcast_to(np.eye(3), W.shape)
    np.testing.assert_allclose(np.swapaxes(W, 1, 2) @ W, eye, rtol=0, atol=1e-12)
    for i, j in [(0, 0), (1, 1), (2, 2), (0, 2), (2, 1)]:
        cdf = (np.sort(W[:, i, j]) + 1) / 2  # the U(-1, 1) CDF at the sorted sample
        ks = max(np.max(np.arange(1, K + 1) / K - cdf), np.max(cdf - np.arange(K) / K))
        assert ks < 1.95 / np.sqrt(K), (i, j, ks)
    assert np.mean(np.linalg.det(W) > 0) == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(K))


def test_second_order_init_scale():
    """``SecondOrder.W`` ~ N(0, 1/(n·m)): sample mean within 4 standard errors, sample std
    within 5 % (≥ 4 standard errors)."""
    n, m = 40, 5
    W = np.asarray(init64(SecondOrder(m, n, O), jax.random.key(0))["W"])
    assert np.mean(W) == pytest.approx(0.0, abs=4 / np.sqrt(n * m * W.size))
    assert np.std(W) == pytest.approx(1 / np.sqrt(n * m), rel=0.05)


def test_registry():
    assert ga.cells.get("LSTM") is LSTM and ga.cells.get("elman") is Elman
    assert all(issubclass(c, ga.cells.AbstractCell) for c in ga.cells.CELLS.values())
    with pytest.raises(ValueError, match=r"unknown cell 'lsmt'.*'lstm'"):
        ga.cells.get("lsmt")
    with pytest.raises(TypeError, match="str"):
        ga.cells.get(LSTM)


BAD_CONSTRUCTORS = {
    "zero-input": (lambda: GRU(0, N, O), ValueError, "input_size"),
    "float-hidden": (lambda: LSTM(M, 4.0, O), TypeError, "hidden_size"),
    "bool-input": (lambda: SecondOrder(True, N, O), TypeError, "input_size"),
    "negative-output": (lambda: Jordan(M, N, -1), ValueError, "output_size"),
    "irnn-hidden": (lambda: IRNN(M, 0, O), ValueError, "hidden_size"),
    "activation": (lambda: Jordan(M, N, O, activation="nope"), ValueError, "activation"),
    "indrnn-activation": (lambda: IndRNN(M, N, O, activation=3), ValueError, "activation"),
    "peepholes": (lambda: LSTM(M, N, O, peepholes=1), TypeError, "peepholes"),
    "u_range": (lambda: IndRNN(M, N, O, u_range=(1.0, 0.0)), ValueError, "u_range"),
    "taus-empty": (lambda: CTRNN(M, O, taus=()), TypeError, "taus"),
    "taus-pair": (lambda: CTRNN(M, O, taus=(3, 1.0)), TypeError, r"taus\[0\]"),
    "taus-count": (lambda: CTRNN(M, O, taus=((0, 1.0),)), ValueError, r"taus\[0\] count"),
    "taus-tau": (lambda: CTRNN(M, O, taus=((2, -1.0),)), ValueError, r"taus\[0\] tau"),
    "dt": (lambda: CTRNN(M, O, taus=((2, 1.0),), dt=0), ValueError, "dt"),
    "dt-type": (lambda: CTRNN(M, O, taus=((2, 1.0),), dt="1"), TypeError, "dt"),
    "stack-empty": (lambda: Stack(()), TypeError, "cells"),
    "stack-not-cell": (lambda: Stack((Elman(M, N, O), "x")), TypeError, r"cells\[1\]"),
    "stack-chain": (
        lambda: Stack((Elman(M, N, O), Elman(M, N, O))),
        ValueError,
        r"cells\[0\]\.output_size=2 must equal cells\[1\]\.input_size=3",
    ),
    "function-step": (
        lambda: FunctionCell(None, fn_init, fn_initial_state, M, O),
        TypeError,
        "step_fn",
    ),
    "function-size": (
        lambda: FunctionCell(fn_step, fn_init, fn_initial_state, M, 0),
        ValueError,
        "output_size",
    ),
}


@pytest.mark.parametrize("name", BAD_CONSTRUCTORS)
def test_constructor_errors(name):
    make, error, match = BAD_CONSTRUCTORS[name]
    with pytest.raises(error, match=match):
        make()


def unrolled_value_and_grad(cell, params, state, xs, targets):
    """The reference: ``jax.grad`` of a Python loop over the steps."""

    def loss(p):
        s, total = state, 0.0
        for x, t in zip(xs, targets, strict=True):
            s, y = cell.step(p, s, x)
            total = total + ga.losses.mse(y, t)
        return total

    return jax.jit(jax.value_and_grad(loss))(params)


def assert_same_gradient(algorithm, cell, params, T=5):
    k_x, k_t = jax.random.split(jax.random.key(11))
    xs = jax.random.normal(k_x, (T, cell.input_size), jnp.float64)
    targets = jax.random.normal(k_t, (T, cell.output_size), jnp.float64)
    state = cell.initial_state(jnp.float64)
    want_value, want = unrolled_value_and_grad(cell, params, state, xs, targets)
    value, grads, _ = ga.value_and_grad(algorithm, cell, params, state, xs, targets)
    flat = jax.flatten_util.ravel_pytree
    err = jnp.linalg.norm(flat(grads)[0] - flat(want)[0]) / jnp.linalg.norm(flat(want)[0])
    assert float(err) <= 1e-9
    np.testing.assert_allclose(value, want_value, rtol=1e-12)


NEW_CASES = [name for name in CELL_CASES if not name.startswith("elman")]


@pytest.mark.parametrize("name", NEW_CASES)
def test_rtrl_gradient_matches_unrolled_jax_grad(name):
    cell = CELL_CASES[name]()
    assert cell.state_size <= 10
    assert_same_gradient(ga.RTRL(), cell, cell.init(jax.random.key(5), jnp.float64))


# --- Equinox modules through FunctionCell (skipped when equinox is not installed) ------------


def eqx_init(key):
    import equinox as eqx  # only called by the test below, after its importorskip

    k_gru, k_out = jax.random.split(key)
    return eqx.nn.GRUCell(M, N, key=k_gru), eqx.nn.Linear(N, O, key=k_out)


def eqx_initial_state():
    return jnp.zeros((N,))


def eqx_step(params, h, x):
    gru, linear = params
    h = gru(x, h)
    return h, linear(h)


@pytest.mark.parametrize("algorithm", [ga.BPTT(), ga.RTRL()], ids=["bptt", "rtrl"])
def test_equinox_modules_via_function_cell(algorithm):
    pytest.importorskip("equinox")
    cell = FunctionCell(eqx_step, eqx_init, eqx_initial_state, input_size=M, output_size=O)
    assert_same_gradient(algorithm, cell, cell.init(jax.random.key(3), jnp.float64))
