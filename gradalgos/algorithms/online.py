"""Base class of the online algorithms (RTRL, Hybrid): carry ``(s, M)`` forward in time."""

from __future__ import annotations

import abc
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.sensitivity import (
    SensitivityState,
    advance_block,
    initial_sensitivity,
    sensitivity_sequence,
)
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["AbstractOnlineAlgorithm"]


class AbstractOnlineAlgorithm(AbstractAlgorithm):
    """An exact algorithm that runs forward in time, carrying M = ∂s/∂θ, so that the weights
    can be updated while the network runs ("continually running networks").

    Subclasses say how many steps make one block (:meth:`block_length`) and whether their
    ``step`` takes a single time step or a block (``single_step``).
    """

    single_step: ClassVar[bool] = False

    @abc.abstractmethod
    def block_length(self, cell: AbstractCell) -> int:
        """Steps advanced by one call of :meth:`advance` (1 for RTRL)."""

    def init(self, cell: AbstractCell, params: Params, state0: State) -> SensitivityState:
        """The online carry at t = 0: ``(state0, M = 0)``, M's leaves ``(S, *leaf.shape)`` for
        the parameters the state depends on, ``None`` for readouts (their ∂s/∂θ is 0).
        Memory O(S·P_s), P_s ≤ P those parameters.

        The carry holds a copy of ``state0`` (O(S)), so a ``step(..., donate_carry=True)``
        never invalidates the caller's ``state0``."""
        from gradalgos._validation import check_online_init

        check_online_init(cell, params, state0)
        state = jax.tree_util.tree_map(jnp.copy, state0)
        return SensitivityState(state, initial_sensitivity(cell, params, state0))

    def advance(
        self,
        cell: AbstractCell,
        params: Params,
        carry: SensitivityState,
        xs: jax.Array,
        targets: jax.Array,
        loss: Loss,
        mask: jax.Array | None,
        donate_carry: bool,
    ) -> tuple[SensitivityState, jax.Array, Params]:
        """Check every input, then advance the carry over one call's steps (one time step for
        RTRL, ``xs`` ``(m,)``; one block for the hybrid, ``(h, m)``) → ``(carry, L, grads)``.
        The body of the subclasses' ``step``.

        Jitted per (cell, loss, single_step, shapes), so a Python loop of ``step`` calls runs
        one compiled program per call. Values are checked on every call; structure, shapes
        and dtypes while the jitted step traces, so once per input signature, with jit's own
        cache deciding when. Under a caller's ``jit`` it is inlined (and
        ``donate_carry`` has no effect there). With ``donate_carry``, the new carry is written
        into the old one's buffers, which are invalidated: a loop then reuses one S·P_s
        sensitivity instead of allocating a new one every call (on a CPU, fresh memory is
        page-faulted in by the OS on first touch).
        """
        from gradalgos._validation import check_online_step

        steps = None if self.single_step else "block"
        xs, targets, mask = check_online_step(
            cell, params, carry, xs, targets, mask, steps, loss, donate_carry=donate_carry
        )
        compiled = _advance_donating if donate_carry else _advance_compiled
        args = (cell, loss, params, carry, xs, targets, mask)
        return compiled(*args, single_step=self.single_step)

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
        block = self.block_length(cell)

        def one(s0, x, t, m):
            return sensitivity_sequence(cell, loss, block, params, s0, x, t, m)

        totals, grads, state_T = jax.vmap(one)(state0, xs, targets, mask)
        mean = jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)
        return jnp.mean(totals), mean, state_T


def _advance(
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    carry: SensitivityState,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array | None,
    *,
    single_step: bool,
) -> tuple[SensitivityState, jax.Array, Params]:
    from gradalgos._validation import check_online_structure

    # runs while tracing: once per (cell, loss, single_step, input structure, shapes, dtypes)
    steps = None if single_step else "block"
    check_online_structure(cell, params, carry, (xs, targets, mask), steps, loss)
    s, unravel_state = ravel_pytree(carry.state)
    mask = jnp.ones(xs.shape[:-1], s.dtype) if mask is None else jnp.asarray(mask, s.dtype)
    s, M, value, grads = advance_block(
        cell,
        loss,
        unravel_state,
        params,
        s,
        carry.sensitivity,
        xs,
        targets,
        mask,
        single_step=single_step,
        propagate=True,
    )
    return SensitivityState(unravel_state(s), M), value, grads


_STATIC = ("cell", "loss", "single_step")
_advance_compiled = jax.jit(_advance, static_argnames=_STATIC)
_advance_donating = jax.jit(_advance, static_argnames=_STATIC, donate_argnames=("carry",))


def _advance_cache_size() -> int:
    """Number of compiled variants of the online block (tests check nothing recompiles)."""
    return _advance_compiled._cache_size() + _advance_donating._cache_size()
