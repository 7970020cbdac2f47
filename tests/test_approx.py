"""The trace methods (SnAp-n, RFLO, e-prop, Immediate) and RTRL's O(P) path, against
references written here: NumPy transcriptions of each method's defining equations on an Elman
cell, ``jax.grad`` of an unrolled loop, and the documented equivalences."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES
from test_algorithms import make_data, max_rel_error, unrolled_loss

import gradalgos as ga

M, N, O, T = 3, 4, 2, 6


def exact_gradient(cell, params, state0, xs, targets):
    """``jax.grad`` of a Python loop over the steps (no gradalgos algorithm)."""
    mask = jnp.ones(xs.shape[:2])
    return jax.grad(lambda p: unrolled_loss(cell, p, state0, xs, targets, mask)[0])(params)


# --- Exact where the maths says so -----------------------------------------------------------

DIAGONAL_CELLS = {
    "indrnn": lambda: ga.cells.IndRNN(M, 5, O, activation="tanh"),
    "indrnn-relu": lambda: ga.cells.IndRNN(M, 5, O),
    "lru": lambda: ga.cells.LRU(M, 4, O),
    "elementwise-lstm": lambda: ga.cells.ElementwiseLSTM(M, 4, O),
}


@pytest.mark.parametrize("name", sorted(DIAGONAL_CELLS))
@pytest.mark.parametrize("algorithm", [ga.SnAp(1), ga.RTRL()], ids=["snap1", "rtrl"])
def test_snap1_and_rtrl_are_exact_on_block_diagonal_cells(name, algorithm):
    cell = DIAGONAL_CELLS[name]()
    params, state0, xs, targets = make_data(cell, jax.random.key(3), batch=2, steps=T)
    _, grads, _ = ga.value_and_grad(algorithm, cell, params, state0, xs, targets)
    assert max_rel_error(grads, exact_gradient(cell, params, state0, xs, targets)) <= 1e-10


@pytest.mark.parametrize("name", sorted(DIAGONAL_CELLS))
def test_rtrl_carries_one_block_per_parameter_on_element_wise_cells(name):
    """RTRL's O(P) path: the carry holds C ≤ 2 numbers per parameter, not S."""
    cell = DIAGONAL_CELLS[name]()
    params = cell.init(jax.random.key(0))
    carry = ga.RTRL().init(cell, params, cell.initial_state())
    assert isinstance(carry, ga.TraceState)
    carried = [t for t in jax.tree_util.tree_leaves(carry.traces)]
    assert carried and all(t.shape[0] <= 2 for t in carried)
    assert sum(t.size for t in carried) <= 2 * cell.num_params < cell.state_size * cell.num_params


def test_dense_cells_keep_rtrl_dense():
    cell = ga.cells.Elman(M, N, O)
    carry = ga.RTRL().init(cell, cell.init(jax.random.key(0)), cell.initial_state())
    assert isinstance(carry, ga.SensitivityState)


def test_snap_n_error_falls_strictly_with_n_on_a_ring_and_vanishes_at_its_length():
    """Ring Elman (unit i hears i and i − 1): SnAp-n's mask covers n units of the ring, so
    its error vs the exact gradient falls with n and is round-off at n = ring length."""
    n = 5
    cell = ga.cells.Elman(M, n, O, ring=True)
    params, state0, xs, targets = make_data(cell, jax.random.key(4), batch=2, steps=9)
    params = {**params, "W_rec": params["W_rec"] + 0.5 * cell.recurrent_mask()}
    exact = exact_gradient(cell, params, state0, xs, targets)
    errors = []
    for order in range(1, n + 1):
        _, g, _ = ga.value_and_grad(ga.SnAp(order), cell, params, state0, xs, targets)
        errors.append(max_rel_error(g, exact))
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert errors[0] > 1e-3
    assert errors[-1] <= 1e-10


def test_snap2_is_rtrl_on_a_dense_cell():
    cell = ga.cells.Elman(M, N, O)
    params, state0, xs, targets = make_data(cell, jax.random.key(5), batch=2, steps=T)
    _, g, _ = ga.value_and_grad(ga.SnAp(2), cell, params, state0, xs, targets)
    assert max_rel_error(g, exact_gradient(cell, params, state0, xs, targets)) <= 1e-10


# --- Per-step references of the defining equations, Elman --------------------------------------


def np_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def reference_run(params, xs, targets, h0, *, method, alpha=1.0, feedback=None):
    """NumPy transcription, one sequence, per-step gradients.

    Elman: a = W_rec h + W_in x + b, h' = tanh(a), y = W_out h' + b_out, ℓ = mean((y − t)²).
    D = 1 − h'², â = [h; x; 1]; q = W_outᵀ ∂ℓ/∂y (or ∂ℓ/∂y·B with random feedback).
    - snap1 / eprop: e[i, j] ← D_i (W_rec[i, i] e[i, j] + â_j)
    - rflo:          e[i, j] ← (1 − α) e[i, j] + D_i â_j
    - immediate:     e[i, j] = D_i â_j
    g_t[i, j] = q_i e[i, j]; the read-out's gradient is exact: ∂ℓ/∂y ⊗ h', ∂ℓ/∂y.
    """
    p = np_tree(params)
    W_rec, W_in, b, W_out = p["W_rec"], p["W_in"], p["b"], p["W_out"]
    n, m = W_in.shape
    e = np.zeros((n, n + m + 1))
    h = np.asarray(h0)
    per_step = []
    for x, target in zip(np.asarray(xs), np.asarray(targets), strict=True):
        a_hat = np.concatenate([h, x, [1.0]])
        h_new = np.tanh(W_rec @ h + W_in @ x + b)
        D = 1 - h_new**2
        fresh = D[:, None] * a_hat[None, :]
        if method in ("snap1", "eprop"):
            e = np.diag(W_rec)[:, None] * D[:, None] * e + fresh
        elif method == "rflo":
            e = (1 - alpha) * e + fresh
        else:
            e = fresh
        y = W_out @ h_new + p["b_out"]
        dy = 2 * (y - target) / y.size
        q = W_out.T @ dy if feedback is None else dy @ feedback
        g = q[:, None] * e
        per_step.append(
            {
                "W_rec": g[:, :n],
                "W_in": g[:, n : n + m],
                "b": g[:, -1],
                "W_out": np.outer(dy, h_new),
                "b_out": dy,
            }
        )
        h = h_new
    return per_step


REFERENCE_CASES = {
    "snap1": (ga.SnAp(1), {}),
    "eprop": (ga.EProp(), {}),
    "eprop-random": (ga.EProp(feedback="random"), {}),
    "rflo-0.3": (ga.RFLO(leak=0.3, feedback="symmetric"), {"alpha": 0.3}),
    "rflo-random": (ga.RFLO(leak=0.6), {"alpha": 0.6}),
    "immediate": (ga.Immediate(), {}),
}


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES))
def test_per_step_gradients_match_the_defining_equations_on_elman(case):
    algorithm, extra = REFERENCE_CASES[case]
    cell = ga.cells.Elman(M, N, O)
    params, state0, xs, targets = make_data(cell, jax.random.key(6), batch=1, steps=T)
    h0, xs, targets = state0[0], xs[0], targets[0]
    key = jax.random.key(7) if algorithm.needs_key else None
    carry = algorithm.init(cell, params, h0, key=key)
    feedback = None if getattr(carry, "feedback", None) is None else np.asarray(carry.feedback)
    method = case.split("-")[0]
    reference = reference_run(params, xs, targets, h0, method=method, feedback=feedback, **extra)
    for t, want in enumerate(reference):
        carry, _, got = algorithm.step(cell, params, carry, xs[t], targets[t])
        assert max_rel_error(got, want) <= 1e-12, f"step {t}"


def test_documented_equivalences():
    """RFLO with leak 1 = Immediate; e-prop (symmetric) = SnAp-1; RTRL = SnAp-∞ = BPTT."""
    cell = ga.cells.Elman(M, N, O)
    params, state0, xs, targets = make_data(cell, jax.random.key(8), batch=2, steps=T)

    def grads(algorithm):
        return ga.value_and_grad(algorithm, cell, params, state0, xs, targets)[1]

    rflo1 = grads(ga.RFLO(leak=1, feedback="symmetric"))
    assert max_rel_error(rflo1, grads(ga.Immediate())) <= 1e-14
    assert max_rel_error(grads(ga.EProp()), grads(ga.SnAp(1))) == 0
    assert max_rel_error(grads(ga.SnAp(1)), grads(ga.BPTT())) > 1e-3  # biased on a dense cell


def test_rflo_takes_the_cells_own_leak():
    """CTRNN's leak α = dt/τ per unit: RFLO() equals RFLO with those numbers written out."""
    cell = ga.cells.CTRNN(M, O, taus=((2, 2.0), (2, 4.0)))
    params, state0, xs, targets = make_data(cell, jax.random.key(9), batch=1, steps=T)
    own = ga.value_and_grad(ga.RFLO(feedback="symmetric"), cell, params, state0, xs, targets)[1]
    # α = 0.5 for the first two units, 0.25 for the others: a uniform leak differs
    for alpha in (0.5, 0.25):
        uniform = ga.value_and_grad(
            ga.RFLO(leak=alpha, feedback="symmetric"), cell, params, state0, xs, targets
        )[1]
        assert max_rel_error(own, uniform) > 1e-6
    rows = np.asarray(cell.leak_rate())
    assert rows.tolist() == [0.5, 0.5, 0.25, 0.25]


def test_same_key_same_numbers_other_key_other_numbers():
    cell = ga.cells.Elman(M, N, O)
    params, state0, xs, targets = make_data(cell, jax.random.key(10), batch=2, steps=T)
    alg = ga.RFLO(leak=0.5)

    def grads(seed):
        return ga.value_and_grad(alg, cell, params, state0, xs, targets, key=jax.random.key(seed))

    assert max_rel_error(grads(1)[1], grads(1)[1]) == 0
    assert max_rel_error(grads(1)[1], grads(2)[1]) > 1e-6


# --- Every method trains on every cell it supports ----------------------------------------------


APPROXIMATE = {
    "snap1": ga.SnAp(1),
    "snap2": ga.SnAp(2),
    # random feedback is a descent direction only once the read-out aligns with it (not at
    # init, one fixed matrix per batch): its training is checked in test_training_online.py
    "rflo": ga.RFLO(leak=0.5, feedback="symmetric"),
    "eprop": ga.EProp(),
    "immediate": ga.Immediate(),
}


def first_output_mse(y, target):
    return (y[0] - target[0]) ** 2


RANDOM_FEEDBACK = {"rflo", "eprop-random"}
#: Random feedback stands in for a learned read-out's transpose; a Jordan network's output is
#: its state (no read-out parameters), so it is refused there (tested below).
SUPPORTED = [
    (name, cell)
    for name in sorted(APPROXIMATE)
    for cell in sorted(CELL_CASES)
    if not (name in RANDOM_FEEDBACK and cell == "jordan")
]


@pytest.mark.parametrize(("name", "cell_name"), SUPPORTED)
def test_one_update_lowers_the_loss_on_the_adding_task(name, cell_name):
    """A small step along each method's (summed online) gradient lowers the exact loss of an
    adding-task batch: the estimate is a descent direction on every supported cell."""
    algorithm, cell = APPROXIMATE[name], CELL_CASES[cell_name]()
    batch = ga.tasks.Adding(length=8).sample(jax.random.key(11), 16)
    xs = jnp.pad(batch.xs, ((0, 0), (0, 0), (0, cell.input_size - 2)))
    targets = jnp.pad(batch.targets, ((0, 0), (0, 0), (0, cell.output_size - 1)))
    params = cell.init(jax.random.key(12))
    state0 = cell.initial_state()
    key = jax.random.key(13)

    def loss_at(p):
        args = (cell, p, state0, xs, targets)
        return ga.value_and_grad(ga.BPTT(), *args, loss=first_output_mse, mask=batch.mask)[0]

    _, g, _ = ga.value_and_grad(
        algorithm,
        cell,
        params,
        state0,
        xs,
        targets,
        loss=first_output_mse,
        mask=batch.mask,
        key=key,
    )
    norm = jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(g)))
    stepped = jax.tree_util.tree_map(lambda p, d: p - 1e-3 * d / norm, params, g)
    assert float(loss_at(stepped)) < float(loss_at(params))


# --- Clear errors ---------------------------------------------------------------------------


def skip_step(p, h, x):
    """A cell whose y_t reads h_{t-1} directly: no readout of s_t exists."""
    return jnp.tanh(p["A"] @ h + p["B"] @ x), p["C"] @ h


def skip_init(key):
    return {"A": 0.5 * jnp.eye(N), "B": jnp.ones((N, M)), "C": jnp.ones((O, N))}


def skip_initial_state():
    return jnp.zeros((N,))


def test_unsupported_pairs_name_the_method_and_the_cell():
    elman = ga.cells.Elman(M, N, O)
    params = elman.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"RFLO.*Elman has none"):
        ga.RFLO(feedback="symmetric").init(elman, params, elman.initial_state())

    skip = ga.cells.FunctionCell(
        skip_step, skip_init, skip_initial_state, input_size=M, output_size=O
    )
    sp = skip.init(jax.random.key(0))
    xs, targets = jnp.ones((T, M)), jnp.ones((T, O))
    for algorithm in (ga.SnAp(1), ga.Immediate(), ga.EProp(), ga.RFLO(leak=0.5)):
        name = type(algorithm).__name__
        with pytest.raises(ValueError, match=rf"{name} does not apply.*FunctionCell"):
            ga.value_and_grad(
                algorithm, skip, sp, skip.initial_state(), xs, targets, key=jax.random.key(0)
            )
    jordan = ga.cells.Jordan(M, N, O)
    for algorithm in (ga.RFLO(leak=0.5), ga.EProp(feedback="random")):
        with pytest.raises(ValueError, match=r"random feedback .*Jordan|Jordan.*random feedback"):
            algorithm.init(
                jordan,
                jordan.init(jax.random.key(0)),
                jordan.initial_state(),
                key=jax.random.key(0),
            )
    # the exact methods need no readout
    ga.value_and_grad(ga.RTRL(), skip, sp, skip.initial_state(), xs, targets)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ga.SnAp(0), ValueError, "order must be a positive int"),
        (lambda: ga.SnAp(-2), ValueError, "order must be a positive int"),
        (lambda: ga.SnAp(1.5), TypeError, "order must be a positive int"),
        (lambda: ga.SnAp(True), TypeError, "order must be a positive int"),
        (lambda: ga.RFLO(leak=0), ValueError, r"leak must lie in \(0, 1\]"),
        (lambda: ga.RFLO(leak=1.5), ValueError, r"leak must lie in \(0, 1\]"),
        (lambda: ga.RFLO(leak=-0.1), ValueError, r"leak must lie in \(0, 1\]"),
        (lambda: ga.RFLO(leak="a"), TypeError, "leak must be a number"),
        (lambda: ga.RFLO(feedback="mirror"), ValueError, "feedback must be one of"),
        (lambda: ga.EProp(feedback="adaptive"), ValueError, "feedback must be one of"),
    ],
)
def test_bad_settings_fail_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_keys_are_checked_before_compilation():
    cell = ga.cells.Elman(M, N, O)
    params, state0 = cell.init(jax.random.key(0)), cell.initial_state()
    xs, targets = jnp.ones((T, M)), jnp.ones((T, O))
    alg = ga.EProp(feedback="random")
    with pytest.raises(ValueError, match=r"EProp\(feedback='random'\) samples noise.*key="):
        alg.init(cell, params, state0)
    with pytest.raises(ValueError, match="key="):
        ga.value_and_grad(alg, cell, params, state0, xs, targets)
    for bad in (0, 1.5, jnp.ones(3), "key"):
        with pytest.raises(TypeError, match="key must be a PRNG key"):
            alg.init(cell, params, state0, key=bad)
    raw = jax.random.PRNGKey(0)  # a raw uint32 (2,) key is accepted as the typed one
    typed = alg.init(cell, params, state0, key=jax.random.wrap_key_data(raw))
    assert max_rel_error(alg.init(cell, params, state0, key=raw).feedback, typed.feedback) == 0


def test_a_carry_of_another_method_is_refused():
    cell = ga.cells.Elman(M, N, O)
    params, state0 = cell.init(jax.random.key(0)), cell.initial_state()
    x, target = jnp.ones(M), jnp.ones(O)
    rtrl_carry = ga.RTRL().init(cell, params, state0)
    with pytest.raises(TypeError, match=r"carry must be the TraceState from SnAp\(\)\.init"):
        ga.SnAp(1).step(cell, params, rtrl_carry, x, target)
    snap2 = ga.SnAp(2).init(cell, params, state0)  # another order: other trace shapes
    with pytest.raises(ValueError, match=r"carry\.traces\['W_\w+'\] must be"):
        ga.SnAp(1).step(cell, params, snap2, x, target)
    symmetric = ga.EProp().init(cell, params, state0)
    with pytest.raises(ValueError, match=r"carry\.feedback must be"):
        ga.EProp(feedback="random").step(cell, params, symmetric, x, target)


def test_random_feedback_is_one_matrix_for_the_whole_batch():
    """value_and_grad with random feedback = the mean over sequences of init(key) + steps with
    that same key: every sequence sees the feedback matrix init draws from ``key``."""
    cell = ga.cells.Elman(M, N, O)
    params, state0, xs, targets = make_data(cell, jax.random.key(14), batch=3, steps=T)
    alg, key = ga.EProp(feedback="random"), jax.random.key(15)
    _, batched, _ = ga.value_and_grad(alg, cell, params, state0, xs, targets, key=key)
    total = jax.tree_util.tree_map(jnp.zeros_like, params)
    for b in range(xs.shape[0]):
        carry = alg.init(cell, params, state0[b], key=key)
        for t in range(T):
            carry, _, g = alg.step(cell, params, carry, xs[b, t], targets[b, t])
            total = jax.tree_util.tree_map(lambda a, c: a + c / xs.shape[0], total, g)
    assert max_rel_error(batched, total) <= 1e-12
