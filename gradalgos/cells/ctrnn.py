"""Continuous-time RNN (Euler-discretised), with several time scales an MTRNN
(Yamashita & Tani 2008)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells._common import (
    check_entry_indices,
    check_fields,
    check_positive_float,
    input_readout_params,
    linear_readout,
    zeros_state,
)
from gradalgos.cells.activations import resolve_activation
from gradalgos.cells.base import AbstractCell, check_positive_int, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["CTRNN"]


@dataclasses.dataclass(frozen=True)
class CTRNN(AbstractCell):
    """One explicit-Euler step of ``τ ⊙ dh/dt = −h + W_rec σ(h) + W_in x + b``, linear
    read-out::

        h_t = h_{t-1} + (dt / τ) ⊙ (−h_{t-1} + W_rec σ(h_{t-1}) + W_in x_t + b)
        y_t = W_out h_t + b_out

    ``τ (n,)`` is fixed (a hyper-parameter, not learned), given as groups of units sharing a
    time constant: ``taus=((8, 1.0), (4, 8.0))`` is 8 fast units (τ = 1) then 4 slow ones
    (τ = 8). Several groups make a multiple-timescale RNN (MTRNN, Yamashita & Tani 2008;
    here fully connected, without their restricted connectivity). With ``dt = τ`` a unit
    forgets its past at once; ``dt > τ`` over-shoots the leak, and ``dt > 2τ`` makes it
    unstable (the Euler step's leak factor is 1 − dt/τ).

    **Parameters** (a dict): ``W_in (n, m)``, ``W_rec (n, n)``, ``b (n,)``, ``W_out (o, n)``,
    ``b_out (o,)``; P = n² + n·m + n + o·n + o, with n = Σ counts.
    **State**: ``h (n,)`` (the membrane potentials; the read-out sees h, not σ(h)), zeros at
    t = 0; S = n. Cost of one step: O(n² + n·m + o·n).

    Arguments:
        input_size: m.
        output_size: o.
        taus: groups ``((count, tau), ...)``; n = Σ counts. Lists are accepted and stored as
            tuples (the cell must stay hashable).
        dt: the Euler step (default 1).
        activation: σ, ``"tanh"`` (default), … or a callable.
    """

    input_size: int
    output_size: int
    taus: tuple[tuple[int, float], ...]
    dt: float = 1.0
    activation: str | Callable = "tanh"

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "taus", _normalise_taus(self.taus))
        check_positive_float("dt", self.dt)

    @property
    def hidden_size(self) -> int:
        """n = Σ counts."""
        return sum(count for count, _ in self.taus)

    def time_constants(self, dtype: Any = None) -> jax.Array:
        """τ ``(n,)``, each group's tau repeated count times."""
        tau = np.concatenate([np.full(count, tau) for count, tau in self.taus])
        return jnp.asarray(tau, default_float(dtype))

    def leak_rate(self, dtype: Any = None) -> jax.Array:
        """The Euler step's leak α = dt/τ ``(n,)``: ``h_t = (1 − α) h_{t-1} + α·drive``
        (what :class:`gradalgos.RFLO` uses when given no leak)."""
        return self.dt / self.time_constants(dtype)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_rec, k_rest = jax.random.split(key)
        W_rec = scaled_normal(k_rec, (n, n), n, dtype)
        return {"W_rec": W_rec, **input_readout_params(k_rest, n, m, o, dtype)}

    def initial_state(self, dtype: Any = None) -> jax.Array:
        return zeros_state(self.hidden_size, dtype)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, x: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        act = resolve_activation(self.activation)
        rate = self.leak_rate(state.dtype)
        drive = params["W_rec"] @ act(state) + params["W_in"] @ x + params["b"]
        h = state + rate * (drive - state)
        return h, linear_readout(params, h)

    def state_jacobian_entries(
        self,
        params: dict[str, jax.Array],
        state: jax.Array,
        x: jax.Array,
        rows: np.ndarray,
        cols: np.ndarray,
    ) -> jax.Array:
        """Entries of the state Jacobian ``J^s = ∂h_t/∂h_{t-1}`` without forming it.

        With ``r = dt/τ``: ``J^s = diag(1 − r) + diag(r) · W_rec · diag(σ'(h_{t-1}))``, i.e.
        ``J^s[i, j] = [i = j](1 − r_i) + r_i W_rec[i, j] σ'(h_{t-1, j})``; ``σ'`` is a JVP of
        the activation with a vector of ones (any element-wise activation, callables included).

        Arguments:
            params, state, x: as for :meth:`step` (``state = h_{t-1} (n,)``; ``x`` is unused,
                the Jacobian does not depend on it).
            rows, cols: static NumPy int arrays ``(K,)`` of flat state indices in ``[0, n)``.

        Returns:
            ``(K,)``: ``J^s[rows[k], cols[k]]``, equal to the same entries of the dense
            Jacobian (``jax.jacfwd`` of the step's new state).

        Cost: O(K + n) (one JVP of the activation, K gathers), within O(K + cost(step)).
        """
        del x
        rows, cols = check_entry_indices(rows, cols, self.hidden_size)
        act = resolve_activation(self.activation)
        slope = jax.jvp(act, (state,), (jnp.ones_like(state),))[1]
        rate = self.leak_rate(state.dtype)
        leak = jnp.where(rows == cols, 1 - rate[rows], 0)
        return leak + rate[rows] * params["W_rec"][rows, cols] * slope[cols]


def _normalise_taus(taus: Any) -> tuple[tuple[int, float], ...]:
    """``taus`` as a tuple of ``(count, tau)`` tuples, checked."""
    if not isinstance(taus, tuple | list) or not taus:
        raise TypeError(
            f"taus must be a non-empty tuple of (count, tau) pairs, e.g. ((8, 1.0), (4, 8.0)), "
            f"got {taus!r}"
        )
    groups = []
    for i, group in enumerate(taus):
        if not isinstance(group, tuple | list) or len(group) != 2:
            raise TypeError(f"taus[{i}] must be a (count, tau) pair, got {group!r}")
        count, tau = group
        check_positive_int(f"taus[{i}] count", count)
        check_positive_float(f"taus[{i}] tau", tau)
        groups.append((count, float(tau)))
    return tuple(groups)
