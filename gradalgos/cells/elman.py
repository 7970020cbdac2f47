"""Elman network (simple recurrent network), Elman 1990, optionally with a sparse recurrent
matrix (a fixed random mask, or a ring)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells._common import check_entry_indices
from gradalgos.cells.activations import resolve_activation
from gradalgos.cells.base import AbstractCell, check_positive_int, default_float
from gradalgos.cells.initializers import RECURRENT_INITS, recurrent_matrix, scaled_normal

__all__ = ["Elman"]


@dataclasses.dataclass(frozen=True)
class Elman(AbstractCell):
    """Fully connected recurrent layer with a linear read-out::

        h_t = act(W_rec h_{t-1} + W_in x_t + b)
        y_t = W_out h_t + b_out

    **Parameters** (a dict): ``W_in (n, m)``, ``W_rec (n, n)``, ``b (n,)``, ``W_out (o, n)``,
    ``b_out (o,)``; P = n² + n·m + n + o·n + o. **State**: ``h (n,)``, zeros at t = 0; S = n.
    Cost of one step: O(n² + n·m + o·n).

    **Sparse recurrence** (``density < 1`` or ``ring=True``): a fixed boolean mask
    (:meth:`recurrent_mask`, computed from the fields, never learned) keeps some entries of
    ``W_rec``; the step uses ``where(mask, W_rec, 0)``, so the masked entries are structurally
    absent (zero gradient; tools that trace the step see a constant mask, not a product).
    ``W_rec`` keeps its dense ``(n, n)`` shape and P counts all n² entries; the masked ones are
    zero at init and stay irrelevant. The step still multiplies the dense ``(n, n)`` matrix:
    same cost as above.

    * ``density = d``: each entry (diagonal included) kept independently with probability d,
      drawn with NumPy from ``mask_seed``. Initial ``W_rec`` entries ~ N(0, 1/(d·n)) (the
      expected fan-in is d·n), times ``recurrent_scale``.
    * ``ring=True``: only ``W_rec[i, i]`` and ``W_rec[i, (i − 1) mod n]`` (unit i hears itself
      and unit i − 1). Initial entries ~ N(0, 1/2) (fan-in 2; N(0, 1) for n = 1), times
      ``recurrent_scale``.

    With ``recurrent_init="orthogonal"`` or ``"identity"`` the matrix is drawn as for a dense
    cell and then masked (a masked orthogonal matrix is no longer orthogonal). With the
    defaults (dense) the cell is the plain Elman network: same parameters from the same key,
    same step.

    Arguments:
        input_size: m.
        hidden_size: n.
        output_size: o.
        activation: ``"tanh"`` (default), ``"relu"``, … (see ``cells.activations``) or a callable
            (element-wise).
        recurrent_init: ``"normal"`` (N(0, 1/n), default), ``"orthogonal"`` or ``"identity"``.
        recurrent_scale: multiplies the initial ``W_rec`` (its spectral radius for orthogonal).
        density: fraction of recurrent weights kept, 0 < density ≤ 1 (default 1: dense).
        mask_seed: seed (int ≥ 0) of the NumPy generator that draws the ``density`` mask.
        ring: keep only the ring pattern above (exclusive with ``density < 1``).
    """

    input_size: int
    hidden_size: int
    output_size: int
    activation: str | Callable = "tanh"
    recurrent_init: str = "normal"
    recurrent_scale: float = 1.0
    density: float = 1.0
    mask_seed: int = 0
    ring: bool = False

    def __post_init__(self) -> None:
        check_positive_int("input_size", self.input_size)
        check_positive_int("hidden_size", self.hidden_size)
        check_positive_int("output_size", self.output_size)
        resolve_activation(self.activation)
        if self.recurrent_init not in RECURRENT_INITS:
            raise ValueError(
                f"recurrent_init must be one of {RECURRENT_INITS}, got {self.recurrent_init!r}"
            )
        if isinstance(self.density, bool) or not isinstance(self.density, int | float):
            raise TypeError(
                f"density must be a number in (0, 1], got {self.density!r} "
                f"({type(self.density).__name__})"
            )
        if not 0 < self.density <= 1:
            raise ValueError(f"density must be in (0, 1], got {self.density}")
        if isinstance(self.mask_seed, bool) or not isinstance(self.mask_seed, int):
            raise TypeError(
                f"mask_seed must be an int ≥ 0, got {self.mask_seed!r} "
                f"({type(self.mask_seed).__name__})"
            )
        if self.mask_seed < 0:
            raise ValueError(f"mask_seed must be an int ≥ 0, got {self.mask_seed}")
        if not isinstance(self.ring, bool):
            raise TypeError(f"ring must be a bool, got {self.ring!r}")
        if self.ring and self.density < 1:
            raise ValueError(
                f"ring=True and density={self.density} are exclusive: the ring fixes the "
                "pattern; leave density at 1"
            )

    @property
    def sparse(self) -> bool:
        """Whether ``W_rec`` is masked (``density < 1`` or ``ring``)."""
        return self.ring or self.density < 1

    def recurrent_mask(self) -> np.ndarray | None:
        """The ``(n, n)`` NumPy bool mask of the kept ``W_rec`` entries, or ``None`` when dense.

        Deterministic in ``(n, density, mask_seed, ring)`` and cached; the array is read-only
        (copy it to modify).
        """
        if not self.sparse:
            return None
        return _recurrent_mask(self.hidden_size, float(self.density), self.mask_seed, self.ring)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_in, k_rec, k_out = jax.random.split(key, 3)
        mask = self.recurrent_mask()
        if mask is not None and self.recurrent_init == "normal":
            fan_in = min(n, 2) if self.ring else self.density * n
            W_rec = scaled_normal(k_rec, (n, n), fan_in, dtype)
            W_rec = (self.recurrent_scale * W_rec).astype(dtype)
        else:
            W_rec = recurrent_matrix(k_rec, n, self.recurrent_init, dtype, self.recurrent_scale)
        if mask is not None:
            W_rec = jnp.where(mask, W_rec, 0).astype(dtype)
        return {
            "W_in": scaled_normal(k_in, (n, m), m, dtype),
            "W_rec": W_rec,
            "b": jnp.zeros((n,), dtype),
            "W_out": scaled_normal(k_out, (o, n), n, dtype),
            "b_out": jnp.zeros((o,), dtype),
        }

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return jnp.zeros((self.hidden_size,), default_float(dtype))

    def _recurrent_weights(self, W_rec: jax.Array) -> jax.Array:
        """``W_rec`` with the masked entries replaced by a structural 0 (a ``where`` on a
        constant mask); ``W_rec`` itself when dense."""
        mask = self.recurrent_mask()
        return W_rec if mask is None else jnp.where(mask, W_rec, 0)

    def _preactivation(self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array):
        # Column form W h: for one sequence (B = 1) XLA:CPU runs h·Wᵀ as a matrix-vector
        # product on a transposed copy of W_rec, made on every call (and in every window of
        # TBPTT or segment of checkpointed BPTT): n² of scratch and, measured at n = 4096, a
        # third of BPTT's time. W h needs no copy; for batches the two forms time alike.
        return self._recurrent_weights(params["W_rec"]) @ state + params["W_in"] @ x + params["b"]

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        act = resolve_activation(self.activation)
        h = act(self._preactivation(params, state, x))
        return h, params["W_out"] @ h + params["b_out"]

    def batch_step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """:meth:`step` on a batch (``state (B, n)``, ``x (B, m)``) in row form ``h·Wᵀ``: the
        vmapped column form yields ``(n, B)`` products that XLA transposes on every step
        (1.1–1.2× a hand-written batched scan at n = 64…128, B = 32). One sequence keeps the
        column form (the row form copies ``W_rec`` transposed there: see ``_preactivation``)."""
        overridden = type(self).step is not Elman.step  # a subclass's own equations
        if state.shape[0] == 1 or overridden:
            return super().batch_step(params, state, x)
        act = resolve_activation(self.activation)
        W_rec = self._recurrent_weights(params["W_rec"])
        h = act(state @ W_rec.T + x @ params["W_in"].T + params["b"])
        return h, h @ params["W_out"].T + params["b_out"]

    def state_jacobian_entries(
        self,
        params: dict[str, jax.Array],
        state: jax.Array,
        x: jax.Array,
        rows: np.ndarray,
        cols: np.ndarray,
    ) -> jax.Array:
        """Entries of the state Jacobian ``J^s = ∂h_t/∂h_{t-1}`` without forming it.

        ``J^s = diag(act'(a)) · W̃_rec`` with ``a = W̃_rec h_{t-1} + W_in x_t + b`` and
        ``W̃_rec`` the masked ``W_rec`` (``W_rec`` when dense); ``act'(a)`` is a JVP of the
        activation with a vector of ones (any element-wise activation, callables included).

        Arguments:
            params, state, x: as for :meth:`step` (``state = h_{t-1} (n,)``, ``x (m,)``).
            rows, cols: static NumPy int arrays ``(K,)`` of flat state indices in ``[0, n)``.

        Returns:
            ``(K,)``: ``J^s[rows[k], cols[k]]``, equal to the same entries of the dense
            Jacobian (``jax.jacfwd`` of the step's new state); masked entries are exactly 0.

        Cost: O(K + cost(step)) (one pre-activation, one JVP of the activation, K gathers).
        """
        rows, cols = check_entry_indices(rows, cols, self.hidden_size)
        a = self._preactivation(params, state, x)
        act = resolve_activation(self.activation)
        slope = jax.jvp(act, (a,), (jnp.ones_like(a),))[1]
        weights = params["W_rec"][rows, cols]
        mask = self.recurrent_mask()
        if mask is not None:
            weights = jnp.where(mask[rows, cols], weights, 0)
        return slope[rows] * weights


@functools.lru_cache(maxsize=64)
def _recurrent_mask(n: int, density: float, seed: int, ring: bool) -> np.ndarray:
    """The read-only ``(n, n)`` bool mask of :meth:`Elman.recurrent_mask` (cached)."""
    if ring:
        mask = np.zeros((n, n), bool)
        units = np.arange(n)
        mask[units, units] = True
        mask[units, (units - 1) % n] = True
    else:
        mask = np.random.default_rng(seed).random((n, n)) < density
    mask.flags.writeable = False
    return mask
