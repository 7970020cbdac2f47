"""The online protocol: every method that runs forward in time, exact or approximate.

An online method is a value that owns its carry, the way an optax transformation owns its
state::

    carry = alg.init(cell, params, state0, key=key)       # key only where it samples noise
    carry, loss_t, grads_t = alg.step(cell, params, carry, x_t, target_t, loss=..., mask=...)

The carry is the method's own NamedTuple whose first field is ``state`` (the cell's state);
nothing outside the method's file needs its other fields. A subclass implements
:meth:`AbstractOnlineAlgorithm.initial_carry` and :meth:`AbstractOnlineAlgorithm.update`
(pure functions, traced under ``jit``); the base class gives it the checks, the compiled
``step`` (with ``donate_carry``) and an offline ``value_and_grad`` (the step scanned over the
sequence with fixed weights). An exact method may override that with a faster offline path.
"""

from __future__ import annotations

import abc
import functools
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.sequence_cell import reject_sequence_cell
from gradalgos.losses import mse

__all__ = ["AbstractOnlineAlgorithm"]

Carry = Any  # a NamedTuple whose first field is ``state``


class AbstractOnlineAlgorithm(AbstractAlgorithm):
    """A gradient algorithm that runs forward in time, so that the weights can be updated
    while the network runs ("continually running networks").

    ``step`` takes one time step (``single_step``) or, for block methods (the hybrid), a
    block of steps. With fixed weights, the per-step gradients of an exact method sum to the
    full gradient; for an approximate one their sum is what :func:`gradalgos.value_and_grad`
    returns.
    """

    single_step: ClassVar[bool] = True

    @property
    def needs_key(self) -> bool:
        """Whether :meth:`init` (and ``value_and_grad``) need a PRNG key: the class's
        ``info.stochastic`` unless a setting removes the noise."""
        return self.info.stochastic

    @property
    def noise_per_step(self) -> bool:
        """Whether the key feeds fresh noise into every step (UORO, KF-RTRL) rather than
        only fixed quantities drawn at :meth:`init` (a random feedback matrix). Offline, the
        former gets one key per sequence, the latter one key for the whole batch."""
        return self.needs_key

    def block_length(self, cell: AbstractCell) -> int:
        """Steps advanced by one :meth:`step` (1 unless a block method)."""
        return 1

    def carry_types(self, cell: AbstractCell) -> tuple[type, ...]:
        """The carry NamedTuple types :meth:`init` builds for ``cell``."""
        return (self.carry_type,)

    carry_type: ClassVar[type]

    def init(
        self, cell: AbstractCell, params: Params, state0: State, *, key: jax.Array | None = None
    ) -> Carry:
        """The carry at t = 0 (its own NamedTuple, first field the state).

        Arguments:
            params: the cell's parameters; state0: its initial state (unbatched).
            key: a PRNG key (``jax.random.key``), required where :attr:`needs_key`.

        The carry holds a copy of ``state0``, so ``step(..., donate_carry=True)`` never
        invalidates the caller's ``state0``.
        """
        from gradalgos._validation import check_key, check_online_init

        check_online_init(cell, params, state0)
        key = check_key(self, cell, key)
        self.check_supported(cell, params, state0)
        state = jax.tree_util.tree_map(jnp.copy, state0)
        return self.initial_carry(cell, params, state, key)

    @abc.abstractmethod
    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> Carry:
        """The carry at t = 0 from validated inputs (traced; called by :meth:`init` and by
        the offline path, once per sequence)."""

    @abc.abstractmethod
    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: Carry,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[Carry, jax.Array, Params]:
        """One step (``xs (m,)``, ``mask ()``) or block (``(h, m)``, ``(h,)``) from validated
        inputs → ``(carry, Σ mask·ℓ, grads)``. Pure and traced."""

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        """Raise ``ValueError`` naming this method and ``cell`` where its maths does not apply
        to the cell (called by :meth:`init` and ``value_and_grad`` before any compilation;
        only shapes are read). Default: every cell that has a forward step. A subclass's own
        ``check_supported`` is wrapped to reject a bidirectional network first."""
        reject_sequence_cell(self, cell)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("check_supported")
        if own is None or getattr(own, "__isabstractmethod__", False):
            return

        @functools.wraps(own)
        def checked(self: Any, cell: AbstractCell, params: Params, state: State) -> None:
            reject_sequence_cell(self, cell)  # before the method reads the cell's step
            own(self, cell, params, state)

        cls.check_supported = checked

    def check_carry(self, cell: AbstractCell, params: Params, carry: Carry) -> None:
        """Structural checks of the carry's own fields (its type and state are checked by
        the caller); raise ``ValueError`` naming the field."""

    def step(
        self,
        cell: AbstractCell,
        params: Params,
        carry: Carry,
        x: jax.Array,
        target: jax.Array,
        *,
        loss: Loss = mse,
        mask: jax.Array | None = None,
        donate_carry: bool = False,
    ) -> tuple[Carry, jax.Array, Params]:
        """One online step (a block of steps for block methods).

        Arguments:
            carry: from :meth:`init` or the previous step.
            x: input ``(m,)`` (a block: ``(h, m)``); target: ``(o,)`` or an integer label
                ``()`` (a block: ``(h, o)`` / ``(h,)``); mask: scalar (``(h,)``) or None.
            donate_carry: write the new carry into the old one's buffers (the old carry is
                then invalid): a loop allocates no new carry per call.

        Returns:
            ``(carry_t, mask_t·ℓ_t, g_t)``, ``g_t`` a pytree like ``params``.

        Compiled once per (algorithm, cell, loss, shapes): a loop of calls reuses it. The
        structural checks run while the step traces, the values on every call. Pass a
        module-level ``loss``; a new lambda on every call recompiles every call.
        """
        from gradalgos._validation import check_online_step

        steps = None if self.single_step else "block"
        x, target, mask = check_online_step(
            self, cell, params, carry, x, target, mask, steps, loss, donate_carry=donate_carry
        )
        compiled = _step_donating if donate_carry else _step_compiled
        return compiled(self, cell, loss, params, carry, x, target, mask)

    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, Params, State]:
        """The step scanned over each sequence with fixed weights; the gradient is the batch
        mean of Σ_t g_t. Keys: one per sequence (``jax.random.split(key, B)``) for methods with
        :attr:`noise_per_step`, else ``key`` for every sequence (one feedback matrix)."""
        B = xs.shape[0]
        if key is None:
            keys = None
        elif self.noise_per_step:
            keys = jax.random.split(key, B)
        else:
            keys = jnp.broadcast_to(key, (B,))

        def one(s0, k, x, t, m):
            return scan_steps(
                self, cell, loss, params, self.initial_carry(cell, params, s0, k), x, t, m
            )

        totals, grads, carry_T = jax.vmap(one)(state0, keys, xs, targets, mask)
        return batch_mean(totals, grads, carry_T.state)


def batch_mean(totals: jax.Array, grads: Params, state_T: State) -> tuple[jax.Array, Params, State]:
    """Per-sequence losses ``(B,)`` and gradients (leaves ``(B, ...)``) → their batch means."""
    mean = jax.tree_util.tree_map(lambda g: jnp.mean(g, axis=0), grads)
    return jnp.mean(totals), mean, state_T


def scan_steps(
    algorithm: AbstractOnlineAlgorithm,
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    carry: Carry,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
) -> tuple[jax.Array, Params, NamedTuple]:
    """``(Σ_t mask_t ℓ_t, Σ_t g_t, carry_T)`` of one sequence ``(T, ...)`` by single steps
    with fixed weights (``lax.scan``)."""

    def body(c, inputs):
        carry, total, grad = c
        carry, value, g = algorithm.update(cell, loss, params, carry, *inputs)
        return (carry, total + value, jax.tree_util.tree_map(jnp.add, grad, g)), None

    zero = jnp.zeros((), mask.dtype)
    grad0 = jax.tree_util.tree_map(jnp.zeros_like, params)
    (carry, total, grad), _ = jax.lax.scan(body, (carry, zero, grad0), (xs, targets, mask))
    return total, grad, carry


def _step(
    algorithm: AbstractOnlineAlgorithm,
    cell: AbstractCell,
    loss: Loss,
    params: Params,
    carry: Carry,
    xs: jax.Array,
    targets: jax.Array,
    mask: jax.Array | None,
) -> tuple[Carry, jax.Array, Params]:
    from gradalgos._validation import check_online_structure

    # runs while tracing: once per (algorithm, cell, loss, input structure, shapes, dtypes)
    _TRACES[0] += 1
    steps = None if algorithm.single_step else "block"
    check_online_structure(algorithm, cell, params, carry, (xs, targets, mask), steps, loss)
    dtype = jax.tree_util.tree_leaves(carry.state)[0].dtype
    mask = jnp.ones(xs.shape[:-1], dtype) if mask is None else jnp.asarray(mask, dtype)
    return algorithm.update(cell, loss, params, carry, xs, targets, mask)


_STATIC = ("algorithm", "cell", "loss")
_step_compiled = jax.jit(_step, static_argnames=_STATIC)
_step_donating = jax.jit(_step, static_argnames=_STATIC, donate_argnames=("carry",))

#: Times JAX has traced :func:`_step`, as ``[count]``: its body runs only while JAX traces it
#: (new static arguments, shapes or dtypes), not when a call reuses a compiled program. The two
#: jitted forms share JAX's trace cache (same function): the donating one may compile a trace
#: the other made without tracing again. Read by :func:`_trace_count`.
_TRACES = [0]


def _trace_count() -> int:
    """How many times the online step has been traced so far (tests check that a loop of
    ``step`` calls traces, hence compiles, once)."""
    return _TRACES[0]
