"""The single entry point: ``value_and_grad(algorithm, cell, params, state0, xs, targets)``."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gradalgos._validation import check_key, validate
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.losses import mse
from gradalgos.planner.auto import Auto

__all__ = ["value_and_grad"]

#: Times JAX has traced :func:`_compiled` (``[count]``): its body runs only while JAX traces it
#: (a call with new static arguments, shapes or dtypes), not when a call reuses a compiled
#: program. Read by :func:`_trace_count`; public JAX only, unlike the jit cache's size.
_TRACES = [0]


@functools.partial(
    jax.jit, static_argnames=("algorithm", "cell", "loss", "batched", "state_batched")
)
def _compiled(
    algorithm: AbstractAlgorithm,
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array | None,
    key: jax.Array | None,
    *,
    batched: bool,
    state_batched: bool,
) -> tuple[jax.Array, Params, State]:
    _TRACES[0] += 1  # a side effect: runs once per trace, never when a compiled call is reused
    if not batched:
        xs, targets = xs[None], targets[None]
        mask = None if mask is None else mask[None]
    B = xs.shape[0]
    mask = jnp.ones(xs.shape[:2], xs.dtype) if mask is None else mask.astype(xs.dtype)
    if not state_batched:
        state0 = jax.tree_util.tree_map(lambda s: jnp.broadcast_to(s, (B, *s.shape)), state0)
    args = (cell, params, state0, xs, targets, mask, loss)
    if isinstance(algorithm, AbstractOnlineAlgorithm):
        value, grads, state_T = algorithm.batched_value_and_grad(*args, key=key)
    else:
        value, grads, state_T = algorithm.batched_value_and_grad(*args)
    if not batched:
        state_T = jax.tree_util.tree_map(lambda s: s[0], state_T)
    return value, grads, state_T


def value_and_grad(
    algorithm: AbstractAlgorithm,
    cell: AbstractCell,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    *,
    loss: Loss = mse,
    mask: jax.Array | None = None,
    key: jax.Array | None = None,
) -> tuple[jax.Array, Params, State]:
    """Loss, its gradient w.r.t. the parameters, and the final state, by ``algorithm``.

    ``L = mean over the batch of Σ_t mask_t · loss(y_t, target_t)`` (a sum over time, a mean
    over sequences); ``y_t`` are the cell's outputs.

    Arguments:
        algorithm: how to compute the gradient: ``BPTT()``, ``TBPTT(k1, k2)``,
            ``CheckpointedBPTT()``, ``RTRL()``, ``Hybrid(block=h)``, or an approximate
            online method (``SnAp(order)``, ``RFLO()``, ``EProp()``, ``Immediate()``, …,
            :mod:`gradalgos.algorithms.registry`): its step scanned with fixed weights.
            ``Auto(memory_budget=...)`` plans on first use per shapes (:func:`gradalgos.plan`)
            and is then the method it chose.
        cell: any :class:`gradalgos.cells.AbstractCell`.
        params: the cell's parameter pytree (as from ``cell.init``), one float dtype.
        state0: initial state (as from ``cell.initial_state()``); for batched ``xs`` either
            shared (unbatched) or with leaves ``(B, ...)``.
        xs: inputs ``(T, m)`` or ``(B, T, m)``, same dtype as ``params``.
        targets: ``(T, o)`` / ``(B, T, o)`` floats, or integer class labels ``(T,)`` / ``(B, T)``.
        loss: per-step loss ``ℓ(y (o,), target) -> scalar`` (default :func:`losses.mse`).
            Pass a module-level function: a new lambda on every call recompiles every call.
        mask: optional ``(T,)`` / ``(B, T)`` weights (bool or float) on each step's loss.
        key: a PRNG key (``jax.random.key``) for the stochastic methods (UORO, KF-RTRL,
            random feedback); each sequence of a batch gets its own, split from it. Required
            by those, ignored by the others.

    Returns:
        ``(L, grads, state_T)``: a scalar, a pytree like ``params``, and the final state
        (batched like ``xs``).

    Raises:
        TypeError / ValueError: naming the argument, before any compilation, for inputs of the
        wrong kind, dtype or shape, empty sequences, and (for concrete inputs) NaN or inf.

    Jitted on first call per (algorithm, cell, loss, shapes); composes with ``jax.jit`` and
    ``jax.vmap``.
    """
    if not isinstance(algorithm, AbstractAlgorithm):
        raise TypeError(
            "algorithm must be a gradalgos algorithm such as ga.BPTT() or ga.RTRL(), got "
            f"{algorithm!r}"
        )
    v = validate(cell, params, state0, xs, targets, mask, loss)
    if isinstance(algorithm, Auto):  # plan once per shapes (compile-only), then be the choice
        algorithm = algorithm.resolve(
            cell, v.params, v.state0, v.xs, v.targets, loss=loss, mask=v.mask, key=key
        )
    if isinstance(algorithm, AbstractOnlineAlgorithm):
        key = check_key(algorithm, cell, key)
        algorithm.check_supported(cell, v.params, cell.initial_state(v.xs.dtype))
    else:
        key = None
    return _compiled(
        algorithm,
        cell,
        loss,
        v.params,
        v.state0,
        v.xs,
        v.targets,
        v.mask,
        key,
        batched=v.batched,
        state_batched=v.state_batched,
    )


def _trace_count() -> int:
    """How many times the jitted entry point has been traced so far (tests check that a call
    neither traced nor compiled anything by comparing it before and after)."""
    return _TRACES[0]
