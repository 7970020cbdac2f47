"""The one interface every gradient algorithm implements."""

from __future__ import annotations

import abc
from typing import ClassVar

import jax

from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State

__all__ = ["AbstractAlgorithm"]


class AbstractAlgorithm(abc.ABC):
    """A way to compute ``(L, ∂L/∂θ, s_T)`` for a recurrent cell on a batch of sequences.

    Algorithms are frozen dataclasses holding only their settings (hashable: they are static
    arguments to ``jax.jit``). Users call :func:`gradalgos.value_and_grad`, which validates the
    inputs, adds a batch axis where there is none and jits; it then calls
    :meth:`batched_value_and_grad` here.

    ``info`` (an :class:`AlgorithmInfo`, declared on each concrete class) says what the
    harness, plots, CLI and tests need: its name, whether it is exact, online, stochastic, and
    its theory exponents. :mod:`gradalgos.algorithms.registry` lists the classes.
    """

    info: ClassVar[AlgorithmInfo]

    @property
    def exact(self) -> bool:
        """Whether the gradient equals ∂L/∂θ up to round-off."""
        return self.info.exact

    @abc.abstractmethod
    def batched_value_and_grad(
        self,
        cell: AbstractCell,
        params: Params,
        state0: State,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
        loss: Loss,
    ) -> tuple[jax.Array, Params, State]:
        """Validated, batched inputs → ``(L, grads, s_T)``.

        Arguments:
            cell: the cell.
            params: its parameters (unbatched pytree).
            state0: initial states, leaves ``(B, ...)``.
            xs: inputs ``(B, T, m)``.
            targets: ``(B, T, o)`` or integer labels ``(B, T)``.
            mask: ``(B, T)``, same float dtype as ``xs``.
            loss: per-step loss ``ℓ(y (o,), target) -> scalar``.

        Returns:
            ``L`` = mean over the batch of Σ_t mask_t ℓ(y_t, target_t) (scalar), ``∂L/∂θ``
            (same pytree as ``params``), and the final states (leaves ``(B, ...)``).
        """
