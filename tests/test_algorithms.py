"""Every exact algorithm on every cell agrees with ``jax.grad`` of an unrolled Python loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES

import gradalgos as ga

T, B = 5, 2

EXACT = {
    "bptt": ga.BPTT(),
    "checkpointed": ga.CheckpointedBPTT(),
    "checkpointed-2": ga.CheckpointedBPTT(segment=2),
    "tbptt-k2>=T": ga.TBPTT(2, 100),
    "rtrl": ga.RTRL(),
    "hybrid-S": ga.Hybrid(),
    "hybrid-2": ga.Hybrid(block=2),
    "hybrid-3": ga.Hybrid(block=3),
    "hybrid-T+4": ga.Hybrid(block=T + 4),
}


def make_data(cell, key, batch=B, steps=T, dtype=jnp.float64):
    k_p, k_x, k_t, k_s = jax.random.split(key, 4)
    params = cell.init(k_p, dtype)
    xs = jax.random.normal(k_x, (batch, steps, cell.input_size), dtype)
    targets = jax.random.normal(k_t, (batch, steps, cell.output_size), dtype)
    # A non-zero, per-sequence initial state, so that λ·M_0 terms and state handling are exercised.
    s0 = cell.initial_state(dtype)
    state0 = jax.tree_util.tree_map(
        lambda s: s + 0.1 * jax.random.normal(k_s, (batch, *s.shape), dtype), s0
    )
    return params, state0, xs, targets


def unrolled_loss(cell, params, state0, xs, targets, mask, loss=ga.losses.mse):
    """Reference: a Python loop over time and batch, no scan, no gradalgos algorithm."""
    total = 0.0
    finals = []
    for b in range(xs.shape[0]):
        state = jax.tree_util.tree_map(lambda s, b=b: s[b], state0)
        for t in range(xs.shape[1]):
            state, y = cell.step(params, state, xs[b, t])
            total = total + mask[b, t] * loss(y, targets[b, t])
        finals.append(state)
    return total / xs.shape[0], jax.tree_util.tree_map(lambda *s: jnp.stack(s), *finals)


def max_rel_error(a, b):
    """Max over leaves of max|a - b| / max|b| (relative to the leaf's scale)."""
    errs = []
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        scale = max(float(jnp.max(jnp.abs(y))), 1e-30)
        errs.append(float(jnp.max(jnp.abs(x - y))) / scale)
    return max(errs)


@pytest.fixture(scope="module", params=sorted(CELL_CASES))
def case(request):
    cell = CELL_CASES[request.param]()
    params, state0, xs, targets = make_data(cell, jax.random.key(7))
    mask = jnp.asarray(np.random.default_rng(0).random((B, T)) > 0.3, jnp.float64)
    (ref_loss, ref_state), ref_grads = jax.value_and_grad(
        lambda p: unrolled_loss(cell, p, state0, xs, targets, mask), has_aux=True
    )(params)
    return cell, params, state0, xs, targets, mask, ref_loss, ref_grads, ref_state


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_algorithms_match_unrolled_jax_grad(case, name):
    cell, params, state0, xs, targets, mask, ref_loss, ref_grads, ref_state = case
    loss, grads, state_T = ga.value_and_grad(
        EXACT[name], cell, params, state0, xs, targets, mask=mask
    )
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    assert abs(float(loss - ref_loss)) <= 1e-12 * max(1.0, abs(float(ref_loss)))
    assert max_rel_error(grads, ref_grads) <= 1e-9
    assert max_rel_error(state_T, ref_state) <= 1e-12


def test_bptt_matches_central_finite_differences():
    cell = ga.cells.Elman(input_size=2, hidden_size=3, output_size=2)
    params, state0, xs, targets = make_data(cell, jax.random.key(3), batch=1, steps=4)
    _, grads, _ = ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets)
    theta, unravel = jax.flatten_util.ravel_pytree(params)

    def f(th):
        value, _, _ = ga.value_and_grad(ga.BPTT(), cell, unravel(th), state0, xs, targets)
        return float(value)

    eps = 1e-6
    fd = np.array(
        [
            (f(theta.at[i].add(eps)) - f(theta.at[i].add(-eps))) / (2 * eps)
            for i in range(theta.size)
        ]
    )
    g = np.asarray(jax.flatten_util.ravel_pytree(grads)[0])
    assert np.max(np.abs(g - fd)) / np.max(np.abs(g)) <= 1e-6


def linear_scalar_rnn(w: float):
    """h_t = w·h_{t-1} + x_t, y_t = h_t: an Elman cell with identity activation, n = m = o = 1."""
    cell = ga.cells.Elman(input_size=1, hidden_size=1, output_size=1, activation="identity")
    params = {
        "W_in": jnp.ones((1, 1)),
        "W_rec": jnp.full((1, 1), w),
        "b": jnp.zeros(1),
        "W_out": jnp.ones((1, 1)),
        "b_out": jnp.zeros(1),
    }
    return cell, params


def test_truncated_bptt_equals_hand_derived_scalar_linear_rnn():
    # w = 0.5, x = (1, 2, -1, 0.5), d = (0, 1, 0, 1), h_0 = 0, ℓ_t = (h_t - d_t)²:
    # h = (1, 2.5, 0.25, 0.625); dℓ_t/dh_t = 2(h_t - d_t) = (2, 3, 0.5, -0.75).
    # TBPTT(2, 2): chunk {1, 2} from h_0: ∂h_1/∂w = h_0 = 0, ∂h_2/∂w = h_1 + w·h_0 = 1 → 3;
    # chunk {3, 4} with h_2 constant: ∂h_3/∂w = h_2 = 2.5, ∂h_4/∂w = h_3 + w·h_2 = 1.5
    # → 0.5·2.5 − 0.75·1.5 = 0.125. Total 3.125. Full BPTT: ∂h_3/∂w = 3, ∂h_4/∂w = 1.75 →
    # 3 + 1.5 − 1.3125 = 3.1875. TBPTT(1, 2) (update every step, 2 steps back):
    # t=1: 0; t=2: 3·1 = 3; t=3: 0.5·(h_2 + w·h_1) = 1.5; t=4: −0.75·(h_3 + w·h_2) = −1.125 → 3.375.
    cell, params = linear_scalar_rnn(0.5)
    xs = jnp.array([[1.0], [2.0], [-1.0], [0.5]])
    targets = jnp.array([[0.0], [1.0], [0.0], [1.0]])
    state0 = cell.initial_state()
    expected = {ga.TBPTT(2, 2): 3.125, ga.TBPTT(1, 2): 3.375, ga.BPTT(): 3.1875}
    for alg, want in expected.items():
        loss, grads, state_T = ga.value_and_grad(alg, cell, params, state0, xs, targets)
        assert float(grads["W_rec"][0, 0]) == pytest.approx(want, abs=1e-12), alg
        assert float(loss) == pytest.approx(3.453125, abs=1e-12)
        assert float(state_T[0]) == pytest.approx(0.625, abs=1e-12)


@pytest.mark.parametrize("k1,k2", [(1, 1), (2, 2), (2, 3), (3, 4), (4, 6), (7, 9)])
def test_truncated_bptt_matches_window_by_window_reference(k1, k2):
    """Independent reference: at each update time, run the window from a constant state."""
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    params, state0, xs, targets = make_data(cell, jax.random.key(11), batch=1, steps=T + 2)
    x, d, s0 = xs[0], targets[0], state0[0]
    steps = x.shape[0]
    ends = list(range(k1, steps + 1, k1))
    if not ends or ends[-1] != steps:
        ends.append(steps)
    states = [s0]
    for t in range(steps):
        states.append(cell.step(params, states[-1], x[t])[0])
    expected = jax.tree_util.tree_map(jnp.zeros_like, params)
    prev = 0
    for end in ends:
        start = max(0, end - k2)

        def window(p, start=start, prev=prev, end=end):
            s, total = jax.lax.stop_gradient(states[start]), 0.0
            for t in range(start, end):
                s, y = cell.step(p, s, x[t])
                if t >= prev:
                    total = total + ga.losses.mse(y, d[t])
            return total

        expected = jax.tree_util.tree_map(jnp.add, expected, jax.grad(window)(params))
        prev = end
    _, grads, _ = ga.value_and_grad(ga.TBPTT(k1, k2), cell, params, s0, x, d)
    assert max_rel_error(grads, expected) <= 1e-12


def test_batched_gradient_is_mean_of_unbatched():
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    params, state0, xs, targets = make_data(cell, jax.random.key(5), batch=3)
    for alg in (ga.BPTT(), ga.RTRL(), ga.Hybrid(block=2), ga.TBPTT(2)):
        loss, grads, state_T = ga.value_and_grad(alg, cell, params, state0, xs, targets)
        singles = [
            ga.value_and_grad(alg, cell, params, state0[b], xs[b], targets[b]) for b in range(3)
        ]
        mean_grads = jax.tree_util.tree_map(lambda *g: sum(g) / 3, *[s[1] for s in singles])
        assert float(loss) == pytest.approx(np.mean([float(s[0]) for s in singles]), rel=1e-12)
        assert max_rel_error(grads, mean_grads) <= 1e-12
        assert state_T.shape == (3, 4)
        np.testing.assert_allclose(state_T[1], singles[1][2], rtol=1e-12)


def test_shared_initial_state_broadcasts_over_batch():
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    params, _, xs, targets = make_data(cell, jax.random.key(5), batch=3)
    s0 = cell.initial_state()
    shared = ga.value_and_grad(ga.RTRL(), cell, params, s0, xs, targets)
    explicit = ga.value_and_grad(ga.RTRL(), cell, params, jnp.stack([s0] * 3), xs, targets)
    assert max_rel_error(shared[1], explicit[1]) == 0.0


def _labels(key, o):
    return jax.random.randint(key, (B, T), 0, o)


def _distributions(key, o):
    return jax.nn.softmax(jax.random.normal(key, (B, T, o), jnp.float64))


def _probabilities(key, o):
    return jax.random.uniform(key, (B, T, o), jnp.float64)


def _reals(key, o):
    return jax.random.normal(key, (B, T, o), jnp.float64)


#: The built-in losses besides integer-label cross-entropy, each with targets of the kind it
#: documents: name -> (loss, target maker).
LOSS_CASES = {
    "cross_entropy-distributions": (ga.losses.cross_entropy, _distributions),
    "sigmoid_binary_cross_entropy": (ga.losses.sigmoid_binary_cross_entropy, _probabilities),
    "sum_squared_error": (ga.losses.sum_squared_error, _reals),
}


def _check_loss_matches_reference(loss_fn, make_targets):
    """The loss value and the gradient of BPTT, RTRL and the hybrid with ``loss_fn`` = those
    of the unrolled Python loop, under a random mask, in float64, to round-off."""
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=5)
    params, state0, xs, _ = make_data(cell, jax.random.key(9))
    targets = make_targets(jax.random.key(1), cell.output_size)
    mask = jnp.asarray(np.random.default_rng(1).random((B, T)) > 0.3, jnp.float64)
    (ref_loss, _), ref = jax.value_and_grad(
        lambda p: unrolled_loss(cell, p, state0, xs, targets, mask, loss_fn), has_aux=True
    )(params)
    for alg in (ga.BPTT(), ga.RTRL(), ga.Hybrid(block=2)):
        loss, grads, _ = ga.value_and_grad(
            alg, cell, params, state0, xs, targets, mask=mask, loss=loss_fn
        )
        assert loss.dtype == jnp.float64
        assert float(loss) == pytest.approx(float(ref_loss), rel=1e-13)
        assert max_rel_error(grads, ref) <= 1e-12


def test_cross_entropy_with_integer_labels_matches_reference():
    _check_loss_matches_reference(ga.losses.cross_entropy, _labels)


@pytest.mark.parametrize("loss_name", sorted(LOSS_CASES))
def test_builtin_losses_match_reference(loss_name):
    _check_loss_matches_reference(*LOSS_CASES[loss_name])


_Y, _ZERO = [1.0, 2.0], [0.0, 0.0]
_LOGITS = list(np.log([1.0, 3.0]))  # softmax = (1/4, 3/4); sigmoid = (1/2, 3/4)

#: Hand-computed values of the documented formulas: name -> (loss, y, target, value).
HAND_CASES = {
    "sum_squared_error": (ga.losses.sum_squared_error, _Y, _ZERO, 2.5),  # ½ (1 + 4)
    "mse": (ga.losses.mse, _Y, _ZERO, 2.5),  # (1 + 4) / 2
    # -log(3/4)
    "cross_entropy-label": (ga.losses.cross_entropy, _LOGITS, 1, np.log(4 / 3)),
    # a one-hot distribution is its label
    "cross_entropy-one-hot": (ga.losses.cross_entropy, _LOGITS, [0.0, 1.0], np.log(4 / 3)),
    # -(½ log ¼ + ½ log ¾) = log 4 - ½ log 3
    "cross_entropy-distribution": (
        ga.losses.cross_entropy, _LOGITS, [0.5, 0.5], np.log(4) - 0.5 * np.log(3)
    ),
    # Σ_i -t_i log σ(x_i) - (1 - t_i) log(1 - σ(x_i)): target 1 at σ = ½ gives log 2, target 0
    # at σ = ¾ gives -log ¼ = log 4; in all log 8
    "sigmoid_binary_cross_entropy": (
        ga.losses.sigmoid_binary_cross_entropy, _LOGITS, [1.0, 0.0], np.log(8)
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_losses_on_hand_computed_values(name):
    loss_fn, y, target, value = HAND_CASES[name]
    assert float(loss_fn(jnp.asarray(y), jnp.asarray(target))) == pytest.approx(value, rel=1e-14)


@pytest.mark.parametrize(
    "alg", [ga.BPTT(), ga.TBPTT(2), ga.CheckpointedBPTT(), ga.RTRL(), ga.Hybrid()]
)
def test_float32_works_and_dtypes_are_preserved(alg):
    cell = ga.cells.Elman(input_size=3, hidden_size=4, output_size=2)
    params, state0, xs, targets = make_data(cell, jax.random.key(2), dtype=jnp.float32)
    loss, grads, state_T = ga.value_and_grad(alg, cell, params, state0, xs, targets)
    assert loss.dtype == jnp.float32
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads))
    assert state_T.dtype == jnp.float32
    params64 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    _, ref, _ = ga.value_and_grad(  # the same algorithm in float64
        alg,
        cell,
        params64,
        state0.astype(jnp.float64),
        xs.astype(jnp.float64),
        targets.astype(jnp.float64),
    )
    assert max_rel_error(grads, ref) <= 1e-5
