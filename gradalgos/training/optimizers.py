"""Optimisers by name (optax) and gradient clipping by global norm."""

from __future__ import annotations

import math
from typing import Any

import optax

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = ("sgd", "nesterov", "rmsprop", "adam")


def _check_nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_clip(clip: Any) -> float | None:
    """``None`` (no clipping) or a finite number > 0; raises naming ``clip`` otherwise."""
    if clip is None:
        return None
    clip = _check_nonneg("clip", clip)
    if clip == 0:
        raise ValueError("clip must be > 0 (a maximum global gradient norm) or None, got 0")
    return clip


def make_optimizer(
    optimizer: str | optax.GradientTransformation,
    learning_rate: float = 1e-3,
    *,
    clip: float | None = None,
    momentum: float = 0.9,
) -> optax.GradientTransformation:
    """An optax optimiser, optionally preceded by ``optax.clip_by_global_norm(clip)``.

    Arguments:
        optimizer: ``"sgd"``, ``"nesterov"`` (SGD with Nesterov momentum, NAG), ``"rmsprop"``,
            ``"adam"``, or any ``optax.GradientTransformation`` (then ``learning_rate`` and
            ``momentum`` are ignored).
        learning_rate: step size ≥ 0 (0 leaves the weights unchanged).
        clip: maximum global norm of the gradient (> 0), or ``None``.
        momentum: momentum of ``"nesterov"`` in [0, 1).

    Raises:
        ValueError / TypeError naming the argument: unknown name, negative learning rate,
        clip ≤ 0.
    """
    clip = check_clip(clip)
    if isinstance(optimizer, optax.GradientTransformation):
        tx = optimizer
    elif isinstance(optimizer, str):
        lr = _check_nonneg("learning_rate", learning_rate)
        if optimizer == "sgd":
            tx = optax.sgd(lr)
        elif optimizer == "nesterov":
            if not 0 <= momentum < 1:
                raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
            tx = optax.sgd(lr, momentum=momentum, nesterov=True)
        elif optimizer == "rmsprop":
            tx = optax.rmsprop(lr)
        elif optimizer == "adam":
            tx = optax.adam(lr)
        else:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    else:
        raise TypeError(
            f"optimizer must be a name in {OPTIMIZERS} or an optax.GradientTransformation, "
            f"got {type(optimizer).__name__}"
        )
    return tx if clip is None else optax.chain(optax.clip_by_global_norm(clip), tx)
