"""The exact-RTRL shadow of an online run: per-update alignment of the learner's gradient.

Beside the learner, a second carry runs exact RTRL (:class:`gradalgos.algorithms.RTRL`) on
the learner's own changing weights and inputs, so after every update both hold a gradient of
the same block of losses: the learner's estimate and the exact online one, M accumulated under
the same weight trajectory (the protocol of Marschall et al., JMLR 2020). Their cosine is
taken over the parameters the state depends on (:func:`gradalgos.cells.dependence.
state_parameter_mask`): the readout's gradient is exact for every method and would inflate it.
Cost per step: one RTRL step (O(n⁴) time, O(n³) memory fully connected), hence n ≤ 256.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.algorithms.online import scan_steps
from gradalgos.algorithms.rtrl import RTRL
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import state_parameter_mask
from gradalgos.tasks.base import Batch

__all__ = [
    "MAX_SHADOW_UNITS",
    "cosine",
    "mean_cosine",
    "shadow_block",
    "shadow_init",
    "state_leaves",
]

#: Largest hidden size for which the trainers accept ``shadow=True`` (RTRL's O(n³) memory).
MAX_SHADOW_UNITS = 256


def state_leaves(cell: AbstractCell, params: Params, state: State) -> tuple[bool, ...]:
    """Per leaf of ``params`` (flattened order): whether the state depends on it."""
    return tuple(jax.tree_util.tree_leaves(state_parameter_mask(cell, params, state)))


def cosine(a: Params, b: Params, keep: tuple[bool, ...]) -> jax.Array:
    """cos(a, b) over the leaves marked in ``keep`` (flattened); NaN where either is zero."""
    va, vb = (
        jnp.concatenate([x.ravel() for x, k in zip(jax.tree_util.tree_leaves(t), keep,
                                                    strict=True) if k])
        for t in (a, b)
    )  # fmt: skip
    na, nb = jnp.linalg.norm(va), jnp.linalg.norm(vb)
    ok = (na > 0) & (nb > 0)
    return jnp.where(ok, jnp.vdot(va, vb) / jnp.where(ok, na * nb, 1), jnp.nan)


def shadow_init(cell: AbstractCell, params: Params, state0: State) -> Any:
    """Exact RTRL's carry at t = 0 (``RTRL().init``)."""
    return RTRL().init(cell, params, state0)


def shadow_block(
    cell: AbstractCell, loss: Loss, params: Params, carry: Any, block: Batch
) -> tuple[Any, Params]:
    """``(carry', Σ_t g_t)``: exact RTRL over one block ``(h, ·)`` (float mask) with the
    learner's current ``params`` (traced)."""
    _, grads, carry = scan_steps(RTRL(), cell, loss, params, carry, *block)
    return carry, grads


def mean_cosine(cosines: Any) -> float:
    """Mean of the defined (non-NaN) cosines; NaN where none is."""
    c = np.asarray(cosines, float)
    c = c[np.isfinite(c)]
    return float(c.mean()) if c.size else float("nan")
