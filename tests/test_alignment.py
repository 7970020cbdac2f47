"""ga.alignment: per-step cosines against exact RTRL, against references written here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga

T, M, N, O = 6, 3, 5, 2
STATE_KEYS = ("W_in", "W_rec", "b")  # the Elman parameters the state depends on


def _data(cell, seed=0):
    k = jax.random.split(jax.random.key(seed), 3)
    params = cell.init(k[0])
    xs = jax.random.normal(k[1], (T, cell.input_size))
    targets = jax.random.normal(k[2], (T, cell.output_size))
    return params, cell.initial_state(), xs, targets


ELMAN = ga.cells.Elman(input_size=M, hidden_size=N, output_size=O)


def _flat(g: dict) -> np.ndarray:
    return np.concatenate([np.asarray(g[k]).ravel() for k in STATE_KEYS])


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _exact_steps(params, xs, targets) -> np.ndarray:
    """g*_t = d ℓ_t / dθ by jax.grad of the unrolled loop up to t (no library algorithm)."""

    def loss_t(p, t):
        h = jnp.zeros(N)
        for s in range(t + 1):
            h = jnp.tanh(p["W_in"] @ xs[s] + p["W_rec"] @ h + p["b"])
        y = p["W_out"] @ h + p["b_out"]
        return jnp.mean((y - targets[t]) ** 2)

    return np.stack([_flat(jax.grad(loss_t)(params, t)) for t in range(T)])


def _immediate_steps(params, xs, targets) -> np.ndarray:
    """The immediate method's g_t = q_t·J^θ_t, transcribed in NumPy: δ = (W_outᵀ dℓ/dy) ⊙
    (1 − h_t²), g[W_rec] = δ h_{t-1}ᵀ, g[W_in] = δ x_tᵀ, g[b] = δ."""
    p = {k: np.asarray(v) for k, v in params.items()}
    h, out = np.zeros(N), []
    for t in range(T):
        x = np.asarray(xs[t])
        h_new = np.tanh(p["W_in"] @ x + p["W_rec"] @ h + p["b"])
        dy = 2 * (p["W_out"] @ h_new + p["b_out"] - np.asarray(targets[t])) / O
        delta = (p["W_out"].T @ dy) * (1 - h_new**2)
        out.append(_flat({"W_in": np.outer(delta, x), "W_rec": np.outer(delta, h), "b": delta}))
        h = h_new
    return np.stack(out)


def test_rtrl_against_itself_is_exact_at_every_step():
    params, s0, xs, targets = _data(ELMAN)
    a = ga.alignment([ga.RTRL()], ELMAN, params, s0, xs, targets)
    np.testing.assert_allclose(a.cosine, 1, atol=1e-10)
    np.testing.assert_allclose(a.relative_norm, 1, atol=1e-10)
    np.testing.assert_allclose(a.summed_cosine, 1, atol=1e-10)
    # the reference's norms are those of jax.grad of the unrolled loop
    np.testing.assert_allclose(
        a.exact_norm, np.linalg.norm(_exact_steps(params, xs, targets), axis=1), rtol=1e-10
    )


def test_snap1_is_exact_on_one_layer_indrnn():
    cell = ga.cells.IndRNN(input_size=M, hidden_size=N, output_size=O, activation="tanh")
    params, s0, xs, targets = _data(cell, 1)
    a = ga.alignment([ga.SnAp(1)], cell, params, s0, xs, targets, reference="bptt")
    np.testing.assert_allclose(a.cosine, 1, atol=1e-10)
    np.testing.assert_allclose(a.relative_norm, 1, atol=1e-10)
    np.testing.assert_allclose(a.summed_cosine, 1, atol=1e-10)


def test_immediate_matches_numpy_transcription_step_by_step():
    params, s0, xs, targets = _data(ELMAN, 2)
    exact = _exact_steps(params, xs, targets)
    imm = _immediate_steps(params, xs, targets)
    a = ga.alignment([ga.Immediate(), ga.RTRL()], ELMAN, params, s0, xs, targets, pairwise=True)
    want_cos = [_cos(g, e) for g, e in zip(imm, exact, strict=True)]
    want_rel = np.linalg.norm(imm, axis=1) / np.linalg.norm(exact, axis=1)
    np.testing.assert_allclose(a.cosine[0, 0], want_cos, rtol=1e-10)
    np.testing.assert_allclose(a.relative_norm[0, 0], want_rel, rtol=1e-10)
    assert abs(a.cosine[0, 0, 0] - 1) < 1e-10  # at t = 0 there is no past: M_0 = J^θ_0
    assert np.all(np.asarray(a.cosine[0, 0, 1:]) < 1 - 1e-6)  # afterwards it is biased
    # summed gradient against jax.grad of the whole unrolled loss
    np.testing.assert_allclose(a.summed_cosine[0, 0], _cos(imm.sum(0), exact.sum(0)), rtol=1e-10)
    np.testing.assert_allclose(a.pairwise[0, 1], np.mean(want_cos), rtol=1e-10)
    np.testing.assert_allclose(np.diag(a.pairwise), 1, atol=1e-12)


def test_bptt_reference_equals_rtrl_reference():
    params, s0, xs, targets = _data(ELMAN, 3)
    a = ga.alignment([ga.SnAp(1)], ELMAN, params, s0, xs, targets, reference="rtrl")
    b = ga.alignment([ga.SnAp(1)], ELMAN, params, s0, xs, targets, reference="bptt")
    np.testing.assert_allclose(a.cosine, b.cosine, atol=1e-12)
    np.testing.assert_allclose(a.exact_norm, b.exact_norm, rtol=1e-12)


def test_shapes_and_uoro_variance_over_keys():
    params, s0, xs, targets = _data(ELMAN, 4)
    key, K = jax.random.key(7), 3
    a = ga.alignment([ga.UORO(), ga.SnAp(1)], ELMAN, params, s0, xs, targets, key=key, samples=K)
    assert a.methods == ("UORO()", "SnAp(order=1)")
    assert a.cosine.shape == a.relative_norm.shape == (2, K, T)
    assert a.summed_cosine.shape == (2, K) and a.variance.shape == (2, T)
    assert a.exact_norm.shape == (T,) and a.pairwise is None
    assert np.all(np.isnan(a.variance[1]))  # SnAp takes no key
    assert np.all(a.cosine[1] == a.cosine[1, :1])  # its one run repeated over K
    # UORO's variance over keys from its own online step, key by key (jax.random.split(key, K))
    exact = _exact_steps(params, xs, targets)
    runs = []
    for k in jax.random.split(key, K):
        carry, gs = ga.UORO().init(ELMAN, params, s0, key=k), []
        for t in range(T):
            carry, _, g = ga.UORO().step(ELMAN, params, carry, xs[t], targets[t])
            gs.append(_flat(g))
        runs.append(np.stack(gs))
    runs = np.stack(runs)  # (K, T, P)
    want = runs.var(axis=0, ddof=1).sum(-1) / (exact**2).sum(-1)
    np.testing.assert_allclose(a.variance[0], want, rtol=1e-9)
    np.testing.assert_allclose(
        a.cosine[0, 2], [_cos(g, e) for g, e in zip(runs[2], exact, strict=True)], rtol=1e-9
    )
    assert np.all(want > 0)


@pytest.mark.parametrize(
    ("methods", "kwargs", "error", "match"),
    [
        ([ga.BPTT()], {}, ValueError, "not an online method"),
        ([ga.Hybrid(block=2)], {}, ValueError, "blocks"),
        ([ga.UORO()], {}, ValueError, "key"),
        ([], {}, TypeError, "non-empty"),
        ("rtrl", {}, TypeError, "methods"),
        ([ga.SnAp()], {"samples": 0}, ValueError, "samples"),
        ([ga.SnAp()], {"reference": "exact"}, ValueError, "reference"),
        ([ga.SnAp()], {"parameters": "some"}, ValueError, "parameters"),
        ([ga.SnAp()], {"batched": True}, ValueError, "one sequence"),
        ([ga.KFRTRL()], {"cell": "lstm", "key": jax.random.key(0)}, ValueError, "KFRTRL"),
    ],
)
def test_bad_inputs_are_named(methods, kwargs, error, match):
    cell = ELMAN
    if kwargs.pop("cell", None) == "lstm":
        cell = ga.cells.LSTM(input_size=M, hidden_size=N, output_size=O)
    params, s0, xs, targets = _data(cell)
    if kwargs.pop("batched", False):
        xs, targets = xs[None], targets[None]
    with pytest.raises(error, match=match):
        ga.alignment(methods, cell, params, s0, xs, targets, **kwargs)
