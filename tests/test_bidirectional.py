"""Bidirectional RNN (Schuster & Paliwal 1997): gradients against ``jax.grad`` of an unrolled
two-direction loop written here, the online methods' refusal, and bad constructions.

The reference runs the forward cell's ``step`` for t = 0 … T-1 and the backward cell's for
t = T-1 … 0 in Python loops, combines the outputs by hand and sums the masked losses; for
TBPTT(k) it cuts each direction's state gradient every k steps of that direction's own time.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.algorithms import registry
from gradalgos.cells import GRU, Bidirectional, Elman
from gradalgos.losses import cross_entropy
from gradalgos.training.evaluate import predict

B, T, M = 3, 4, 2
FORWARD, BACKWARD = Elman(M, 3, 2), GRU(M, 4, 3)  # different cells and sizes: swaps show


def network(combine: str) -> Bidirectional:
    if combine == "sum":
        return Bidirectional(FORWARD, GRU(M, 4, 2), combine="sum")
    size = 2 if combine == "readout" else None
    return Bidirectional(FORWARD, BACKWARD, combine=combine, output_size=size)


def combined(cell: Bidirectional, params, y_f, y_b):
    """The output layer, written from the equations."""
    if cell.combine == "sum":
        return y_f + y_b
    both = jnp.concatenate([y_f, y_b])
    if cell.combine == "concat":
        return both
    return params["readout"]["W_out"] @ both + params["readout"]["b_out"]


def reference_outputs(cell, params, s0, x, cuts):
    """One sequence ``x (T, m)`` → ``(ys (T, o), s_T)``, unrolled in Python over time; where
    ``cuts[r]`` (``(T,)`` bools) each direction's state entering its own step r is a constant
    (``stop_gradient``)."""
    s_f, s_b, y_f, y_b = s0["forward"], s0["backward"], [None] * T, [None] * T
    for r in range(T):  # r: the step number in each direction's own time
        s_f, s_b = jax.tree_util.tree_map(
            lambda s, cut=cuts[r]: jnp.where(cut, jax.lax.stop_gradient(s), s), (s_f, s_b)
        )
        s_f, y_f[r] = cell.forward_cell.step(params["forward"], s_f, x[r])
        t = T - 1 - r
        s_b, y_b[t] = cell.backward_cell.step(params["backward"], s_b, x[t])
    ys = jnp.stack([combined(cell, params, y_f[t], y_b[t]) for t in range(T)])
    return ys, {"forward": s_f, "backward": s_b}


def reference(cell, params, state0, xs, targets, mask, loss, cuts):
    """``(L, s_T)``: mean over the batch of Σ_t mask_t ℓ(y_t, target_t)."""

    def one(s0, x, target, m):
        ys, final = reference_outputs(cell, params, s0, x, cuts)
        return sum(m[t] * loss(ys[t], target[t]) for t in range(T)), final

    totals, finals = jax.vmap(one)(state0, xs, targets, mask)
    return jnp.mean(totals), finals


@functools.lru_cache
def reference_grad(cell, loss):
    """Jitted ``((L, s_T), ∂L/∂θ)`` of :func:`reference`, arguments ``(params, state0, xs,
    targets, mask, cuts)`` (one compilation per cell and loss)."""
    fn = lambda p, s0, x, t, m, c: reference(cell, p, s0, x, t, m, loss, c)  # noqa: E731
    return jax.jit(jax.value_and_grad(fn, has_aux=True))


NO_CUTS = np.zeros(T, bool)


@functools.lru_cache
def initial_params(cell):
    return jax.jit(cell.init)(jax.random.key(7))


@functools.lru_cache
def data(cell, labels: bool = False):
    """Params (one compiled ``init``), a batched initial state, inputs, targets and a 0/1 mask
    (NumPy draws: eager JAX ops would compile one by one)."""
    rng = np.random.default_rng(7)
    params = initial_params(cell)
    state0 = jax.tree_util.tree_map(
        lambda s: 0.5 * rng.standard_normal((B, *s.shape)), cell.initial_state()
    )
    xs = rng.standard_normal((B, T, M))
    if labels:
        targets = rng.integers(0, cell.output_size, (B, T))
    else:
        targets = rng.standard_normal((B, T, cell.output_size))
    mask = (rng.random((B, T)) < 0.7).astype(float)
    return params, state0, xs, targets, mask


def assert_close(a, b, rtol=1e-10):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-12)


#: One compiled reference (per cell and loss), shared with the TBPTT test. The other
#: combines' outputs are checked in the predict test (the gradient path is the same).
CASES = [
    ("readout", ga.BPTT(), cross_entropy),
    ("readout", ga.CheckpointedBPTT(segment=3), cross_entropy),  # 3 ∤ T: a partial segment
]


@pytest.mark.parametrize(("combine", "algorithm", "loss"), CASES)
def test_gradient_equals_unrolled_two_direction_loop(combine, algorithm, loss):
    cell = network(combine)
    params, state0, xs, targets, mask = data(cell, labels=loss is cross_entropy)
    value, grads, state_T = ga.value_and_grad(
        algorithm, cell, params, state0, xs, targets, loss=loss, mask=mask
    )
    ref = reference_grad(cell, loss)
    (want, want_T), want_grads = ref(params, state0, xs, targets, mask, NO_CUTS)
    assert set(grads) == set(params)
    assert_close(value, want)
    assert_close(grads, want_grads)
    assert_close(state_T, want_T)


def test_tbptt_truncates_each_direction_in_its_own_time():
    """TBPTT(2) on T = 4: each direction's state is a constant every 2 of its own steps (for
    the backward cell, counted from t = T); the loss and readout gradient stay exact."""
    cell = network("readout")
    params, state0, xs, targets, mask = data(cell, labels=True)
    value, grads, _ = ga.value_and_grad(
        ga.TBPTT(2), cell, params, state0, xs, targets, loss=cross_entropy, mask=mask
    )
    ref = reference_grad(cell, cross_entropy)  # the one of the BPTT case: compiled once
    cuts = np.arange(T) % 2 == 0
    cuts[0] = False
    (want, _), want_grads = ref(params, state0, xs, targets, mask, cuts)
    assert_close(value, want)
    assert_close(grads, want_grads)
    _, exact = ref(params, state0, xs, targets, mask, NO_CUTS)
    for side, name in (("forward", "W_rec"), ("backward", "W_h")):
        diff = jnp.abs(grads[side][name] - exact[side][name]).max()
        assert diff > 1e-4  # the truncation is visible, so the comparison above means something


def test_outputs_and_predict_equal_the_loop_for_sum_and_concat():
    """``cell.outputs`` and the trainer's ``predict`` equal the unrolled loop's outputs for
    ``combine="sum"`` and ``"concat"``; the first output depends on the last input."""
    nets = (network("sum"), network("concat"))
    params = tuple(initial_params(cell) for cell in nets)
    xs = data(nets[0])[2]

    @jax.jit
    def run(params, xs):
        out = []
        for cell, p in zip(nets, params, strict=True):
            s0 = cell.initial_state()
            want = jax.vmap(lambda x, p=p, c=cell, s=s0: reference_outputs(c, p, s, x, NO_CUTS))
            out.append((predict(cell, p, xs), cell.outputs(p, s0, xs[0])[1], want(xs)[0]))
        return out

    results = run(params, xs)
    for (ys, ys_0, want), o in zip(results, (2, 5), strict=True):
        assert ys.shape == (B, T, o)
        assert_close(ys, want)
        assert_close(ys_0, want[0])
    changed = xs.copy()
    changed[0, -1] += 1.0
    ys_changed = run(params, changed)[0][0]
    assert np.abs(ys_changed[0, 0] - results[0][0][0, 0]).max() > 1e-3


@pytest.mark.parametrize("name", registry.names(online=True))
def test_every_online_method_refuses_a_bidirectional_network(name):
    cell = network("readout")
    params, state0, xs, targets, _ = data(cell)
    algorithm = registry.make(name)
    pattern = rf"{type(algorithm).__name__}.*Bidirectional.*cannot be run forward in time only"
    with pytest.raises(ValueError, match=pattern):
        ga.value_and_grad(algorithm, cell, params, state0, xs, targets, key=jax.random.key(0))
    with pytest.raises(ValueError, match=pattern):
        algorithm.init(cell, params, cell.initial_state(), key=jax.random.key(0))


def test_step_and_auto_refuse_with_a_clear_error():
    cell = network("readout")
    params, state0, xs, targets, _ = data(cell)
    with pytest.raises(TypeError, match=r"no forward time step.*cannot be run forward in time"):
        cell.step(params, cell.initial_state(), xs[0, 0])
    with pytest.raises(ValueError, match=r"Auto.*Bidirectional"):
        ga.value_and_grad(ga.Auto(memory_budget=10**9), cell, params, state0, xs, targets)


BAD = {
    "input sizes": (lambda: Bidirectional(Elman(2, 3, 2), Elman(3, 3, 2)), ValueError,
                    r"forward_cell.input_size=2 must equal backward_cell.input_size=3"),
    "not a cell": (lambda: Bidirectional(Elman(2, 3, 2), "gru"), TypeError, "backward_cell"),
    "nested": (lambda: Bidirectional(network("sum"), Elman(2, 3, 2)), TypeError,
               "forward_cell must be a cell with a forward step"),
    "combine": (lambda: Bidirectional(FORWARD, BACKWARD, combine="mean"), ValueError,
                "combine must be one of"),
    "sum sizes": (lambda: Bidirectional(FORWARD, BACKWARD), ValueError,
                  "forward_cell.output_size=2 must equal backward_cell.output_size=3"),
    "readout size": (lambda: Bidirectional(FORWARD, BACKWARD, combine="readout"), ValueError,
                     "output_size is required"),
    "readout zero": (lambda: Bidirectional(FORWARD, BACKWARD, combine="readout", output_size=0),
                     ValueError, "output_size"),
    "concat size": (lambda: Bidirectional(FORWARD, BACKWARD, combine="concat", output_size=4),
                    ValueError, "output_size=4 does not match combine='concat'.*5"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_construction_is_refused(case):
    build, error, pattern = BAD[case]
    with pytest.raises(error, match=pattern):
        build()


def test_bad_inputs_are_refused_before_compilation():
    cell = network("readout")
    params, state0, xs, targets, _ = data(cell)
    with pytest.raises(ValueError, match=r"xs must have input_size=2"):
        ga.value_and_grad(ga.BPTT(), cell, params, state0, xs[..., :1], targets)
    with pytest.raises(ValueError, match=r"params .*missing 'readout'"):
        ga.value_and_grad(ga.BPTT(), cell, {k: params[k] for k in ("forward", "backward")},
                          state0, xs, targets)  # fmt: skip
    with pytest.raises(ValueError, match=r"state0\['backward'\]"):
        bad = {"forward": state0["forward"], "backward": state0["backward"][:, :2]}
        ga.value_and_grad(ga.BPTT(), cell, params, bad, xs, targets)


def test_middle_label_task():
    """Every step's label is the symbol at t = T // 2, flagged by the marker channel; the causal
    ceiling is chance before the middle and 1 from it on."""
    task = ga.tasks.MiddleLabel(length=7, symbols=3)
    xs, targets, mask = jax.jit(task.sample, static_argnums=1)(jax.random.key(0), 50)
    xs, targets = np.asarray(xs), np.asarray(targets)
    assert xs.shape == (50, 7, 4) and targets.shape == (50, 7) and float(mask.min()) == 1.0
    np.testing.assert_array_equal(xs[..., 3], np.eye(7)[3][None].repeat(50, 0))
    np.testing.assert_array_equal(xs[..., :3].sum(-1), 1.0)
    symbols = xs[..., :3].argmax(-1)
    np.testing.assert_array_equal(targets, symbols[:, 3:4].repeat(7, 1))
    assert task.causal_ceiling == pytest.approx((3 / 3 + 4) / 7)
    with pytest.raises(ValueError, match="symbols must be >= 2"):
        ga.tasks.MiddleLabel(symbols=1)
    with pytest.raises(TypeError, match="length"):
        ga.tasks.MiddleLabel(length=2.0)
