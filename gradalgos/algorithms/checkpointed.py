"""BPTT with gradient checkpointing over segments of the sequence."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp

from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.sequence import Loss, scan_loss
from gradalgos.cells.base import AbstractCell, Params, State, check_positive_int
from gradalgos.cells.sequence_cell import AbstractSequenceCell

__all__ = ["CheckpointedBPTT"]


@dataclasses.dataclass(frozen=True)
class CheckpointedBPTT(AbstractAlgorithm):
    """BPTT that stores only the state at segment boundaries (Gruslys et al. 2016, the √T
    scheme of Chen et al. 2016) and recomputes each segment's states in the backward pass.

    Exact. With segments of length ``c`` (default ``round(√T)``): memory O((T/c + c)·S) =
    O(√T·S); time ≈ 4× the forward pass (one extra forward).

    Arguments:
        segment: segment length c ≥ 1, or ``None`` for ``max(1, round(√T))``.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "checkpointed",
        "checkpointed BPTT",
        exact=True,
        online=False,
        stochastic=False,
        time_exponent=2,
        memory_exponent=None,
        memory_vs_T=0.5,
        reference="Gruslys et al. 2016; Chen et al. 2016",
    )

    segment: int | None = None

    def __post_init__(self) -> None:
        if self.segment is not None:
            check_positive_int("segment", self.segment)

    def segment_length(self, T: int) -> int:
        """The segment length used for a sequence of ``T`` steps."""
        if self.segment is not None:
            return min(self.segment, T)
        return max(1, round(math.sqrt(T)))

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
        if isinstance(cell, AbstractSequenceCell):  # e.g. a bidirectional network
            return cell.value_and_grad_by(self, params, state0, xs, targets, mask, loss)
        T = xs.shape[1]
        c = self.segment_length(T)
        n_seg, rem = divmod(T, c)

        def sequence_loss(params, s0, x, t, m):
            def segment(params, state, i, length):
                # Slice the segment inside the checkpointed function: only (state, i) are saved
                # for the backward pass, never a second copy of the inputs.
                seg = (jax.lax.dynamic_slice_in_dim(a, i * c, length) for a in (x, t, m))
                return scan_loss(cell, loss, params, state, *seg)

            segment = jax.checkpoint(segment, prevent_cse=False, static_argnums=(3,))

            def outer(carry, i):
                state, total = carry
                seg_total, state = segment(params, state, i, c)
                return (state, total + seg_total), None

            zero = jnp.zeros((), m.dtype)
            (state, total), _ = jax.lax.scan(outer, (s0, zero), jnp.arange(n_seg))
            if rem:
                tail_total, state = segment(params, state, n_seg, rem)
                total = total + tail_total
            return total, state

        def mean_loss(params):
            totals, state_T = jax.vmap(sequence_loss, in_axes=(None, 0, 0, 0, 0))(
                params, state0, xs, targets, mask
            )
            return jnp.mean(totals), state_T

        (value, state_T), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
        return value, grads, state_T
