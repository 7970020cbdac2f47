"""Causal recursive backpropagation (CRBP) for IIR-MLPs (Campolucci, Uncini, Piazza & Rao 1999).

Notation of :class:`gradalgos.cells.IIRMLP`: layers l = 1 … M, synapse n←m of layer l with
output y_nm(t), neuron pre-activation s_n(t), output x_n(t) = σ_l(s_n(t)); J = Σ_t mask_t ℓ_t.

**Exact gradient (RBP).** No neuron feeds back on another, so with δ^l_n(t) = ∂J/∂s^l_n(t)::

    ∂J/∂w_nm(p) = Σ_t δ_n(t) β_p(t),   β_p(t) = ∂y_nm(t)/∂w_nm(p) = x_m(t−p) + Σ_r v(r) β_p(t−r)
    ∂J/∂v_nm(q) = Σ_t δ_n(t) α_q(t),   α_q(t) = ∂y_nm(t)/∂v_nm(q) = y_nm(t−q) + Σ_r v(r) α_q(t−r)
    ∂J/∂b_n = Σ_t δ_n(t)

(β, α: each synapse's own exact RTRL, element-wise). δ^M(t) = mask_t ∂ℓ_t/∂x^M(t) σ'_M(s^M(t))
is instantaneous; below, x^l_m(t) reaches y^{l+1}_nm(t+k) through the impulse response
h_nm(k) = w_nm(k)[k ≤ L] + Σ_r v_nm(r) h_nm(k−r) of its synapse, so the error is an anticausal
filtering of *future* deltas::

    δ^l_m(t) = σ'_l(s^l_m(t)) Σ_n Σ_{k≥0} h^{l+1}_nm(k) δ^{l+1}_n(t+k)

**CRBP** truncates that sum at k ≤ Q_l and, to stay causal, computes δ^l at time t − D_l with
D_M = 0, D_l = D_{l+1} + Q_l: at step t each layer receives the update
δ^l(t − D_l) ⊗ β^l(t − D_l) (and α, and δ for b), so each layer's update is delayed by D_l steps.
Q = 0 everywhere is Back & Tsoi's algorithm (1991: instantaneous deltas through w(0));
FIR synapses (I = 0) with Q_l ≥ L give Wan's temporal backpropagation (exact); Q_l ≥ T − 1
gives the exact gradient. ``depth[l]`` here is the paper's Q_{l+1} (indexed by the layer whose
deltas are filtered, D_l = Σ_{i>l} Q_i there).

**Gradient convention.** Step t's gradient g_t is the update CRBP applies at t (the delayed
δ ⊗ β above, computed from the carry after step t, as in APPROX.md); its value is
mask_t·ℓ_t. The output layer's part is exact RTRL (q_t·M_t). ``value_and_grad`` adds the
pending updates of the last D_1 steps at the end of the sequence (future deltas past T are 0),
so only the truncation separates it from the exact gradient; the online ``step`` never
flushes (the pending updates arrive in later steps).

Cost per step: O(Σ_l P_l (I + 1) + Q_l N_l N_{l-1} I) time (impulse responses recomputed from
the current weights), memory O(Σ_l max(I, D_l + 1) P_l) (the traces are kept D_l steps).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.online import AbstractOnlineAlgorithm, batch_mean, scan_steps
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.iir_mlp import IIRMLP

__all__ = ["CRBP", "CRBPState"]


class CRBPState(NamedTuple):
    """Carry of :class:`CRBP`; per layer l (tuples, index 0 = the first layer), newest first.

    ``traces[l]``: ``{"w": (H_l, L+1, N_l, N_{l-1}), "v": (H_l, I, N_l, N_{l-1})}`` = β, α at
    t, t−1, …, H_l = max(I, D_l + 1). ``slopes[l]``: σ'_l(s^l(t−j)) ``(D_l + 1, N_l)``.
    ``deltas[l]`` (l ≥ 1; ``None`` for l = 0): δ^l(t − D_l − j), j = 0 … Q_{l−1} ``(Q + 1, N_l)``.
    """

    state: State
    traces: tuple
    slopes: tuple
    deltas: tuple


@dataclasses.dataclass(frozen=True)
class CRBP(AbstractOnlineAlgorithm):
    """Causal recursive backpropagation on :class:`gradalgos.cells.IIRMLP` (the maths is in
    this module's docstring).

    Arguments:
        depth: Q ≥ 0, an int for every hidden layer or a tuple with one Q_l per hidden layer
            (``len(sizes) − 2`` entries): the error reaching hidden layer l filters the next
            layer's deltas over t … t + Q_l, and layer l's update is delayed by
            D_l = Q_l + … + Q_{M−1} steps. 0: Back–Tsoi.

    Reference: Campolucci, Uncini, Piazza & Rao, "On-line learning algorithms for locally
    recurrent neural networks", IEEE Trans. Neural Networks 10(2), 1999.
    """

    depth: int | tuple[int, ...] = 0

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "crbp",
        "CRBP",
        exact=False,
        online=True,
        stochastic=False,
        time_exponent=2,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Campolucci et al. 1999",
        cells=("iir_mlp",),
    )
    carry_type: ClassVar[type] = CRBPState

    def __post_init__(self) -> None:
        depths = self.depth if isinstance(self.depth, tuple | list) else (self.depth,)
        for q in depths:
            if isinstance(q, bool) or not isinstance(q, int) or q < 0:
                raise ValueError(
                    f"depth must be an int ≥ 0 or a tuple of them (one per hidden layer), "
                    f"got {self.depth!r}"
                )
        if isinstance(self.depth, list):
            object.__setattr__(self, "depth", tuple(self.depth))

    def depths(self, cell: IIRMLP) -> tuple[int, ...]:
        """Q_l for each hidden layer of ``cell`` (M − 1 entries)."""
        hidden = cell.num_layers - 1
        return self.depth if isinstance(self.depth, tuple) else (self.depth,) * hidden

    def delays(self, cell: IIRMLP) -> tuple[int, ...]:
        """D_l for each layer of ``cell`` (M entries, the last 0)."""
        depths = self.depths(cell)
        return tuple(sum(depths[layer:]) for layer in range(cell.num_layers))

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        if not isinstance(cell, IIRMLP):
            raise ValueError(
                f"CRBP applies only to locally recurrent networks (gradalgos.cells.IIRMLP), "
                f"not to {type(cell).__name__}"
            )
        hidden = cell.num_layers - 1
        if isinstance(self.depth, tuple) and len(self.depth) != hidden:
            raise ValueError(
                f"depth must have one entry per hidden layer: {hidden} for IIRMLP "
                f"sizes={cell.sizes}, got {len(self.depth)} ({self.depth!r})"
            )

    def check_carry(self, cell: AbstractCell, params: Params, carry: CRBPState) -> None:
        if not isinstance(carry, CRBPState):
            raise TypeError(f"carry must be the CRBPState CRBP.init builds, got {type(carry)}")
        want = jax.eval_shape(lambda: self.initial_carry(cell, params, carry.state, None))
        shapes = [jax.tree_util.tree_map(jnp.shape, c) for c in (want, carry)]
        if shapes[0] != shapes[1]:
            raise ValueError(f"carry does not match the CRBPState CRBP.init builds for {cell}")

    def initial_carry(
        self, cell: IIRMLP, params: Params, state: State, key: jax.Array | None
    ) -> CRBPState:
        dtype = jax.tree_util.tree_leaves(state)[0].dtype
        delays, depths, I = self.delays(cell), self.depths(cell), cell.fb_order
        traces, slopes, deltas = [], [], []
        for layer, theta in enumerate(params):
            history = max(I, delays[layer] + 1)
            traces.append(
                {k: jnp.zeros((history, *theta[k].shape), dtype) for k in ("w", "v") if k in theta}
            )
            n = theta["b"].shape[0]
            slopes.append(jnp.zeros((delays[layer] + 1, n), dtype))
            deltas.append(None if layer == 0 else jnp.zeros((depths[layer - 1] + 1, n), dtype))
        return CRBPState(state, tuple(traces), tuple(slopes), tuple(deltas))

    def update(
        self,
        cell: IIRMLP,
        loss: Loss,
        params: Params,
        carry: CRBPState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[CRBPState, jax.Array, Params]:
        states, new_traces, new_slopes, x = [], [], [], xs
        for layer, (theta, s, hist) in enumerate(
            zip(params, carry.state, carry.traces, strict=True)
        ):
            out = cell.layer_step(layer, theta, s, x)
            act = cell.layer_activation(layer)
            pre = out.preactivation
            new_slopes.append(jax.jvp(act, (pre,), (jnp.ones_like(pre),))[1])
            new_traces.append(_local_traces(theta, s, out.state, hist))
            states.append(out.state)
            x = out.output
        value, dy = jax.value_and_grad(loss)(x, targets)
        top = mask * dy * new_slopes[-1]
        carry, grads = self._propagate(
            cell, params, carry, tuple(new_traces), tuple(new_slopes), top
        )
        return carry._replace(state=tuple(states)), mask * value, grads

    def _propagate(
        self,
        cell: IIRMLP,
        params: Params,
        carry: CRBPState,
        new_traces: tuple,
        new_slopes: tuple,
        top: jax.Array,
    ) -> tuple[CRBPState, Params]:
        """Push step t's traces, slopes and output delta; the delayed deltas and updates."""
        delays, depths = self.delays(cell), self.depths(cell)
        traces = tuple(
            {k: _push(hist[k], new[k]) for k in hist}
            for hist, new in zip(carry.traces, new_traces, strict=True)
        )
        slopes = tuple(_push(h, s) for h, s in zip(carry.slopes, new_slopes, strict=True))
        deltas, delta, grads = list(carry.deltas), top, [None] * len(params)
        for layer in reversed(range(cell.num_layers)):
            trace = {k: v[delays[layer]] for k, v in traces[layer].items()}
            grads[layer] = {k: jnp.einsum("n,anm->anm", delta, trace[k]) for k in trace}
            grads[layer]["b"] = delta
            if layer == 0:
                break
            Q = depths[layer - 1]
            deltas[layer] = _push(deltas[layer], delta)
            h = _impulse_response(params[layer], cell.ff_order, Q)  # (Q+1, n, m)
            error = jnp.einsum("knm,kn->m", h, deltas[layer][::-1])  # k ↔ δ(t − D_l + k)
            delta = error * slopes[layer - 1][delays[layer - 1]]
        carry = CRBPState(carry.state, traces, slopes, tuple(deltas))
        return carry, tuple(grads)

    def flush(self, cell: IIRMLP, params: Params, carry: CRBPState) -> Params:
        """The updates still pending at the end of a sequence: D_1 more steps of the delay
        pipeline with no new loss (every delta after the last step is 0)."""
        zero_traces = jax.tree_util.tree_map(lambda h: jnp.zeros_like(h[0]), carry.traces)
        zero_slopes = tuple(jnp.zeros_like(s[0]) for s in carry.slopes)
        top = zero_slopes[-1]

        def body(c, _):
            c, g = self._propagate(cell, params, c, zero_traces, zero_slopes, top)
            return c, g

        grads0 = jax.tree_util.tree_map(jnp.zeros_like, params)
        steps = self.delays(cell)[0]
        if steps == 0:
            return grads0
        _, grads = jax.lax.scan(body, carry, None, length=steps)
        return jax.tree_util.tree_map(lambda g: jnp.sum(g, axis=0), grads)

    def batched_value_and_grad(
        self,
        cell: IIRMLP,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, Params, State]:
        """Σ_t g_t plus :meth:`flush` per sequence, averaged over the batch."""

        def one(s0: State, x: jax.Array, t: jax.Array, m: jax.Array) -> Any:
            carry0 = self.initial_carry(cell, params, s0, None)
            total, grad, carry = scan_steps(self, cell, loss, params, carry0, x, t, m)
            pending = self.flush(cell, params, carry)
            return total, jax.tree_util.tree_map(jnp.add, grad, pending), carry.state

        return batch_mean(*jax.vmap(one)(state0, xs, targets, mask))


def _push(history: jax.Array, new: jax.Array) -> jax.Array:
    """``new`` in front of ``history`` (newest first), the oldest entry dropped."""
    return jnp.concatenate([new[None], history[:-1]])


def _local_traces(theta: dict, old: dict, new: dict, hist: dict) -> dict:
    """β(t), α(t) of every synapse of a layer from their histories (index r−1 = t − r)."""
    beta = jnp.broadcast_to(new["taps"][:, None, :], theta["w"].shape)  # x_m(t−p)
    if "v" not in theta:
        return {"w": beta}
    I = theta["v"].shape[0]
    alpha = old["past"]  # y_nm(t−q), q = 1 … I
    feedback = theta["v"][:, None]  # (I, 1, n, m): Σ_r v(r) · trace(t−r)
    beta = beta + jnp.sum(feedback * hist["w"][:I], axis=0)
    alpha = alpha + jnp.sum(feedback * hist["v"][:I], axis=0)
    return {"w": beta, "v": alpha}


def _impulse_response(theta: dict, ff_order: int, depth: int) -> jax.Array:
    """h_nm(k), k = 0 … depth, of every synapse of a layer ``(depth + 1, n, m)``:
    h(k) = w(k)[k ≤ L] + Σ_{r=1..I} v(r) h(k−r)."""
    w = theta["w"]
    if depth + 1 <= ff_order + 1:
        w = w[: depth + 1]
    else:
        w = jnp.concatenate([w, jnp.zeros((depth - ff_order, *w.shape[1:]), w.dtype)])
    if "v" not in theta:
        return w
    v = theta["v"]

    def body(past: jax.Array, w_k: jax.Array) -> tuple[jax.Array, jax.Array]:
        h_k = w_k + jnp.sum(v * past, axis=0)
        return _push(past, h_k), h_k

    _, h = jax.lax.scan(body, jnp.zeros_like(v), w)
    return h
