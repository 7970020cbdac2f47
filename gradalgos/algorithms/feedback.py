"""The learning signal of RFLO and e-prop: exact (symmetric) or through a fixed random matrix."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.cells.base import AbstractCell, State

__all__ = ["FEEDBACKS", "check_feedback", "random_feedback"]

#: ``"symmetric"``: q_t = ∂ℓ_t/∂s_t (the readout's transpose); ``"random"``: q_t = ∂ℓ_t/∂y_t·B
#: with a fixed random B (o × S), feedback alignment (Lillicrap et al. 2016).
FEEDBACKS = ("symmetric", "random")


def check_feedback(owner: str, feedback: Any) -> None:
    """``ValueError`` naming ``owner`` unless ``feedback`` is one of :data:`FEEDBACKS`."""
    if feedback not in FEEDBACKS:
        raise ValueError(f"{owner}: feedback must be one of {FEEDBACKS}, got {feedback!r}")


def random_feedback(cell: AbstractCell, state: State, key: jax.Array) -> jax.Array:
    """B ``(o, S)`` ~ N(0, 1/S): the scale of a read-out initialised N(0, 1/n)."""
    s = ravel_pytree(state)[0]
    S = s.shape[0]
    return jax.random.normal(key, (cell.output_size, S), s.dtype) / jnp.sqrt(S).astype(s.dtype)
