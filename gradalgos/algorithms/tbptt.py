"""Truncated back-propagation through time, TBPTT(k1, k2) (Williams & Peng 1990)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.sequence import Loss, scan_loss
from gradalgos.cells.base import AbstractCell, Params, State, check_positive_int
from gradalgos.cells.sequence_cell import AbstractSequenceCell

__all__ = ["TBPTT"]


def _pad_time(a: jax.Array, front: int) -> jax.Array:
    """Pad axis 1 (time) of a batched array at the front with copies of its first step (not
    zeros: a padded step's loss is masked out, and a loss such as |y − t|/|t| that is undefined
    at a zero target would turn 0 · inf into NaN)."""
    widths = [(0, 0)] * a.ndim
    widths[1] = (front, 0)
    return jnp.pad(a, widths, mode="edge")


@dataclasses.dataclass(frozen=True)
class TBPTT(AbstractAlgorithm):
    """Truncated BPTT: every ``k1`` steps, the losses of those ``k1`` steps are
    back-propagated through the last ``k2`` steps; the state entering that window of ``k2``
    steps is a constant (``stop_gradient``). The returned gradient is the sum over all windows.

    Biased unless ``k2 ≥ T``, where it equals BPTT. ``TBPTT(k)`` is TBPTT(k, k), the common
    "chunk and detach". Time O(cost(step)·k2/k1) per step (O(n²·k2/k1) fully connected);
    memory O(k2·S), plus one copy of the inputs padded with k2 − k1 steps (O(T·(m + o)), as
    the inputs themselves). The loss value is exact (the forward pass is not truncated). A
    ``k2`` beyond T is capped at T, which gives the same gradient.

    Arguments:
        k1: steps between two truncated backward passes (≥ 1).
        k2: length of each backward pass (≥ k1); default ``k1``.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "tbptt",
        "TBPTT",
        exact=False,
        online=False,
        stochastic=False,
        time_exponent=2,
        memory_exponent=None,
        memory_vs_T=0,
        reference="Williams & Peng 1990",
    )

    k1: int
    k2: int | None = None
    exact = False

    def __post_init__(self) -> None:
        check_positive_int("k1", self.k1)
        if self.k2 is not None:
            check_positive_int("k2", self.k2)
            if self.k2 < self.k1:
                raise ValueError(
                    f"k2 must be >= k1 (each window back-propagates its k1 losses through k2 "
                    f"steps), got k1={self.k1}, k2={self.k2}"
                )

    @property
    def window(self) -> int:
        """k2, the length of each backward pass."""
        return self.k1 if self.k2 is None else self.k2

    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
    ) -> tuple[jax.Array, Params, State]:
        if isinstance(cell, AbstractSequenceCell):  # e.g. a bidirectional network
            return cell.value_and_grad_by(self, params, state0, xs, targets, mask, loss)
        T = xs.shape[1]
        # A window longer than T reaches back before t = 0 only through inactive padding:
        # k2 = T gives the same gradient at a cost that does not grow with the requested k2.
        k1, k2 = self.k1, min(self.window, T)
        history = max(0, k2 - k1)  # steps before a chunk that its window also runs through
        n_full, rem = divmod(T, k1)  # full chunks, then a last chunk of rem steps (if any)
        # Front padding with `history` inactive steps gives every window the same length k2;
        # an inactive step leaves the state unchanged and carries no loss.
        xf, tf, mf = (_pad_time(a, history) for a in (xs, targets, mask))
        af = jnp.arange(T + history) >= history

        def window_grad(s_start, x, t, m, a, n_loss):
            """Gradient of the last ``n_loss`` steps' losses, back-propagated through the
            window (x: (B, w, ...)); the state entering it is a constant."""
            w = x.shape[1]
            m = m * (jnp.arange(w) >= w - n_loss).astype(m.dtype)

            def window_loss(params):
                totals, s_end, states = jax.vmap(
                    lambda s0, xb, tb, mb: scan_loss(
                        cell, loss, params, s0, xb, tb, mb, active=a, return_states=True
                    )
                )(jax.lax.stop_gradient(s_start), x, t, m)
                return jnp.mean(totals), (s_end, states)

            return jax.value_and_grad(window_loss, has_aux=True)(params)

        def body(carry, c):
            s_start, _, grads, total, _ = carry
            lo = c * k1
            x, t, m = (jax.lax.dynamic_slice_in_dim(a, lo, k2, axis=1) for a in (xf, tf, mf))
            a = jax.lax.dynamic_slice_in_dim(af, lo, k2)
            (value, (s_end, states)), g = window_grad(s_start, x, t, m, a, k1)
            # The next window starts k1 steps into this one; the last (partial) chunk's
            # window starts rem steps into the last full one.
            next_start = jax.tree_util.tree_map(lambda s: s[:, k1 - 1], states)
            tail_start = jax.tree_util.tree_map(lambda s: s[:, max(rem, 1) - 1], states)
            grads = jax.tree_util.tree_map(jnp.add, grads, g)
            return (next_start, s_end, grads, total + value, tail_start), None

        zero_grads = jax.tree_util.tree_map(jnp.zeros_like, params)
        carry = (state0, state0, zero_grads, jnp.zeros((), mask.dtype), state0)
        if n_full:
            carry, _ = jax.lax.scan(body, carry, jnp.arange(n_full))
        _, state_T, grads, total, tail_start = carry
        if rem:
            lo = max(0, T - k1)
            x, t, m = (a[:, lo : T + history] for a in (xf, tf, mf))
            (value, (state_T, _)), g = window_grad(tail_start, x, t, m, af[lo : T + history], rem)
            grads = jax.tree_util.tree_map(jnp.add, grads, g)
            total = total + value
        return total, grads, state_T
