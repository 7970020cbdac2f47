"""Per-step losses ℓ(y_t, target_t) → scalar.

gradalgos's sequence loss is ``L = mean over the batch of Σ_t mask_t · ℓ(y_t, target_t)``.
Any function ``(y (o,), target) -> scalar`` works as ℓ; these are the common ones. They are
module-level functions (not lambdas), so passing them to a jitted function never recompiles.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["cross_entropy", "mse", "sigmoid_binary_cross_entropy", "sum_squared_error"]


def mse(y: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error over the o outputs, ``mean((y - target)²)``; y, target ``(o,)``."""
    return jnp.mean(jnp.square(y - target))


def sum_squared_error(y: jax.Array, target: jax.Array) -> jax.Array:
    """``½ Σ (y - target)²`` (the classic RTRL papers' error). y, target: ``(o,)``."""
    return jnp.sum(optax.l2_loss(y, target))


def cross_entropy(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Softmax cross-entropy. ``logits (o,)``; ``target`` an integer class label ``()`` in
    ``[0, o)`` or a float distribution ``(o,)``."""
    if jnp.issubdtype(target.dtype, jnp.integer):
        return optax.softmax_cross_entropy_with_integer_labels(logits, target)
    return optax.softmax_cross_entropy(logits, target)


def sigmoid_binary_cross_entropy(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Σ over outputs of the logistic loss; ``target (o,)`` in [0, 1]."""
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, target))
