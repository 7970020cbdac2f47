"""Real-time recurrent learning (Robinson & Fallside 1987; Williams & Zipser 1989)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax

from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sensitivity import SensitivityState
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params
from gradalgos.losses import mse

__all__ = ["RTRL"]


@dataclasses.dataclass(frozen=True)
class RTRL(AbstractOnlineAlgorithm):
    """Real-time recurrent learning: carry the sensitivity M_t = ∂s_t/∂θ (S×P) forward,

        M_t = J^s_t · M_{t-1} + J^θ_t,     dℓ_t/dθ = ∂ℓ_t/∂θ|direct + ∂ℓ_t/∂s_{t-1} · M_{t-1}

    J^s_t ``(S, S)`` and J^θ_t ``(S, P)`` come from one ``jax.vjp`` of the step pulled back
    along the S unit vectors (``jax.vmap``), so J^θ is never formed from a P×P identity; the
    tangent update J^s·M is a single GEMM per parameter leaf (M is stored per leaf, leaves
    ``(S, *leaf.shape)``; see :class:`SensitivityState`). Exact.

    Time O(S²·P + S·cost(step)) per step: O(n⁴) for a fully connected cell (P ≈ n²).
    Memory O(S·P) = O(n³), independent of T: XLA's scratch holds M and J·M (2·S·P numbers).
    P counts the parameters the state depends on: M is not carried for a readout
    (:mod:`gradalgos.cells.dependence`).

    Offline: :func:`gradalgos.value_and_grad`. Online: :meth:`init`, then :meth:`step` at every
    time step, which returns that step's loss and gradient (with fixed weights, the sum of the
    per-step gradients is the full gradient).
    """

    single_step: ClassVar[bool] = True

    def block_length(self, cell: AbstractCell) -> int:
        return 1

    def step(
        self,
        cell: AbstractCell,
        params: Params,
        carry: SensitivityState,
        x: jax.Array,
        target: jax.Array,
        *,
        loss: Loss = mse,
        mask: jax.Array | None = None,
        donate_carry: bool = False,
    ) -> tuple[SensitivityState, jax.Array, Params]:
        """One online step.

        Arguments:
            carry: from :meth:`init` or the previous step.
            x: input ``(m,)``; target: ``(o,)`` or an integer label ``()``; mask: scalar or None.
            donate_carry: reuse ``carry``'s buffers for the new carry (no new M is allocated;
                ``carry`` is invalid afterwards, see :meth:`advance`).

        Returns:
            ``(carry_t, mask_t·ℓ_t, dℓ_t/dθ)``, the gradient a pytree like ``params``.

        Compiled once per (cell, loss, shapes): a loop of calls reuses it. Pass a module-level
        ``loss``; a new lambda on every call recompiles every call.
        """
        return self.advance(cell, params, carry, x, target, loss, mask, donate_carry)
