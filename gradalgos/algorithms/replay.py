"""TBPTT(k) with replay: every step, back-propagate through the last k inputs re-run under the
current weights (an online truncated BPTT; Williams & Peng 1990; Marschall et al. 2020)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State, check_positive_int

__all__ = ["ReplayState", "ReplayTBPTT"]


class ReplayState(NamedTuple):
    """Carry of :class:`ReplayTBPTT`.

    Attributes:
        state: s_{t-1}, as last replayed (under the latest weights).
        start: s_{t-k}, the state entering the next window (a constant for the gradient).
        inputs: ``(k - 1, m)``: x_{t-k+1}, …, x_{t-1} (the oldest first).
        filled: ``()`` int32: how many of ``inputs`` are real (fewer than k − 1 early on).
    """

    state: State
    start: State
    inputs: jax.Array
    filled: jax.Array


@dataclasses.dataclass(frozen=True)
class ReplayTBPTT(AbstractOnlineAlgorithm):
    """Online TBPTT(k) that replays the last k inputs under the current weights θ_t:

        s_{t-k+1..t} = run(θ_t, s_{t-k}, x_{t-k+1..t}),    g_t = ∂(mask_t ℓ_t)/∂θ_t

    back-propagated through those k steps, s_{t-k} a constant (the state the previous replay
    left there). The window's states become the network's (the replay *is* the forward pass),
    so the weights may change after every step. ``k = 1`` is the immediate method; for
    t < k the window starts at s_0. Biased (truncated at k). Time O(k·cost(step)) per step
    (forward and backward over k steps: O(k·n²) fully connected); memory O(k·(m + S)).

    Arguments:
        k: steps back-propagated through (≥ 1).
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "tbptt-replay",
        "TBPTT replay",
        exact=False,
        online=True,
        stochastic=False,
        time_exponent=2,
        memory_exponent=1,
        memory_vs_T=0,
        reference="Williams & Peng 1990; Marschall et al. 2020",
    )
    carry_type: ClassVar[type] = ReplayState

    k: int = 8

    def __post_init__(self) -> None:
        check_positive_int("k", self.k)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> ReplayState:
        dtype = jax.tree_util.tree_leaves(state)[0].dtype
        inputs = jnp.zeros((self.k - 1, cell.input_size), dtype)
        return ReplayState(state, state, inputs, jnp.zeros((), jnp.int32))

    def check_carry(self, cell: AbstractCell, params: Params, carry: ReplayState) -> None:
        want = (self.k - 1, cell.input_size)
        if carry.inputs.shape != want:
            raise ValueError(f"carry.inputs must have shape {want}, got {carry.inputs.shape}")

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: ReplayState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[ReplayState, jax.Array, Params]:
        window = jnp.concatenate([carry.inputs, xs[None].astype(carry.inputs.dtype)])
        active = jnp.arange(self.k) >= self.k - 1 - carry.filled  # the last step always

        def window_loss(p: Params):
            def body(s, inp):
                x, a = inp
                s_new, y = cell.step(p, s, x)
                s_new = jax.tree_util.tree_map(lambda new, old: jnp.where(a, new, old), s_new, s)
                return s_new, (s_new, y)

            start = jax.lax.stop_gradient(carry.start)
            _, (states, ys) = jax.lax.scan(body, start, (window, active))
            return mask * loss(ys[-1], targets), states

        (value, states), grads = jax.value_and_grad(window_loss, has_aux=True)(params)
        first, last = (jax.tree_util.tree_map(lambda s, i=i: s[i], states) for i in (0, -1))
        # An inactive first step left the start in place: `first` is s_{t-k+1} or s_0.
        new = ReplayState(last, first, window[1:], jnp.minimum(carry.filled + 1, self.k - 1))
        return new, value, grads
