"""The one interface every gradient-free (population) optimiser implements.

A method searches over flat weight vectors ``x (P,)`` (a cell's parameters flattened by
:func:`jax.flatten_util.ravel_pytree`, one gene per weight) and minimises the MSE, i.e.
maximises the fitness ``1 / MSE``. It sees the problem only through ``mse_fn``, which maps a
population ``(N, P)`` to its MSEs ``(N,)`` (evaluated in parallel by ``jax.vmap``, see
:func:`gradalgos.gradient_free.population_mse`). Non-finite MSEs arrive as ``+inf``.

Methods are frozen dataclasses holding only hyper-parameters (hashable: static arguments to
``jax.jit``). Their state is a ``<Name>State`` NamedTuple with at least the fields
``best_x (P,)`` and ``best_mse ()``: the best vector ever evaluated and its MSE.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "AbstractGradientFree",
    "MseFn",
    "best_of",
    "check_fraction",
    "check_population",
    "check_positive",
    "update_best",
]

MseFn = Callable[[jax.Array], jax.Array]


class AbstractGradientFree(abc.ABC):
    """Base class of the gradient-free optimisers (GA, SA, PSO).

    Subclasses are frozen dataclasses with (at least) the field ``population_size`` (N) and
    implement :meth:`init` and :meth:`step`. One call of :meth:`step` is one generation: it
    evaluates (at most) N new vectors, i.e. O(N · B · T · cost(cell step)).
    """

    population_size: int

    @abc.abstractmethod
    def init(self, key: jax.Array, population: jax.Array, mse: jax.Array) -> Any:
        """The state before the first generation.

        Arguments:
            key: a PRNG key.
            population: the initial vectors ``(N, P)`` (N independent draws of ``cell.init``).
            mse: their MSEs ``(N,)``.

        Returns:
            The method's ``<Name>State`` (with ``best_x (P,)`` and ``best_mse ()``).
        """

    @abc.abstractmethod
    def step(self, key: jax.Array, state: Any, mse_fn: MseFn) -> Any:
        """One generation: ``state → state``. Pure and jittable; ``mse_fn: (N, P) → (N,)``."""


def best_of(xs: jax.Array, mse: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The best row of ``xs (N, P)`` and its MSE: ``(x (P,), mse ())``."""
    i = jnp.argmin(mse)
    return xs[i], mse[i]


def update_best(
    best_x: jax.Array, best_mse: jax.Array, xs: jax.Array, mse: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Keep the better of ``(best_x (P,), best_mse ())`` and the best row of ``xs (N, P)``."""
    x, m = best_of(xs, mse)
    better = m < best_mse
    return jnp.where(better, x, best_x), jnp.where(better, m, best_mse)


def check_population(value: Any) -> None:
    """``population_size`` must be an int ≥ 2 (a population of one is no population)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"population_size must be an int >= 2, got {value!r}")
    if value < 2:
        raise ValueError(f"population_size must be >= 2, got {value}")


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raise unless ``value`` is a real number > 0 (≥ 0 with ``allow_zero``), finite."""
    v = _check_real(name, value)
    if not (v >= 0 if allow_zero else v > 0) or v == float("inf"):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")


def check_fraction(name: str, value: Any, *, closed: bool = True) -> None:
    """Raise unless ``value`` is in [0, 1] (``closed``) or [0, 1)."""
    v = _check_real(name, value)
    if not (0.0 <= v <= 1.0 if closed else 0.0 <= v < 1.0):
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value}")
