"""Gradient alignment: how close each online method's per-step estimate is to the exact one.

``alignment(methods, cell, params, state0, xs, targets, key=...)`` runs every method on the
same sequence with the same fixed weights, beside the exact per-step gradients
``g*_t = dℓ_t/dθ`` (exact RTRL's), and reports per step the cosine and relative norm of each
estimate ``g_t`` against ``g*_t``, the cosine of ``Σ_t g_t`` against BPTT's gradient, and, for
methods that take a key, the variance of ``g_t`` over ``samples`` keys (Marschall, Cho & Savin,
JMLR 2020; Mujika et al. 2018 for the variance). Each method is one compiled program: its step
scanned over the sequence (``lax.scan``), vmapped over the keys, the comparisons made inside
the scan.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos._validation import check_key, validate
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.bptt import BPTT
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import state_parameter_mask
from gradalgos.losses import mse
from gradalgos.value_and_grad import value_and_grad

__all__ = ["Alignment", "alignment"]

#: The ways :func:`alignment` computes the exact per-step gradients g*_t.
REFERENCES = ("rtrl", "bptt")


class Alignment(NamedTuple):
    """What :func:`alignment` returns (A methods, K = ``samples``, T steps).

    Attributes:
        methods: ``repr`` of each method, in the order given (length A).
        cosine: ``(A, K, T)``: cos(g_t, g*_t) per key; methods without a key repeat their
            one run over K. NaN where either vector is zero (a masked step).
        relative_norm: ``(A, K, T)``: ‖g_t‖ / ‖g*_t‖ (NaN where ‖g*_t‖ = 0).
        summed_cosine: ``(A, K)``: cos(Σ_t g_t, BPTT's gradient).
        variance: ``(A, T)``: Σ_θ Var_k[g_t] / ‖g*_t‖² — the sample variance (ddof 1) over the
            K keys summed over parameters, relative to the exact gradient's squared norm; NaN
            for methods that take no key, or K = 1.
        exact_norm: ``(T,)``: ‖g*_t‖.
        pairwise: ``(A, A)``: mean over steps of cos(g_t^a, g_t^b) (first key), the alignment
            matrix of Marschall et al.; ``None`` unless ``pairwise=True``.
    """

    methods: tuple[str, ...]
    cosine: jax.Array
    relative_norm: jax.Array
    summed_cosine: jax.Array
    variance: jax.Array
    exact_norm: jax.Array
    pairwise: jax.Array | None = None


def _selected(tree: Params, keep: tuple[bool, ...]) -> jax.Array:
    """The leaves of ``tree`` marked in ``keep``, flattened and concatenated ``(P_sel,)``."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.concatenate([leaf.ravel() for leaf, k in zip(leaves, keep, strict=True) if k])


def _cosine(a: jax.Array, b: jax.Array) -> jax.Array:
    """cos(a, b) over the last axis (broadcast); NaN where either is zero."""
    na, nb = jnp.linalg.norm(a, axis=-1), jnp.linalg.norm(b, axis=-1)
    ok = (na > 0) & (nb > 0)
    return jnp.where(ok, jnp.sum(a * b, axis=-1) / jnp.where(ok, na * nb, 1), jnp.nan)


def _per_step_losses(cell: AbstractCell, loss: Loss, params, state0, xs, targets, mask):
    """``(T,)``: mask_t · ℓ(y_t, target_t) along the sequence with fixed weights."""

    def body(state, inp):
        x, t, m = inp
        state, y = cell.step(params, state, x)
        return state, m * loss(y, t)

    return jax.lax.scan(body, state0, (xs, targets, mask))[1]


@functools.partial(jax.jit, static_argnames=("cell", "loss", "keep"))
def _bptt_steps(cell, loss, keep, params, state0, xs, targets, mask) -> jax.Array:
    """``(T, P_sel)``: dℓ_t/dθ for every t, by T reverse passes (``jax.jacrev``) of one
    unrolled forward pass: O(T·cost(sequence)) time, O(T·P) memory."""
    jac = jax.jacrev(_per_step_losses, argnums=2)(cell, loss, params, state0, xs, targets, mask)
    return jax.vmap(lambda g: _selected(g, keep))(jac)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "keep"))
def _rtrl_steps(cell, loss, keep, params, state0, xs, targets, mask) -> jax.Array:
    """``(T, P_sel)``: exact RTRL's g_t at every step (its online step, scanned)."""
    rtrl = RTRL()

    def body(carry, inp):
        carry, _, g = rtrl.update(cell, loss, params, carry, *inp)
        return carry, _selected(g, keep)

    carry = rtrl.initial_carry(cell, params, state0, None)
    return jax.lax.scan(body, carry, (xs, targets, mask))[1]


@functools.partial(jax.jit, static_argnames=("algorithm", "cell", "loss", "keep", "store"))
def _compare(algorithm, cell, loss, keep, store, params, state0, xs, targets, mask, keys, ref):
    """One method's run, vmapped over ``keys`` (``(K,)`` or ``None`` for one run), compared
    step by step with ``ref`` ``(T, P_sel)``.

    Returns ``(cos (K, T), rel (K, T), var (T,), g_sum (K, P_sel), g_first (T, P_sel) | None)``.
    """

    def init(k):
        return algorithm.initial_carry(cell, params, state0, k)

    if keys is None:
        carry = jax.tree_util.tree_map(lambda a: a[None], init(None))
    else:
        carry = jax.vmap(init)(keys)

    def step(carry, x, t, m):
        return algorithm.update(cell, loss, params, carry, x, t, m)

    def body(c, inp):
        carry, g_sum = c
        x, t, m, g_exact = inp
        carry, _, g = jax.vmap(step, in_axes=(0, None, None, None))(carry, x, t, m)
        g = jax.vmap(lambda tree: _selected(tree, keep))(g)  # (K, P_sel)
        exact_sq = jnp.sum(g_exact**2)
        cos = _cosine(g, g_exact)
        rel = jnp.linalg.norm(g, axis=-1) / jnp.where(exact_sq > 0, jnp.sqrt(exact_sq), jnp.nan)
        K = g.shape[0]
        var = jnp.sum(jnp.var(g, axis=0, ddof=1)) / exact_sq if K > 1 else jnp.nan
        return (carry, g_sum + g), (cos, rel, var, g[0] if store else None)

    g0 = jnp.zeros((jax.tree_util.tree_leaves(carry)[0].shape[0], ref.shape[1]), ref.dtype)
    (_, g_sum), (cos, rel, var, firsts) = jax.lax.scan(body, (carry, g0), (xs, targets, mask, ref))
    return cos.T, rel.T, jnp.asarray(var, ref.dtype), g_sum, firsts


@jax.jit
def _pairwise(steps: jax.Array) -> jax.Array:
    """``(A, A)``: mean over t of cos between rows of ``steps`` ``(A, T, P)`` (NaN steps
    skipped)."""
    cos = _cosine(steps[:, None], steps[None, :])  # (A, A, T)
    return jnp.nanmean(cos, axis=-1)


def _check_methods(methods: Any, cell: AbstractCell) -> tuple[AbstractOnlineAlgorithm, ...]:
    if isinstance(methods, AbstractAlgorithm):
        methods = (methods,)
    if not isinstance(methods, Sequence) or isinstance(methods, str) or not methods:
        raise TypeError(
            "methods must be a non-empty sequence of online algorithms such as "
            f"[ga.UORO(), ga.SnAp()], got {methods!r}"
        )
    for m in methods:
        if not isinstance(m, AbstractAlgorithm):
            raise TypeError(f"methods must hold gradalgos algorithms, got {m!r}")
        if not isinstance(m, AbstractOnlineAlgorithm):
            raise ValueError(
                f"methods: {m!r} is not an online method (no per-step gradient g_t); "
                "alignment compares online methods such as ga.UORO() or ga.SnAp()"
            )
        if not m.single_step:
            raise ValueError(
                f"methods: {m!r} steps in blocks, so it has no per-step gradient g_t; "
                "alignment takes single-step online methods"
            )
    return tuple(methods)


def _check_samples(samples: Any) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(
            f"samples must be an int ≥ 1 (keys per stochastic method), got {samples!r}"
        )
    return samples


def _exact_steps(cell, loss, keep, reference, params, state0, xs, targets, mask) -> jax.Array:
    """``(T, P_sel)``: the exact per-step gradients g*_t = dℓ_t/dθ over the leaves marked in
    ``keep``. ``"rtrl"`` runs :class:`RTRL` (O(n⁴) per step dense, O(P) element-wise);
    ``"bptt"`` takes T reverse passes of one forward pass (``jax.jacrev``, O(T²·cost(step)) in
    all): the same numbers, cheaper for large dense cells at moderate T."""
    steps = _bptt_steps if reference == "bptt" else _rtrl_steps
    return steps(cell, loss, keep, params, state0, xs, targets, mask)


def alignment(
    methods: Sequence[AbstractOnlineAlgorithm],
    cell: AbstractCell,
    params: Params,
    state0: State,
    xs: jax.Array,
    targets: jax.Array,
    *,
    loss: Loss = mse,
    mask: jax.Array | None = None,
    key: jax.Array | None = None,
    samples: int = 1,
    reference: str = "rtrl",
    parameters: str = "state",
    pairwise: bool = False,
) -> Alignment:
    """Per-step alignment of online gradient estimates with the exact gradient.

    Arguments:
        methods: online single-step algorithms (``[ga.UORO(), ga.SnAp(), ga.RTRL()]``).
        cell, params, state0, xs, targets, loss, mask: as :func:`gradalgos.value_and_grad`,
            for **one** sequence: ``xs (T, m)``, ``targets (T, o)`` or ``(T,)``, ``mask (T,)``,
            unbatched ``state0``.
        key: a PRNG key, required when a method takes one (UORO, KF-RTRL, RFLO's random
            feedback); such a method runs ``samples`` times, with ``jax.random.split(key,
            samples)``.
        samples: K, the keys per method that takes one (≥ 2 for the variance).
        reference: how the exact g*_t are computed: ``"rtrl"`` (exact RTRL, default) or
            ``"bptt"`` (T reverse passes; same values, see :func:`_exact_steps`).
        parameters: ``"state"`` (default) compares the gradients of the parameters the state
            depends on (the readout's gradient is exact for every method and would inflate
            the cosine); ``"all"`` compares every parameter.
        pairwise: also return the methods' pairwise alignment matrix (keeps each method's
            T×P per-step gradients for its first key).

    Returns:
        An :class:`Alignment` of arrays (shapes there).

    Raises:
        TypeError / ValueError: naming the argument, before any compilation: a method that is
        not online or steps in blocks, a missing key, a batch, a cell a method does not
        support (the method's own error naming both), and the checks of ``value_and_grad``.

    Cost: per method, K runs of its step plus O(K·P) per step; the reference as chosen; BPTT
    once. One compiled program per method (per shapes).
    """
    v = validate(cell, params, state0, xs, targets, mask, loss)
    if v.batched or v.state_batched:
        raise ValueError(
            f"xs must be one sequence (T, input_size) with an unbatched state0, got xs of shape "
            f"{tuple(v.xs.shape)}; call alignment once per sequence"
        )
    methods = _check_methods(methods, cell)
    samples = _check_samples(samples)
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    if parameters not in ("state", "all"):
        raise ValueError(f"parameters must be 'state' or 'all', got {parameters!r}")
    params, state0 = v.params, v.state0
    xs, targets = v.xs, v.targets
    mask = jnp.ones(xs.shape[:1], xs.dtype) if v.mask is None else v.mask.astype(xs.dtype)
    keys: list[jax.Array | None] = []
    for m in methods:
        k = check_key(m, cell, key if m.needs_key else None)
        m.check_supported(cell, params, state0)
        keys.append(None if k is None else jax.random.split(k, samples))
    if parameters == "all":
        keep = tuple(True for _ in jax.tree_util.tree_leaves(params))
    else:
        keep = tuple(jax.tree_util.tree_leaves(state_parameter_mask(cell, params, state0)))

    ref = _exact_steps(cell, loss, keep, reference, params, state0, xs, targets, mask)
    bptt = _selected(
        value_and_grad(BPTT(), cell, params, state0, xs, targets, loss=loss, mask=mask)[1], keep
    )
    rows = []
    for m, k in zip(methods, keys, strict=True):
        cos, rel, var, g_sum, firsts = _compare(
            m, cell, loss, keep, pairwise, params, state0, xs, targets, mask, k, ref
        )
        reps = samples // cos.shape[0]
        rows.append(
            (
                jnp.repeat(cos, reps, 0),
                jnp.repeat(rel, reps, 0),
                var,
                jnp.repeat(g_sum, reps, 0),
                firsts,
            )
        )
    cos, rel, var, g_sum, firsts = zip(*rows, strict=True)
    return Alignment(
        methods=tuple(repr(m) for m in methods),
        cosine=jnp.stack(cos),
        relative_norm=jnp.stack(rel),
        summed_cosine=_cosine(jnp.stack(g_sum), bptt),
        variance=jnp.stack(var),
        exact_norm=jnp.linalg.norm(ref, axis=-1),
        pairwise=_pairwise(jnp.stack(firsts)) if pairwise else None,
    )
