"""Online training on one long stream, never reset ("continually running networks").

The weights change while the network runs. Every online method of
:mod:`gradalgos.algorithms.registry` (``registry.names(online=True)``: RTRL, the Hybrid,
SnAp, RFLO, e-prop, the immediate method, …) trains through its own protocol: the trainer
builds the method's carry once with ``init`` (a key derived from the trainer's key where
the method samples noise) and advances it with ``update`` inside one compiled scan, applying
the optimiser after every ``step``, i.e. after every time step for single-step methods
(``single_step``) and after every block of ``block_length(cell)`` steps for block methods
(the Hybrid, h steps). The carry (the state and whatever the method keeps: RTRL's and the
Hybrid's sensitivity M = ∂s/∂θ, SnAp's, RFLO's and e-prop's traces, …) runs on across
updates, as in Williams & Zipser (1989): with a learning rate of 0 the per-step gradients
of an exact method sum to the exact gradient of the whole stream, those of an approximate
one to what :func:`gradalgos.value_and_grad` returns for it.

TBPTT(k), not an online method, is supported as well: it updates after every k steps,
back-propagating through that chunk only (the state entering it a constant).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.tbptt import TBPTT
from gradalgos.cells.base import AbstractCell, Params, State, check_positive_int
from gradalgos.tasks.base import AbstractTask, Batch
from gradalgos.training.common import TrainResult, check_batch, check_setup, default_every
from gradalgos.training.evaluate import evaluate
from gradalgos.training.progress import Loop
from gradalgos.training.shadow import (
    MAX_SHADOW_UNITS,
    cosine,
    mean_cosine,
    shadow_block,
    shadow_init,
    state_leaves,
)

__all__ = ["block_length", "online_names", "train_online"]

#: What :func:`train_online` derives the method's key from (``fold_in(key, ·)``); 0, 1 and 2
#: are the initial parameters, the stream and the test batch.
_METHOD_KEY = 3


def online_names() -> tuple[str, ...]:
    """The registered names :func:`train_online` accepts: every online method, and TBPTT."""
    return (*registry.names(online=True), TBPTT.info.name)


def block_length(algorithm: AbstractAlgorithm, cell: AbstractCell) -> int:
    """Steps between two weight updates: the method's ``block_length(cell)`` (1 for the
    single-step methods, h for the Hybrid), k for TBPTT(k).

    Raises:
        ValueError: ``algorithm`` cannot train online (listing those that can), or is
            TBPTT(k1, k2) with k2 ≠ k1.
    """
    if isinstance(algorithm, AbstractOnlineAlgorithm):
        h = algorithm.block_length(cell)
        if algorithm.single_step and h != 1:
            raise ValueError(
                f"{algorithm!r} is a single-step method but its block_length is {h}, not 1"
            )
        return h
    if isinstance(algorithm, TBPTT):
        if algorithm.window != algorithm.k1:
            raise ValueError(
                f"online training supports TBPTT(k) = TBPTT(k, k) only, got k1={algorithm.k1}, "
                f"k2={algorithm.k2}"
            )
        return algorithm.k1
    raise ValueError(
        f"algorithm {algorithm!r} cannot train online (it needs the whole sequence); "
        f"use an online method {registry.names(online=True)} or TBPTT(k)"
    )


def _init_carry(
    algorithm: AbstractAlgorithm, cell: AbstractCell, params: Params, key: jax.Array
) -> Any:
    """The carry at t = 0: the method's own (from ``init``; a key derived from ``key`` where
    it needs one), or TBPTT's bare state."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    state0 = cell.initial_state(dtype)
    if isinstance(algorithm, AbstractOnlineAlgorithm):
        method_key = jax.random.fold_in(key, _METHOD_KEY) if algorithm.needs_key else None
        return algorithm.init(cell, params, state0, key=method_key)
    return state0


def _block_grad(
    algorithm: AbstractAlgorithm,
    cell: AbstractCell,
    loss: Any,
    params: Params,
    carry: Any,
    block: Batch,
) -> tuple[Any, jax.Array, Params]:
    """``(carry', Σ mask·ℓ over the block, its gradient)`` for one block ``(h, ·)`` (traced)."""
    xs, targets, mask = block
    if isinstance(algorithm, AbstractOnlineAlgorithm):
        if algorithm.single_step:  # h = 1: the block's one step
            xs, targets, mask = xs[0], targets[0], mask[0]
        return algorithm.update(cell, loss, params, carry, xs, targets, mask)
    state: State = jax.tree_util.tree_map(lambda s: s[None], carry)
    value, grads, state = algorithm.batched_value_and_grad(
        cell, params, state, xs[None], targets[None], mask[None], loss
    )
    return jax.tree_util.tree_map(lambda s: s[0], state), value, grads


def make_run(
    task: AbstractTask,
    cell: AbstractCell,
    algorithm: AbstractAlgorithm,
    tx: optax.GradientTransformation,
    keep: tuple[bool, ...] | None = None,
):
    """``run(params, opt_state, (carry, shadow), blocks) -> (params, opt_state, (carry,
    shadow), losses, norms, cosines)``: ``lax.scan`` over U blocks (leaves ``(U, h, ·)``, a
    float mask), one optimiser step after each. With ``keep`` (the leaves compared, see
    :func:`gradalgos.training.shadow.state_leaves`) ``shadow`` is an exact-RTRL carry advanced
    on the same weights and inputs and ``cosines (U,)`` the cosine of each block's gradient
    against its own; without, ``shadow`` is None and the cosines NaN."""

    def body(c, block):
        params, opt_state, (carry, shadow) = c
        carry, value, grads = _block_grad(algorithm, cell, task.loss, params, carry, block)
        cos = jnp.full((), jnp.nan, value.dtype)
        if keep is not None:
            shadow, exact = shadow_block(cell, task.loss, params, shadow, block)
            cos = cosine(grads, exact, keep)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state, (carry, shadow)), (value, optax.tree.norm(grads), cos)

    def run(params, opt_state, carries, blocks):
        (params, opt_state, carries), (values, norms, cosines) = jax.lax.scan(
            body, (params, opt_state, carries), blocks
        )
        return params, opt_state, carries, values, norms, cosines

    return run


def _chunks(stream: Batch, h: int, per_record: int) -> list[Batch]:
    """The stream ``(L, ·)`` as the scans to run: groups of up to ``per_record`` blocks of
    ``h`` steps (leaves ``(U, h, ·)``), then the remaining L mod h steps as one shorter block
    ``(1, L mod h, ·)`` where h does not divide L."""
    L = stream.xs.shape[0]
    n_full = L // h

    def blocks(start: int, count: int, length: int) -> Batch:
        stop = start + count * length
        return Batch(*(a[start:stop].reshape((count, length, *a.shape[1:])) for a in stream))

    chunks = [blocks(lo * h, min(per_record, n_full - lo), h)
              for lo in range(0, n_full, per_record)]  # fmt: skip
    if L % h:
        chunks.append(blocks(n_full * h, 1, L % h))
    return chunks


def train_online(
    task: AbstractTask | str,
    cell: AbstractCell,
    algorithm: AbstractAlgorithm,
    optimizer: str | optax.GradientTransformation = "adam",
    steps: int = 10_000,
    *,
    key: jax.Array,
    learning_rate: float = 1e-3,
    clip: float | None = None,
    params: Params | None = None,
    log_every: int | None = None,
    eval_batch_size: int = 512,
    max_time: float | None = None,
    stop_at: float | None = None,
    progress: bool = True,
    dtype: Any = None,
    shadow: bool = False,
) -> TrainResult:
    """Train ``cell`` online on one stream of ``steps`` time steps (``task.stream``).

    The stream is cut into blocks of h = :func:`block_length` steps, the last one shorter
    where h does not divide ``steps`` (every step of the stream is trained on); after each
    block the optimiser applies that block's gradient (of Σ mask·ℓ over the block, not
    normalised). The network state (and the method's carry: RTRL's M, SnAp's traces, …) is
    never reset.

    Arguments:
        algorithm: any online method (``registry.names(online=True)``: ``RTRL()`` and the
            approximate ones update after every step, ``Hybrid(block=h)`` after every h
            steps) or ``TBPTT(k)`` (every k steps; truncated, biased). Other algorithms
            raise ValueError. A method that samples noise gets a key derived from ``key``.
        steps: length of the stream (time steps, ≥ h).
        log_every: time steps between two records (rounded up to whole blocks; default ≈
            ``steps / 20``; the last, shorter block gets a record of its own); each record
            also evaluates on a fixed test batch of fresh episodes (``task.test_sample``,
            from the initial state).
        shadow: also run exact RTRL beside the learner on its changing weights and inputs
            (:mod:`gradalgos.training.shadow`; hidden size ≤ 256) and log, per record, the
            mean over updates of the cosine of the learner's gradient against the shadow's
            (``history.shadow_cosine``; updates with a zero gradient, e.g. unscored steps, are
            left out). Costs one RTRL step per time step.
        Other arguments as in :func:`gradalgos.training.train`.

    Returns:
        :class:`TrainResult`; ``history.step`` counts time steps and ``history.loss`` is the
        prequential loss: mean per scored step over the steps since the previous record
        (NaN where none of them was scored, e.g. a block inside an adding-task episode).
    """
    task, tx, params = check_setup(
        task, cell, algorithm, optimizer, steps=steps, key=key, learning_rate=learning_rate,
        clip=clip, params=params, dtype=dtype,
    )  # fmt: skip
    h = block_length(algorithm, cell)
    if not isinstance(shadow, bool):
        raise TypeError(f"shadow must be a bool, got {shadow!r}")
    n = getattr(cell, "hidden_size", cell.state_size)
    if shadow and n > MAX_SHADOW_UNITS:
        raise ValueError(
            f"shadow=True runs exact RTRL (O(n³) memory): the cell's hidden size must be <= "
            f"{MAX_SHADOW_UNITS}, got {n}"
        )
    if steps < h:
        raise ValueError(f"steps={steps} is shorter than one block of h={h} steps")
    log_every = default_every(steps) if log_every is None else log_every
    check_positive_int("log_every", log_every)
    check_positive_int("eval_batch_size", eval_batch_size)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    stream = task.stream(jax.random.fold_in(key, 1), steps, dtype)
    check_batch(task, cell, params, stream)
    stream = stream._replace(mask=jnp.asarray(stream.mask, dtype))  # update wants a float mask
    chunks = _chunks(Batch(*(np.asarray(a) for a in stream)), h, -(-log_every // h))
    test = task.test_sample(jax.random.fold_in(key, 2), eval_batch_size, dtype)

    opt_state = tx.init(params)
    state0 = cell.initial_state(dtype)
    keep = state_leaves(cell, params, state0) if shadow else None
    carry = (_init_carry(algorithm, cell, params, key),
             shadow_init(cell, params, state0) if shadow else None)  # fmt: skip
    run = jax.jit(make_run(task, cell, algorithm, tx, keep))
    compiled: dict[tuple[int, int], Any] = {}

    def run_eval() -> tuple[float, float]:
        loss, metric = evaluate(task, cell, params, test)
        return float(loss), float(metric)

    loop = Loop(steps, run_eval, max_time=max_time, progress=progress, stop_at=stop_at,
                higher_is_better=task.higher_is_better,
                desc=f"online {type(algorithm).__name__}")  # fmt: skip
    loop.evaluate(0)
    t = 0
    for chunk in chunks:
        shape = chunk.xs.shape[:2]  # (blocks U, block length)
        if shape not in compiled:  # compile outside the clock (at most three shapes)
            compiled[shape] = run.lower(params, opt_state, carry, chunk).compile()
        params, opt_state, carry, values, norms, cosines = loop.timed(
            compiled[shape], params, opt_state, carry, chunk
        )
        t += shape[0] * shape[1]
        scored = float(np.sum(chunk.mask))
        loss = float(jnp.sum(values)) / scored if scored > 0 else float("nan")
        cos = mean_cosine(cosines) if shadow else None
        loop.record(t, loss, float(jnp.max(norms)), shape[0] * shape[1], shadow_cosine=cos)
        loop.evaluate(t)
        if loop.done():
            break
    return TrainResult(params, loop.close(), opt_state)
