"""The unbiased stochastic methods, UORO and KF-RTRL: against the exact gradient of an unrolled
loop written here, by statistics over many keys (vmapped), plus their key handling, their
supported cells, one online learning step, and the offline path = the online steps.

Key convention (documented on the classes): ``value_and_grad(..., key=k)`` gives sequence i
of a batch ``jax.random.split(k, B)[i]`` (B = 1 for an unbatched sequence); ``init(key=k)``
puts the key in the carry and every step splits it (one half drawn from, one kept).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.cells.dependence import state_parameter_mask

M, N, O, T = 3, 4, 2, 6
KS = (16, 64, 256, 1024)
POOL = 4096  # samples per method: groups of K for every K in KS


def make_problem(cell, seed, batch=None):
    """Parameters, a non-zero initial state and one sequence (``batch``: that many)."""
    k_p, k_s, k_x, k_t = jax.random.split(jax.random.key(seed), 4)
    params = cell.init(k_p, jnp.float64)
    s0 = jax.tree_util.tree_map(
        lambda s: s + 0.1 * jax.random.normal(k_s, s.shape, s.dtype), cell.initial_state()
    )
    lead = (T,) if batch is None else (batch, T)
    xs = jax.random.normal(k_x, (*lead, cell.input_size), jnp.float64)
    targets = jax.random.normal(k_t, (*lead, cell.output_size), jnp.float64)
    return params, s0, xs, targets


def reference_loss(cell, params, s0, xs, targets):
    """Σ_t mean((y_t − target_t)²) of one sequence by a Python loop over ``cell.step``."""
    state, total = s0, 0.0
    for t in range(xs.shape[0]):
        state, y = cell.step(params, state, xs[t])
        total = total + jnp.mean((y - targets[t]) ** 2)
    return total


def batch_loss(cell, params, s0, xs, targets):
    return sum(
        reference_loss(cell, params, s0, x, t) for x, t in zip(xs, targets, strict=True)
    ) / len(xs)


def exact_gradient(cell, params, s0, xs, targets):
    return jax.grad(lambda p: reference_loss(cell, p, s0, xs, targets))(params)


def sample_gradients(algorithm, cell, params, s0, xs, targets, keys):
    """``(K, P)``: the flat gradient of ``value_and_grad`` for each key (vmapped)."""

    def one(key):
        grads = ga.value_and_grad(algorithm, cell, params, s0, xs, targets, key=key)[1]
        return ravel_pytree(grads)[0]

    return np.asarray(jax.jit(jax.vmap(one))(keys))


def check_unbiased(samples, exact, c=4.0):
    """``AssertionError`` unless the samples' mean is unbiased for ``exact``.

    For K = 16 … 1024 the pool is cut into groups of K; an unbiased estimator's group means
    have E‖mean − exact‖² = tr(Cov)/K, so the mean squared error over the groups must stay
    below c·tr(Cov)/K (tr(Cov) from the sample variance; c = 4 is a chi-square-style bound
    for an average of at least 4 groups), and the error must fall like K^(-1/2) (log-log
    slope in [−0.75, −0.25]). A deterministic estimator (tr(Cov) = 0) passes only if exact.
    Returns ``(errors (RMS per K), tr(Cov))``.
    """
    n, _ = samples.shape
    trace = float(np.sum(np.var(samples, axis=0, ddof=1)))
    errors = []
    for K in KS:
        means = samples[: n // K * K].reshape(n // K, K, -1).mean(axis=1)
        mse = float(np.mean(np.sum((means - exact) ** 2, axis=1)))
        assert mse <= c * trace / K, (
            f"biased: at K={K} the mean's squared error {mse:.3g} exceeds "
            f"{c}·tr(Cov)/K = {c * trace / K:.3g}"
        )
        errors.append(np.sqrt(mse))
    slope = np.polyfit(np.log(KS), np.log(errors), 1)[0]
    assert -0.75 <= slope <= -0.25, f"error ∝ K^{slope:.2f}, not K^(-1/2): {errors}"
    return np.array(errors), trace


@pytest.fixture(scope="module")
def elman_pools():
    """4096 gradient samples of UORO and of KF-RTRL on one Elman problem, and the exact one."""
    cell = ga.cells.Elman(M, N, O)
    params, s0, xs, targets = make_problem(cell, 0)
    exact = np.asarray(ravel_pytree(exact_gradient(cell, params, s0, xs, targets))[0])
    keys = jax.random.split(jax.random.key(42), POOL)
    pools = {
        name: sample_gradients(alg, cell, params, s0, xs, targets, keys)
        for name, alg in (("uoro", ga.UORO()), ("kfrtrl", ga.KFRTRL()))
    }
    snap = sample_gradients(ga.SnAp(1), cell, params, s0, xs, targets, keys[:POOL])
    return pools, snap, exact


@pytest.mark.parametrize("name", ["uoro", "kfrtrl"])
def test_unbiased(elman_pools, name):
    pools, _, exact = elman_pools
    errors, trace = check_unbiased(pools[name], exact)
    assert trace > 0  # stochastic: the bound is not vacuous
    assert errors[-1] < errors[0] / 4  # 64× the keys: ≈ 8× smaller error


def test_a_biased_estimator_fails_the_unbiasedness_check(elman_pools):
    pools, snap, exact = elman_pools
    assert np.ptp(snap, axis=0).max() == 0  # SnAp-1 is deterministic: every key, same number
    with pytest.raises(AssertionError, match="biased"):
        check_unbiased(snap, exact)
    # noisy and biased: KF-RTRL's samples shifted by SnAp-1's bias
    with pytest.raises(AssertionError, match=r"biased|K\^"):
        check_unbiased(pools["kfrtrl"] + (snap[0] - exact), exact)


def test_kfrtrl_variance_is_below_uoro(elman_pools):
    pools, _, _ = elman_pools
    var = {name: float(np.sum(np.var(s, axis=0, ddof=1))) for name, s in pools.items()}
    ratio = var["kfrtrl"] / var["uoro"]
    print(f"tr(Cov) KF-RTRL / UORO on Elman n={N}, T={T}: {ratio:.3f}")
    assert ratio < 0.5


# --- keys ----------------------------------------------------------------------------------

ALGORITHMS = [ga.UORO(), ga.KFRTRL()]
IDS = ["uoro", "kfrtrl"]


@pytest.fixture(scope="module")
def elman_problem():
    cell = ga.cells.Elman(M, N, O)
    return (cell, *make_problem(cell, 1))


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=IDS)
def test_same_key_same_numbers_different_keys_different(elman_problem, algorithm):
    cell, params, s0, xs, targets = elman_problem

    def grads(key):
        return ravel_pytree(ga.value_and_grad(algorithm, cell, params, s0, xs, targets, key=key))[0]

    a, b, c = grads(jax.random.key(7)), grads(jax.random.key(7)), grads(jax.random.key(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # two steps: KF-RTRL's first is exact whatever the signs (c2² = 1 with A = u = 0)
    outs = []
    for k in (7, 7, 8):
        carry = algorithm.init(cell, params, s0, key=jax.random.key(k))
        carry = algorithm.step(cell, params, carry, xs[0], targets[0])[0]
        outs.append(ravel_pytree(algorithm.step(cell, params, carry, xs[1], targets[1])[2])[0])
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2])


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=IDS)
def test_key_is_required_and_must_be_a_key(elman_problem, algorithm):
    cell, params, s0, xs, targets = elman_problem
    with pytest.raises(ValueError, match="key"):
        algorithm.init(cell, params, s0)
    with pytest.raises(ValueError, match="key"):
        ga.value_and_grad(algorithm, cell, params, s0, xs, targets)
    for bad in (5, jnp.ones(2)):
        with pytest.raises(TypeError, match="key"):
            algorithm.init(cell, params, s0, key=bad)
        with pytest.raises(TypeError, match="key"):
            ga.value_and_grad(algorithm, cell, params, s0, xs, targets, key=bad)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=IDS)
def test_offline_path_is_the_sum_of_the_online_steps(elman_problem, algorithm):
    cell, params, s0, xs, targets = elman_problem
    key = jax.random.key(11)
    loss, grads, state_T = ga.value_and_grad(algorithm, cell, params, s0, xs, targets, key=key)
    # value_and_grad gives sequence i of B the key jax.random.split(key, B)[i]; here B = 1
    carry = algorithm.init(cell, params, s0, key=jax.random.split(key, 1)[0])
    total, summed = 0.0, jax.tree_util.tree_map(jnp.zeros_like, params)
    for t in range(T):
        carry, loss_t, g_t = algorithm.step(cell, params, carry, xs[t], targets[t])
        total = total + loss_t
        summed = jax.tree_util.tree_map(jnp.add, summed, g_t)
    assert float(total) == pytest.approx(float(loss), rel=1e-12)
    np.testing.assert_allclose(ravel_pytree(summed)[0], ravel_pytree(grads)[0], rtol=1e-10)
    np.testing.assert_allclose(carry.state, state_T, rtol=1e-12)


# --- supported cells, carry checks, metadata ------------------------------------------------


@pytest.mark.parametrize("cell", [ga.cells.LSTM(M, 3, O), ga.cells.GRU(M, 3, O)], ids=repr)
def test_kfrtrl_refuses_cells_without_kronecker_structure(cell):
    params, s0, xs, targets = make_problem(cell, 2)
    name = type(cell).__name__
    with pytest.raises(ValueError, match=f"KFRTRL.*{name}"):
        ga.KFRTRL().init(cell, params, s0, key=jax.random.key(0))
    with pytest.raises(ValueError, match=f"KFRTRL.*{name}"):
        ga.value_and_grad(ga.KFRTRL(), cell, params, s0, xs, targets, key=jax.random.key(0))


def _not_rank_one_step(params, h, x):
    """Row i of W changes only h_i, but J^θ[i, (i, j)] = φ'_i (x_j + 2 W_ij h_j): rank > 1."""
    W = params["W"]
    h = jnp.tanh(W @ x + (W**2) @ h)
    return h, params["C"] @ h


def _not_rank_one_init(key):
    k_w, k_c = jax.random.split(key)
    return {"W": 0.5 * jax.random.normal(k_w, (M, M)), "C": jax.random.normal(k_c, (O, M))}


def _zeros():
    return jnp.zeros((M,))


def test_kfrtrl_refuses_a_leaf_touching_one_entry_per_row_but_not_rank_one():
    cell = ga.cells.FunctionCell(_not_rank_one_step, _not_rank_one_init, _zeros, M, O)
    params, s0, _, _ = make_problem(cell, 2)
    with pytest.raises(ValueError, match=r"KFRTRL.*FunctionCell.*\['W'\].*rank one"):
        ga.KFRTRL().init(cell, params, s0, key=jax.random.key(0))
    ga.UORO().init(cell, params, s0, key=jax.random.key(0))  # UORO applies to any cell


def test_kfrtrl_carry_layout_and_checks(elman_problem):
    cell, params, s0, xs, targets = elman_problem
    carry = ga.KFRTRL().init(cell, params, s0, key=jax.random.key(0))
    shapes = jax.tree_util.tree_map(jnp.shape, (carry.A, carry.u))
    assert shapes[0] == {"W_in": (N, N), "W_rec": (N, N), "b": (N, N), "W_out": None, "b_out": None}
    assert shapes[1] == {"W_in": (M,), "W_rec": (N,), "b": (1,), "W_out": None, "b_out": None}
    bad = carry._replace(u={**carry.u, "W_in": jnp.zeros(M + 1)})
    with pytest.raises(ValueError, match=r"carry\.u"):
        ga.KFRTRL().step(cell, params, bad, xs[0], targets[0])
    with pytest.raises(ValueError, match=r"carry\.key"):
        ga.KFRTRL().step(cell, params, carry._replace(key=jnp.zeros(2)), xs[0], targets[0])


def test_uoro_carry_layout_and_checks(elman_problem):
    cell, params, s0, xs, targets = elman_problem
    carry = ga.UORO().init(cell, params, s0, key=jax.random.key(0))
    assert carry.s_tilde.shape == (N,)
    assert carry.theta_tilde["W_out"] is None and carry.theta_tilde["W_rec"].shape == (N, N)
    carry, _, _ = ga.UORO().step(cell, params, carry, xs[0], targets[0])
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(carry.theta_tilde))
    with pytest.raises(ValueError, match=r"carry\.s_tilde"):
        ga.UORO().step(cell, params, carry._replace(s_tilde=jnp.zeros(N + 1)), xs[0], targets[0])


def test_registry_and_info():
    for cls, name, time in ((ga.UORO, "uoro", 2), (ga.KFRTRL, "kfrtrl", 3)):
        assert ga.algorithms.registry.get(name) is cls
        info = cls.info
        assert (info.exact, info.online, info.stochastic) == (False, True, True)
        assert (info.time_exponent, info.memory_exponent, info.memory_vs_T) == (time, 2, 0)
        assert cls().needs_key


# --- one online learning step -----------------------------------------------------------------

B, REPEATS, LR = 8, 8, 0.1
CELLS = {
    "elman": lambda: ga.cells.Elman(M, N, O),
    "indrnn": lambda: ga.cells.IndRNN(M, N, O, activation="tanh"),
    "lru": lambda: ga.cells.LRU(M, N, O),
}
ONLINE_CASES = [("uoro", c) for c in CELLS] + [("kfrtrl", c) for c in ("elman", "indrnn")]


@pytest.mark.parametrize(("method", "cell_name"), ONLINE_CASES)
def test_one_online_sgd_step_lowers_the_loss(method, cell_name):
    """init, T steps of ``step`` with fixed weights on each of B sequences (REPEATS keys each),
    the summed per-step gradients averaged, one SGD step (lr 0.1) on the parameters the state
    depends on (the readout is held, so the decrease comes from the estimate of ∂s/∂θ): the
    batch loss falls, by at least a quarter of what the exact gradient's step achieves."""
    algorithm = {"uoro": ga.UORO(), "kfrtrl": ga.KFRTRL()}[method]
    cell = CELLS[cell_name]()
    params, s0, xs, targets = make_problem(cell, 3, batch=B)

    def one(key, x, target):
        def body(carry, inputs):
            carry, _, g = algorithm.step(cell, params, carry, *inputs)
            return carry, g

        _, per_step = jax.lax.scan(body, algorithm.init(cell, params, s0, key=key), (x, target))
        return jax.tree_util.tree_map(lambda g: jnp.sum(g, axis=0), per_step)

    keys = jax.random.split(jax.random.key(5), (REPEATS, B))
    per = jax.jit(jax.vmap(jax.vmap(one), in_axes=(0, None, None)))(keys, xs, targets)
    estimate = jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=(0, 1)), per)
    exact = jax.grad(lambda p: batch_loss(cell, p, s0, xs, targets))(params)
    keep = state_parameter_mask(cell, params, s0)

    def sgd(grads):
        return jax.tree_util.tree_map(lambda p, g, k: p - LR * g if k else p, params, grads, keep)

    before = float(batch_loss(cell, params, s0, xs, targets))
    after = float(batch_loss(cell, sgd(estimate), s0, xs, targets))
    after_exact = float(batch_loss(cell, sgd(exact), s0, xs, targets))
    assert after_exact < before
    assert before - after >= 0.25 * (before - after_exact), (before, after, after_exact)
