"""Bidirectional recurrent network (Schuster & Paliwal 1997).

Design: a cell is one forward time step, and a bidirectional network has none (its output at t
depends on every later input). So :class:`Bidirectional` is an
:class:`~gradalgos.cells.sequence_cell.AbstractSequenceCell`: ``init`` and ``initial_state``
as for any cell (inputs are validated alike), ``outputs`` over a whole sequence, no ``step``.
BPTT, checkpointed BPTT and TBPTT hand it to :meth:`Bidirectional.value_and_grad_by`, which
splits the gradient exactly into two ordinary one-direction problems and runs the *same*
algorithm on each: the forward cell reads ``[x_t; y^b_t]`` forward in time, the backward cell
reads ``[x_t; y^f_t]`` over the reversed sequence, the other direction's outputs held
constant (they do not depend on this direction's parameters, so ∂L/∂θ_f and ∂L/∂θ_b are
exact). The online methods reject it: a bidirectional network cannot be run forward in time
only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from gradalgos.cells._common import linear_readout, readout_params
from gradalgos.cells.base import AbstractCell, Params, State, check_positive_int
from gradalgos.cells.sequence_cell import AbstractSequenceCell

__all__ = ["COMBINES", "Bidirectional"]

#: How the two directions' outputs ``y^f_t (o_f,)`` and ``y^b_t (o_b,)`` become ``y_t``.
COMBINES = ("sum", "concat", "readout")


@dataclasses.dataclass(frozen=True)
class Bidirectional(AbstractSequenceCell):
    """Two recurrent cells over one sequence, one forward and one backward in time::

        s^f_t, y^f_t = forward_cell.step(θ_f, s^f_{t-1}, x_t)      t = 1 … T
        s^b_t, y^b_t = backward_cell.step(θ_b, s^b_{t+1}, x_t)     t = T … 1
        y_t = y^f_t + y^b_t                        (combine="sum", o_f = o_b = o)
              [y^f_t; y^b_t]                       (combine="concat", o = o_f + o_b)
              W_out [y^f_t; y^b_t] + b_out         (combine="readout", o = output_size)

    With two Elman cells and ``combine="sum"`` this is Schuster & Paliwal's BRNN with a linear
    output layer over both hidden states. **Parameters**: ``{"forward": θ_f, "backward": θ_b}``
    plus ``"readout": {"W_out" (o, o_f+o_b), "b_out" (o,)}`` for ``"readout"``. **State**:
    ``{"forward": s^f, "backward": s^b}``; the initial state holds s^f_0 and s^b_{T+1}, the
    final state s^f_T and s^b_1. S and P: the sums of the two cells' (plus the readout's).

    Gradients: BPTT, ``CheckpointedBPTT`` (exact) and ``TBPTT(k1, k2)``; the online methods
    raise. TBPTT truncates each direction in its own time: the forward pass (the loss) is
    exact, the forward cell's gradient is TBPTT(k1, k2) forward in time and the backward
    cell's TBPTT(k1, k2) over the reversed sequence, each with the other direction's outputs
    held constant; the readout's gradient is exact. k2 ≥ T gives BPTT. This is TBPTT's own
    truncation (each recurrence back-propagated through at most k2 of its own steps) with the
    model unchanged; cutting the backward direction's forward pass into chunks instead would
    change the network, not only its gradient. Cost: one forward pass
    of both directions, then the algorithm on each direction (≈ 5/3 × a fused BPTT); memory:
    the algorithm's, per direction, plus the outputs ``(B, T, o_f + o_b)``.

    The mask weights each step's loss only: both directions read every step (pad with care:
    the backward direction reads trailing padding first).

    Arguments:
        forward_cell, backward_cell: ordinary cells (with a ``step``) of one ``input_size``.
        combine: ``"sum"`` (default), ``"concat"`` or ``"readout"``.
        output_size: o; required for ``"readout"``, implied (and checked if given) otherwise.
    """

    forward_cell: AbstractCell
    backward_cell: AbstractCell
    combine: str = "sum"
    output_size: int | None = None  # type: ignore[assignment]

    kind: ClassVar[str] = "a bidirectional network"

    def __post_init__(self) -> None:
        for name in ("forward_cell", "backward_cell"):
            cell = getattr(self, name)
            if not isinstance(cell, AbstractCell):
                raise TypeError(f"{name} must be a gradalgos cell, got {type(cell).__name__}")
            if isinstance(cell, AbstractSequenceCell):
                raise TypeError(
                    f"{name} must be a cell with a forward step, got {type(cell).__name__} "
                    f"({cell.kind}); stack bidirectional layers instead of nesting them"
                )
        f, b = self.forward_cell, self.backward_cell
        if f.input_size != b.input_size:
            raise ValueError(
                f"forward_cell.input_size={f.input_size} must equal backward_cell.input_size="
                f"{b.input_size} (both directions read the same x_t)"
            )
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")
        implied = {"sum": f.output_size, "concat": f.output_size + b.output_size}
        if self.combine == "sum" and f.output_size != b.output_size:
            raise ValueError(
                f"combine='sum' adds the two outputs: forward_cell.output_size={f.output_size} "
                f"must equal backward_cell.output_size={b.output_size} (or use 'concat' or "
                "'readout')"
            )
        if self.combine == "readout":
            if self.output_size is None:
                raise ValueError("output_size is required with combine='readout'")
            check_positive_int("output_size", self.output_size)
        elif self.output_size is None:
            object.__setattr__(self, "output_size", implied[self.combine])
        elif self.output_size != implied[self.combine]:
            raise ValueError(
                f"output_size={self.output_size} does not match combine={self.combine!r}, "
                f"which gives {implied[self.combine]} outputs"
            )

    @property
    def input_size(self) -> int:  # type: ignore[override]
        """m, read by both directions."""
        return self.forward_cell.input_size

    def init(self, key: jax.Array, dtype: Any = None) -> Params:
        k_f, k_b, k_r = jax.random.split(key, 3)
        params = {"forward": self.forward_cell.init(k_f, dtype),
                  "backward": self.backward_cell.init(k_b, dtype)}  # fmt: skip
        if self.combine == "readout":
            width = self.forward_cell.output_size + self.backward_cell.output_size
            params["readout"] = readout_params(k_r, width, self.output_size, dtype)
        return params

    def initial_state(self, dtype: Any = None) -> State:
        return {"forward": self.forward_cell.initial_state(dtype),
                "backward": self.backward_cell.initial_state(dtype)}  # fmt: skip

    def combine_outputs(self, readout: Params, y_f: jax.Array, y_b: jax.Array) -> jax.Array:
        """``y_t`` from ``y^f_t (o_f,)`` and ``y^b_t (o_b,)``; ``readout``: ``params["readout"]``
        (``{}`` unless ``combine="readout"``)."""
        if self.combine == "sum":
            return y_f + y_b
        both = jnp.concatenate([y_f, y_b])
        return both if self.combine == "concat" else linear_readout(readout, both)

    def directions(
        self, params: Params, state0: State, xs: jax.Array
    ) -> tuple[State, jax.Array, jax.Array]:
        """One sequence ``xs (T, m)`` → ``(state_T, y^f (T, o_f), y^b (T, o_b))``, both in
        time order. O(T·(cost of both steps))."""
        f, b = self.forward_cell, self.backward_cell
        s_f, y_f = jax.lax.scan(lambda s, x: f.step(params["forward"], s, x), state0["forward"], xs)
        s_b, y_b = jax.lax.scan(
            lambda s, x: b.step(params["backward"], s, x), state0["backward"], xs, reverse=True
        )
        return {"forward": s_f, "backward": s_b}, y_f, y_b

    def outputs(self, params: Params, state0: State, xs: jax.Array) -> tuple[State, jax.Array]:
        state, y_f, y_b = self.directions(params, state0, xs)
        readout = params.get("readout", {})
        return state, jax.vmap(lambda a, c: self.combine_outputs(readout, a, c))(y_f, y_b)

    def value_and_grad_by(self, algorithm: Any, params: Params, state0: State, xs: jax.Array,
                          targets: jax.Array, mask: jax.Array, loss: Any
                          ) -> tuple[jax.Array, Params, State]:  # fmt: skip
        state_T, y_f, y_b = jax.vmap(self.directions, in_axes=(None, 0, 0))(params, state0, xs)
        y_f, y_b = jax.lax.stop_gradient((y_f, y_b))
        readout = params.get("readout", {})

        def one_direction(side: str, other: jax.Array, flip: bool) -> tuple[jax.Array, Params]:
            def time_order(a: jax.Array) -> jax.Array:
                return jnp.flip(a, axis=1) if flip else a

            value, grads, _ = algorithm.batched_value_and_grad(
                _Direction(self, side),
                {"cell": params[side], "readout": readout},
                state0[side],
                time_order(jnp.concatenate([xs, other], axis=-1)),
                time_order(targets),
                time_order(mask),
                loss,
            )
            return value, grads

        value, g_f = one_direction("forward", y_b, flip=False)
        _, g_b = one_direction("backward", y_f, flip=True)
        grads = {"forward": g_f["cell"], "backward": g_b["cell"]}
        if "readout" in params:
            grads["readout"] = g_f["readout"]  # exact from either direction: no recurrence
        return value, grads, state_T


@dataclasses.dataclass(frozen=True)
class _Direction(AbstractCell):
    """One direction of ``network`` as an ordinary cell: its input ``[x_t; y^other_t]`` carries
    the other direction's output at the same t (a constant), its output is the combined
    ``y_t``. Params ``{"cell": θ_side, "readout": params["readout"] or {}}``. Time runs
    backward for the backward side: its caller reverses the sequence."""

    network: Bidirectional
    side: str  # "forward" or "backward"

    @property
    def own(self) -> AbstractCell:
        return getattr(self.network, f"{self.side}_cell")

    @property
    def input_size(self) -> int:  # type: ignore[override]
        other = "backward" if self.side == "forward" else "forward"
        return self.network.input_size + getattr(self.network, f"{other}_cell").output_size

    @property
    def output_size(self) -> int:  # type: ignore[override]
        return self.network.output_size

    def init(self, key: jax.Array, dtype: Any = None) -> Params:
        params = self.network.init(key, dtype)
        return {"cell": params[self.side], "readout": params.get("readout", {})}

    def initial_state(self, dtype: Any = None) -> State:
        return self.own.initial_state(dtype)

    def step(self, params: Params, state: State, x: jax.Array) -> tuple[State, jax.Array]:
        m = self.network.input_size
        state, y = self.own.step(params["cell"], state, x[:m])
        pair = (y, x[m:]) if self.side == "forward" else (x[m:], y)
        return state, self.network.combine_outputs(params["readout"], *pair)
