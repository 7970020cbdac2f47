"""TBPTT(k1, k2) on every cell against a window-by-window reference written from its definition.

The documented definition (:class:`gradalgos.TBPTT`): every ``k1`` steps, the losses of those
``k1`` steps are back-propagated through the last ``k2`` steps, and the state entering that
window is a constant; the gradient is the sum over all windows (a last, shorter chunk when
``k1`` does not divide T: its losses back-propagated through the ``k2`` steps ending at T), the
batch mean of the per-sequence sums. The loss value and the final state are those of the
untruncated forward pass. ``k2 < k1`` is refused (tests/test_validation.py), so k2 ≥ k1 here.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CELL_CASES
from test_algorithms import make_data, max_rel_error, unrolled_loss

import gradalgos as ga

T, B = 7, 2  # T is prime: no k1 > 1 divides it, so every setting but k1 = 1 ends on a
# partial chunk.

#: (k1, k2) with k2 > k1 and a partial last chunk of 1 step (2, 5), (3, 4), (2, 3) or 3 steps
#: (4, 6): one of them on each cell (a compilation each: the cost of this file).
GENERAL = [(2, 5), (3, 4), (4, 6), (2, 3)]
#: On the Elman cell also: chunk and detach (k2 = k1), and an update at every step reaching
#: back before the first update (1, 3). (k2 ≥ T, where TBPTT is BPTT, is checked on every cell
#: in test_algorithms.py.)
SPECIAL = [(2, 2), (1, 3)]
CASES = [(name, *GENERAL[i % len(GENERAL)]) for i, name in enumerate(sorted(CELL_CASES))] + [
    ("elman-tanh", k1, k2) for k1, k2 in SPECIAL
]


def update_times(steps: int, k1: int) -> list[int]:
    """The ends (exclusive) of the chunks: k1, 2·k1, …, and T if k1 does not divide T."""
    ends = list(range(k1, steps + 1, k1))
    if not ends or ends[-1] != steps:
        ends.append(steps)
    return ends


def reference(cell, params, state0, xs, targets, mask, k1, k2, loss=ga.losses.mse):
    """``(L, TBPTT gradient, s_T)`` by Python loops over the batch, the chunks and the steps.

    For sequence b and the chunk of steps ``[prev, end)``: the window is ``[max(0, end − k2),
    end)``, its initial state the forward pass's state there as a constant (a NumPy array:
    no path back to the parameters), and the window's contribution is ``jax.grad`` of
    ``Σ_{t ∈ [prev, end)} mask_t·ℓ_t`` over the window run from that state.
    """
    total = 0.0
    grads = jax.tree_util.tree_map(jnp.zeros_like, params)
    finals = []
    for b in range(xs.shape[0]):
        x, d, m = xs[b], targets[b], mask[b]
        states = [jax.tree_util.tree_map(lambda s, b=b: np.asarray(s[b]), state0)]
        for t in range(x.shape[0]):
            state, y = cell.step(params, states[-1], x[t])
            states.append(jax.tree_util.tree_map(np.asarray, state))
            total = total + m[t] * loss(y, d[t])
        finals.append(states[-1])
        prev = 0
        for end in update_times(x.shape[0], k1):
            start = max(0, end - k2)

            def window(p, start=start, prev=prev, end=end, x=x, d=d, m=m, states=states):
                s, value = states[start], 0.0
                for t in range(start, end):
                    s, y = cell.step(p, s, x[t])
                    if t >= prev:
                        value = value + m[t] * loss(y, d[t])
                return value

            grads = jax.tree_util.tree_map(jnp.add, grads, jax.grad(window)(params))
            prev = end
    n = xs.shape[0]
    state_T = jax.tree_util.tree_map(lambda *s: jnp.stack(s), *finals)
    return total / n, jax.tree_util.tree_map(lambda g: g / n, grads), state_T


@functools.cache
def problem(name):
    """Cell ``name``, its parameters, a per-sequence initial state, inputs, targets and a
    mask ``(B, T)`` with masked steps."""
    cell = CELL_CASES[name]()
    params, state0, xs, targets = make_data(cell, jax.random.key(13), batch=B, steps=T)
    mask = np.random.default_rng(3).random((B, T)) > 0.3
    mask[:, -1] = True  # the partial last chunk's losses count
    mask[0, 1] = False  # a masked step inside the first window
    return cell, params, state0, xs, targets, jnp.asarray(mask, jnp.float64)


@pytest.mark.parametrize(("name", "k1", "k2"), CASES)
def test_tbptt_matches_window_by_window_reference(name, k1, k2):
    cell, params, state0, xs, targets, mask = problem(name)
    want_loss, want_grads, want_state = reference(cell, params, state0, xs, targets, mask, k1, k2)
    loss, grads, state_T = ga.value_and_grad(
        ga.TBPTT(k1, k2), cell, params, state0, xs, targets, mask=mask
    )
    assert abs(float(loss - want_loss)) <= 1e-12 * max(1.0, abs(float(want_loss)))
    assert max_rel_error(grads, want_grads) <= 1e-10
    assert max_rel_error(state_T, want_state) <= 1e-12


def test_reference_is_not_the_full_gradient():
    """The reference with k2 < T is a different gradient from the full one (else the test
    above could not tell TBPTT from BPTT); with k2 ≥ T it is the full one, ``jax.grad`` of
    the unrolled loss."""
    cell, params, state0, xs, targets, mask = problem("elman-tanh")
    full = jax.grad(lambda p: unrolled_loss(cell, p, state0, xs, targets, mask)[0])(params)
    _, truncated, _ = reference(cell, params, state0, xs, targets, mask, 2, 3)
    _, untruncated, _ = reference(cell, params, state0, xs, targets, mask, 3, T)
    assert max_rel_error(truncated, full) > 1e-4
    assert max_rel_error(untruncated, full) <= 1e-12
