"""LRU, ElementwiseLSTM, sparse/ring Elman and the ``state_jacobian_entries`` hook: one step
against independent NumPy code, sizes, init statistics, masks, errors, exact gradients."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import as_numpy, randomised, shape_tree
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.cells import CTRNN, IRNN, LRU, ElementwiseLSTM, Elman

M, N, O = 3, 4, 2  # distinct sizes, so that a transposed weight cannot go unnoticed


# --- Independent NumPy references of the documented equations --------------------------------


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_lru(p, state, x):
    """The LRU in complex arithmetic (the paper's form)."""
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    B = p["B_re"] + 1j * p["B_im"]
    C = p["C_re"] + 1j * p["C_im"]
    h = state[0] + 1j * state[1]
    h = lam * h + np.exp(p["gamma_log"]) * (B @ x)
    y = (C @ h).real + p["D"] @ x
    return (h.real, h.imag), y


def np_elementwise_lstm(p, state, x):
    h, c = state
    n = h.shape[0]
    W, u, b = p["W_x"], p["u"], p["b"]
    a = [W[k * n : (k + 1) * n] @ x + u[k * n : (k + 1) * n] * h + b[k * n : (k + 1) * n]
         for k in range(4)]  # fmt: skip
    c_new = sigmoid(a[1]) * c + sigmoid(a[0]) * np.tanh(a[2])
    h_new = sigmoid(a[3]) * np.tanh(c_new)
    return (h_new, c_new), p["W_out"] @ h_new + p["b_out"]


def np_elman(mask, act=np.tanh):
    """Elman with ``W_rec`` multiplied by a 0/1 ``mask`` (``None``: dense)."""

    def step(p, h, x):
        W = p["W_rec"] if mask is None else p["W_rec"] * mask
        h = act(W @ h + p["W_in"] @ x + p["b"])
        return h, p["W_out"] @ h + p["b_out"]

    return step


def ring_pattern(n):
    """Unit i hears i and i − 1 (mod n), written out entry by entry."""
    mask = np.zeros((n, n), bool)
    for i in range(n):
        mask[i, i] = True
        mask[i, (i - 1) % n] = True
    return mask


# --- Helpers ---------------------------------------------------------------------------------


def random_point(cell, key, scale=0.7):
    k_p, k_s, k_x = jax.random.split(key, 3)
    params = randomised(cell.init(k_p, jnp.float64), k_p, scale)
    state = randomised(cell.initial_state(jnp.float64), k_s, scale)
    return params, state, jax.random.normal(k_x, (cell.input_size,), jnp.float64)


SPARSE = Elman(M, N, O, density=0.5, mask_seed=3)
RING = Elman(M, N, O, ring=True)

# name: (cell, reference, parameter shapes, state shapes, P, S)
CASES = {
    "lru": (
        LRU(M, N, O),
        np_lru,
        {
            "nu_log": (N,),
            "theta_log": (N,),
            "gamma_log": (N,),
            "B_re": (N, M),
            "B_im": (N, M),
            "C_re": (O, N),
            "C_im": (O, N),
            "D": (O, M),
        },
        ((N,), (N,)),
        3 * N + 2 * N * M + 2 * O * N + O * M,
        2 * N,
    ),
    "elementwise-lstm": (
        ElementwiseLSTM(M, N, O),
        np_elementwise_lstm,
        {"W_x": (4 * N, M), "u": (4 * N,), "b": (4 * N,), "W_out": (O, N), "b_out": (O,)},
        ((N,), (N,)),
        4 * N * (M + 2) + O * N + O,
        2 * N,
    ),
    "elman-sparse": (
        SPARSE,
        np_elman(SPARSE.recurrent_mask()),
        {"W_in": (N, M), "W_rec": (N, N), "b": (N,), "W_out": (O, N), "b_out": (O,)},
        (N,),
        N * N + N * M + N + O * N + O,
        N,
    ),
    "elman-ring": (
        RING,
        np_elman(ring_pattern(N)),
        {"W_in": (N, M), "W_rec": (N, N), "b": (N,), "W_out": (O, N), "b_out": (O,)},
        (N,),
        N * N + N * M + N + O * N + O,
        N,
    ),
}


# --- Shapes, sizes, one step -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", CASES)
def test_shapes_dtypes_and_sizes(name, dtype):
    cell, _, params_shapes, state_shapes, P, S = CASES[name]
    params = cell.init(jax.random.key(0), dtype)
    state = cell.initial_state(dtype)
    assert shape_tree(params) == params_shapes
    assert shape_tree(state) == state_shapes
    for leaf in jax.tree_util.tree_leaves((params, state)):
        assert leaf.dtype == dtype
        assert bool(jnp.all(jnp.isfinite(leaf)))
    for leaf in jax.tree_util.tree_leaves(state):
        assert not np.any(leaf)
    state_new, y = cell.step(params, state, jnp.ones((M,), dtype))
    assert shape_tree(state_new) == state_shapes and y.shape == (O,) and y.dtype == dtype
    assert (cell.input_size, cell.output_size, cell.num_params, cell.state_size) == (M, O, P, S)
    assert hash(cell) == hash(dataclasses.replace(cell))


@pytest.mark.parametrize("name", CASES)
def test_step_matches_numpy_reference(name):
    cell, reference, *_ = CASES[name]
    params, state, x = random_point(cell, jax.random.key(7))
    state_new, y = jax.jit(cell.step)(params, state, x)
    want_state, want_y = reference(as_numpy(params), as_numpy(state), np.asarray(x))
    np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-12)
    leaves = jax.tree_util.tree_leaves
    assert jax.tree_util.tree_structure(state_new) == jax.tree_util.tree_structure(state)
    for got, want in zip(leaves(state_new), leaves(want_state), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_registry_and_exports():
    assert ga.cells.get("lru") is LRU and ga.cells.get("ElementWise_LSTM") is ElementwiseLSTM
    assert {"LRU", "ElementwiseLSTM"} <= set(ga.cells.__all__)


# --- LRU -------------------------------------------------------------------------------------


def test_lru_init_statistics():
    r_min, r_max, max_phase = 0.5, 0.9, math.pi
    m, n = 8, 2000
    cell = LRU(m, n, 3, r_min=r_min, r_max=r_max, max_phase=max_phase)
    p = as_numpy(cell.init(jax.random.key(1), jnp.float64))
    modulus = np.exp(-np.exp(p["nu_log"]))
    phase = np.exp(p["theta_log"])
    assert modulus.min() >= r_min - 1e-12 and modulus.max() <= r_max + 1e-12
    assert phase.min() >= 0 and phase.max() < max_phase
    # Uniform on the ring: |λ|² ~ U(r_min², r_max²), the phase ~ U(0, max_phase).
    assert np.mean(modulus**2) == pytest.approx((r_min**2 + r_max**2) / 2, abs=0.01)
    assert np.mean(phase) == pytest.approx(max_phase / 2, rel=0.05)
    np.testing.assert_allclose(np.exp(p["gamma_log"]), np.sqrt(1 - modulus**2), rtol=1e-10)
    assert np.std(p["B_re"]) == pytest.approx(1 / np.sqrt(2 * m), rel=0.05)
    assert np.std(p["B_im"]) == pytest.approx(1 / np.sqrt(2 * m), rel=0.05)
    assert np.std(p["C_re"]) == pytest.approx(1 / np.sqrt(n), rel=0.05)
    lam_re, lam_im = cell.eigenvalues(p)
    np.testing.assert_allclose(lam_re + 1j * lam_im, modulus * np.exp(1j * phase), rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_lru_init_is_finite_at_the_edges_of_the_ring(dtype):
    cell = LRU(2, 5000, 2, r_min=0.0, r_max=1.0, max_phase=1e-3)
    params = cell.init(jax.random.key(2), dtype)
    for leaf in jax.tree_util.tree_leaves(params):
        assert bool(jnp.all(jnp.isfinite(leaf)))
    modulus = jnp.exp(-jnp.exp(params["nu_log"]))
    assert float(modulus.max()) <= 1.0

    def loss(p):
        (h_re, h_im), y = cell.step(p, cell.initial_state(dtype), jnp.ones((2,), dtype))
        (h_re, h_im), y = cell.step(p, (h_re, h_im), jnp.ones((2,), dtype))
        return jnp.sum(y**2)

    for leaf in jax.tree_util.tree_leaves(jax.grad(loss)(params)):
        assert bool(jnp.all(jnp.isfinite(leaf)))


def test_lru_is_stable_and_decays():
    """|λ| < 1: with no input the state shrinks by at most r_max per step."""
    cell = LRU(M, N, O, r_min=0.5, r_max=0.8)
    params = cell.init(jax.random.key(3))
    state = (jnp.ones((N,)), jnp.ones((N,)))
    (h_re, h_im), _ = cell.step(params, state, jnp.zeros((M,)))
    assert float(jnp.max(jnp.hypot(h_re, h_im))) <= 0.8 * np.sqrt(2) + 1e-12


# --- ElementwiseLSTM -------------------------------------------------------------------------


def test_elementwise_lstm_init_and_unit_independence():
    cell = ElementwiseLSTM(M, 50, O, forget_bias=2.0)
    p = cell.init(jax.random.key(0))
    np.testing.assert_array_equal(p["b"], np.r_[np.zeros(50), 2 * np.ones(50), np.zeros(100)])
    assert float(p["u"].min()) >= -1.0 and float(p["u"].max()) <= 1.0
    assert float(jnp.std(p["u"])) == pytest.approx(1 / np.sqrt(3), rel=0.15)
    # The state Jacobian couples each unit's (h_k, c_k) with itself only: 2×2 blocks.
    cell = ElementwiseLSTM(M, N, O)
    params, state, x = random_point(cell, jax.random.key(4))
    flat, unravel = ravel_pytree(state)
    J = jax.jacfwd(lambda s: ravel_pytree(cell.step(params, unravel(s), x)[0])[0])(flat)
    unit = np.tile(np.arange(N), 2)
    assert not np.any(np.asarray(J)[unit[:, None] != unit[None, :]])


# --- Sparse and ring Elman -------------------------------------------------------------------


def test_default_elman_is_unchanged():
    """Same parameters from the same key as the dense Elman's documented init, same step,
    no mask in the traced step; explicit defaults and a different mask seed change nothing."""
    cell = Elman(M, N, O)
    key = jax.random.key(9)
    k_in, k_rec, k_out = jax.random.split(key, 3)
    want = {
        "W_in": jax.random.normal(k_in, (N, M)) / np.sqrt(M),
        "W_rec": jax.random.normal(k_rec, (N, N)) / np.sqrt(N),
        "b": jnp.zeros((N,)),
        "W_out": jax.random.normal(k_out, (O, N)) / np.sqrt(N),
        "b_out": jnp.zeros((O,)),
    }
    for other in (cell, Elman(M, N, O, density=1.0, mask_seed=5, ring=False)):
        params = other.init(key)
        for name in want:
            np.testing.assert_array_equal(params[name], want[name])
        assert other.recurrent_mask() is None and not other.sparse
    assert cell == Elman(M, N, O, density=1.0, mask_seed=0, ring=False)
    params, state, x = random_point(cell, jax.random.key(1))
    h, y = cell.step(params, state, x)
    want_h, want_y = np_elman(None)(as_numpy(params), np.asarray(state), np.asarray(x))
    np.testing.assert_allclose(h, want_h, rtol=1e-14)
    np.testing.assert_allclose(y, want_y, rtol=1e-14)
    jaxpr = str(jax.make_jaxpr(cell.step)(params, state, x))
    assert "select_n" not in jaxpr
    assert "select_n" in str(jax.make_jaxpr(SPARSE.step)(params, state, x))
    assert IRNN(M, N, O).elman.recurrent_mask() is None


def test_density_mask_statistics_and_init():
    n, density = 200, 0.3
    cell = Elman(M, n, O, density=density, mask_seed=1)
    mask = cell.recurrent_mask()
    assert mask.shape == (n, n) and mask.dtype == bool
    assert mask.mean() == pytest.approx(density, abs=0.01)
    assert np.diag(mask).mean() == pytest.approx(density, abs=0.15)  # diagonal drawn alike
    assert not mask.flags.writeable
    assert cell.recurrent_mask() is mask  # cached
    np.testing.assert_array_equal(
        Elman(M, n, O, density=density, mask_seed=1).recurrent_mask(), mask
    )
    assert np.any(Elman(M, n, O, density=density, mask_seed=2).recurrent_mask() != mask)
    W = np.asarray(cell.init(jax.random.key(0))["W_rec"])
    assert not np.any(W[~mask])
    assert np.all(W[mask] != 0)
    assert np.std(W[mask]) == pytest.approx(1 / np.sqrt(density * n), rel=0.05)


def test_ring_mask_is_exactly_the_ring():
    for n in (1, 2, 5, 30):
        cell = Elman(M, n, O, ring=True)
        np.testing.assert_array_equal(cell.recurrent_mask(), ring_pattern(n))
        W = np.asarray(cell.init(jax.random.key(n))["W_rec"])
        assert not np.any(W[~ring_pattern(n)])
    W = np.asarray(Elman(M, 500, O, ring=True).init(jax.random.key(0))["W_rec"])
    assert np.std(W[ring_pattern(500)]) == pytest.approx(np.sqrt(0.5), rel=0.05)
    # A scaled identity init stays the (masked) identity.
    W = Elman(M, 6, O, ring=True, recurrent_init="identity", recurrent_scale=0.5).init(
        jax.random.key(0)
    )["W_rec"]
    np.testing.assert_array_equal(W, 0.5 * np.eye(6))


@pytest.mark.parametrize("cell", [SPARSE, RING], ids=["density", "ring"])
def test_masked_weights_have_zero_gradient(cell):
    # Masked entries set to non-zero values: the step must ignore them, and their gradient is 0.
    params, state, x = random_point(cell, jax.random.key(5))
    mask = cell.recurrent_mask()

    def loss(p):
        h, total = state, 0.0
        for _ in range(3):
            h, y = cell.step(p, h, x)
            total = total + jnp.sum(y**2)
        return total

    g = np.asarray(jax.grad(loss)(params)["W_rec"])
    assert not np.any(g[~mask])
    assert np.all(g[mask] != 0)
    zeroed = dict(params, W_rec=jnp.where(mask, params["W_rec"], 0))
    assert float(loss(zeroed)) == float(loss(params))


# --- state_jacobian_entries ------------------------------------------------------------------


def my_softsign(a):
    return a / (1 + jnp.abs(a))


JACOBIAN_CELLS = {
    "elman-tanh": Elman(M, 6, O),
    "elman-relu": Elman(M, 6, O, activation="relu"),
    "elman-callable": Elman(M, 6, O, activation=my_softsign),
    "elman-sparse": Elman(M, 6, O, density=0.4, mask_seed=7),
    "elman-sparse-relu": Elman(M, 6, O, activation="relu", density=0.6),
    "elman-ring": Elman(M, 6, O, ring=True),
    "ctrnn": CTRNN(M, O, taus=((3, 2.0), (3, 8.0)), dt=0.5),
    "ctrnn-sigmoid": CTRNN(M, O, taus=((2, 1.0), (4, 4.0)), activation="sigmoid"),
}


@pytest.mark.parametrize("name", JACOBIAN_CELLS)
def test_state_jacobian_entries_match_jacfwd(name):
    cell = JACOBIAN_CELLS[name]
    S = cell.state_size
    rng = np.random.default_rng(0)
    all_rows, all_cols = np.divmod(np.arange(S * S), S)

    @jax.jit
    def every_entry(p, s, x):  # rows and cols are static: closed over
        return cell.state_jacobian_entries(p, s, x, all_rows, all_cols)

    J_ref = None
    for seed in range(3):
        params, state, x = random_point(cell, jax.random.key(seed), scale=1.0)
        J_ref = np.asarray(jax.jacfwd(lambda s, p=params, x=x: cell.step(p, s, x)[0])(state))
        rows, cols = rng.integers(0, S, 40), rng.integers(0, S, 40)
        rows, cols = np.r_[rows, np.arange(S)], np.r_[cols, np.arange(S)]  # diagonal too
        got = cell.state_jacobian_entries(params, state, x, rows, cols)
        assert got.shape == (rows.size,) and got.dtype == jnp.float64
        np.testing.assert_allclose(got, J_ref[rows, cols], rtol=1e-13, atol=1e-15)
        entries = np.asarray(every_entry(params, state, x)).reshape(S, S)
        np.testing.assert_allclose(entries, J_ref, rtol=1e-13, atol=1e-15)
    mask = getattr(cell, "recurrent_mask", lambda: None)()
    if mask is not None:
        assert not np.any(J_ref[~mask])
    empty = cell.state_jacobian_entries(params, state, x, np.zeros(0, int), np.zeros(0, int))
    assert empty.shape == (0,)


BAD_ENTRIES = {
    "out-of-range": (np.array([0, 6]), np.array([0, 1]), ValueError, r"rows.*\[0, 6\)"),
    "negative": (np.array([0, 1]), np.array([-1, 1]), ValueError, "cols"),
    "lengths": (np.array([0, 1]), np.array([0]), ValueError, "same length"),
    "float": (np.array([0.0, 1.0]), np.array([0, 1]), TypeError, "rows"),
    "2-D": (np.array([[0, 1]]), np.array([[0, 1]]), TypeError, "rows"),
}


@pytest.mark.parametrize("name", BAD_ENTRIES)
@pytest.mark.parametrize("cell_name", ["elman-tanh", "ctrnn"])
def test_state_jacobian_entries_errors(name, cell_name):
    cell = JACOBIAN_CELLS[cell_name]
    params, state, x = random_point(cell, jax.random.key(0))
    rows, cols, error, match = BAD_ENTRIES[name]
    with pytest.raises(error, match=match):
        cell.state_jacobian_entries(params, state, x, rows, cols)


def test_state_jacobian_entries_rejects_traced_indices():
    cell = JACOBIAN_CELLS["elman-tanh"]
    params, state, x = random_point(cell, jax.random.key(0))
    f = jax.jit(lambda r: cell.state_jacobian_entries(params, state, x, r, np.array([0])))
    with pytest.raises(TypeError, match="static NumPy"):
        f(jnp.array([0]))


# --- Argument errors -------------------------------------------------------------------------

BAD_CONSTRUCTORS = {
    "density-0": (lambda: Elman(M, N, O, density=0), ValueError, "density"),
    "density-1.5": (lambda: Elman(M, N, O, density=1.5), ValueError, "density"),
    "density-str": (lambda: Elman(M, N, O, density="0.5"), TypeError, "density"),
    "density-bool": (lambda: Elman(M, N, O, density=True), TypeError, "density"),
    "density-nan": (lambda: Elman(M, N, O, density=float("nan")), ValueError, "density"),
    "ring-and-density": (
        lambda: Elman(M, N, O, density=0.5, ring=True),
        ValueError,
        "ring=True and density=0.5 are exclusive",
    ),
    "ring-type": (lambda: Elman(M, N, O, ring=1), TypeError, "ring"),
    "mask_seed-negative": (lambda: Elman(M, N, O, mask_seed=-1), ValueError, "mask_seed"),
    "mask_seed-float": (lambda: Elman(M, N, O, mask_seed=1.0), TypeError, "mask_seed"),
    "r_min>=r_max": (lambda: LRU(M, N, O, r_min=0.9, r_max=0.9), ValueError, "r_min < r_max"),
    "r_max>1": (lambda: LRU(M, N, O, r_max=1.1), ValueError, "r_max ≤ 1"),
    "r_min<0": (lambda: LRU(M, N, O, r_min=-0.1), ValueError, "0 ≤ r_min"),
    "r_min-type": (lambda: LRU(M, N, O, r_min="0"), TypeError, "r_min"),
    "max_phase-0": (lambda: LRU(M, N, O, max_phase=0.0), ValueError, "max_phase"),
    "lru-hidden": (lambda: LRU(M, 0, O), ValueError, "hidden_size"),
    "elstm-output": (lambda: ElementwiseLSTM(M, N, 2.0), TypeError, "output_size"),
    "elstm-forget_bias": (
        lambda: ElementwiseLSTM(M, N, O, forget_bias="1"),
        TypeError,
        "forget_bias",
    ),
}


@pytest.mark.parametrize("name", BAD_CONSTRUCTORS)
def test_constructor_errors(name):
    make, error, match = BAD_CONSTRUCTORS[name]
    with pytest.raises(error, match=match):
        make()


# --- Exact gradients through the algorithms --------------------------------------------------


@functools.cache
def _reference(cell, T=5):
    params = cell.init(jax.random.key(5), jnp.float64)
    k_x, k_t = jax.random.split(jax.random.key(11))
    xs = jax.random.normal(k_x, (T, cell.input_size), jnp.float64)
    targets = jax.random.normal(k_t, (T, cell.output_size), jnp.float64)
    state = cell.initial_state(jnp.float64)

    def loss(p):
        s, total = state, 0.0
        for x, t in zip(xs, targets, strict=True):
            s, y = cell.step(p, s, x)
            total = total + ga.losses.mse(y, t)
        return total

    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    return params, state, xs, targets, value, grads


@pytest.mark.parametrize("algorithm", [ga.BPTT(), ga.RTRL()], ids=["bptt", "rtrl"])
@pytest.mark.parametrize("name", CASES)
def test_algorithms_match_unrolled_jax_grad(name, algorithm):
    cell = CASES[name][0]
    params, state, xs, targets, want_value, want = _reference(cell)
    value, grads, _ = ga.value_and_grad(algorithm, cell, params, state, xs, targets)
    flat = ravel_pytree
    err = jnp.linalg.norm(flat(grads)[0] - flat(want)[0]) / jnp.linalg.norm(flat(want)[0])
    assert float(err) <= 1e-10
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    mask = getattr(cell, "recurrent_mask", lambda: None)()
    if mask is not None:
        assert not np.any(np.asarray(grads["W_rec"])[~mask])
