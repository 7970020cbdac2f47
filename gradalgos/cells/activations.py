"""Named activation functions shared by the cells (a name keeps a cell hashable and printable)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda x: x,
    "softplus": jax.nn.softplus,
    "elu": jax.nn.elu,
}

__all__ = ["ACTIVATIONS", "resolve_activation"]


def resolve_activation(name: str | Callable, argname: str = "activation") -> Callable:
    """The function for an activation given by name (see ``ACTIVATIONS``) or as a callable."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"{argname} must be one of {sorted(ACTIVATIONS)} or a callable, got {name!r}"
        )
    return ACTIVATIONS[name]
