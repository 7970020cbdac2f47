"""Unbiased Online Recurrent Optimization, UORO (Tallec & Ollivier, ICLR 2018)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradalgos.algorithms.credit import add, check_readout, immediate_credit, step_pullback
from gradalgos.algorithms.info import AlgorithmInfo
from gradalgos.algorithms.noise import check_carry_key, signs_and_next_key
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.algorithms.sequence import Loss
from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.cells.dependence import state_parameter_mask

__all__ = ["UORO", "UOROState"]


class UOROState(NamedTuple):
    """Carry of :class:`UORO`.

    Attributes:
        state: the cell's state s_t.
        s_tilde: ``(S,)``, the state factor of the rank-one estimate M̃_t = s̃_t θ̃_tᵀ.
        theta_tilde: a pytree like the parameters (the parameter factor), ``None`` for the
            parameters the state does not depend on (readouts: their ∂s/∂θ is 0).
        key: the PRNG key of the next step's noise.
    """

    state: State
    s_tilde: jax.Array
    theta_tilde: Params
    key: jax.Array


def norm(tree: Any) -> jax.Array:
    """The Euclidean norm of all the (non-``None``) leaves of ``tree`` together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree)))


def balance(num: jax.Array, den: jax.Array) -> jax.Array:
    """``√((num + ε)/(den + ε))`` with ε = √(tiny) of the dtype: the variance-minimising
    rescaling of a rank-one sum's two terms (Tallec & Ollivier 2018), finite where either
    norm is 0 (1 where both are: the first step; a factor whose partner vanished is dropped).
    Any positive value keeps the estimate unbiased; ε changes it only for norms near ε."""
    eps = jnp.sqrt(jnp.finfo(num.dtype).tiny).astype(num.dtype)
    return jnp.sqrt((num + eps) / (den + eps))


def state_jvp(
    cell: AbstractCell, params: Params, state: State, x: jax.Array
) -> tuple[jax.Array, Any]:
    """``(s_t flat, v ↦ J^s_t v)``: the step linearised in the flat state (``jax.linearize``;
    the linear map costs O(cost(step)) per vector, ``jax.vmap`` it for many)."""
    s_prev, unravel = ravel_pytree(state)

    def state_step(s: jax.Array) -> jax.Array:
        return ravel_pytree(cell.step(params, unravel(s), x)[0])[0]

    return jax.linearize(state_step, s_prev)


@dataclasses.dataclass(frozen=True)
class UORO(AbstractOnlineAlgorithm):
    """UORO: a rank-one, unbiased estimate M̃_t = s̃_t θ̃_tᵀ of RTRL's M_t = ∂s_t/∂θ.

    Per step, with fresh Rademacher noise ν ∈ {±1}^S::

        a = J^s_t s̃_{t-1}               (one forward-mode pass of the step in s)
        b = νᵀ J^θ_t                    (one reverse pass of the step in θ)
        ρ0 = √(‖θ̃_{t-1}‖/‖a‖),  ρ1 = √(‖b‖/‖ν‖)
        s̃_t = ρ0 a + ρ1 ν,       θ̃_t = θ̃_{t-1}/ρ0 + b/ρ1
        g_t = (q_t·s̃_t) θ̃_t + ∂ℓ_t/∂θ|readout,      q_t = ∂ℓ_t/∂s_t

    ``E[s̃_t θ̃_tᵀ] = J^s_t E[s̃_{t-1} θ̃_{t-1}ᵀ] + J^θ_t`` (E[ννᵀ] = I and the cross terms
    are odd in ν while ρ1 is even), so M̃_t and g_t are unbiased; their variance is high
    (Cooijmans & Martens 2019). The gradient uses M̃_t after step t's update (the published
    convention of the approximate methods, :mod:`gradalgos.algorithms.credit`). ρ0, ρ1
    balance the two terms' norms; a zero norm is guarded (:func:`balance`): at t = 0
    (s̃ = 0, θ̃ = 0) the first step gives s̃ = ρ1 ν, θ̃ = b/ρ1.

    Noise: the carry holds a PRNG key; each step draws ν and the next key from it in one
    call (:func:`~gradalgos.algorithms.noise.signs_and_next_key`), so the same ``init`` key
    gives the same numbers. ``value_and_grad(..., key=k)``
    gives sequence i of a batch the key ``jax.random.split(k, B)[i]`` (B = 1 for an unbatched
    sequence).

    Time per step O(cost(step)) (≈ 3 passes of the step), memory O(S + P): O(n²) for a fully
    connected cell. θ̃ is kept only for the parameters the state depends on.
    """

    info: ClassVar[AlgorithmInfo] = AlgorithmInfo(
        "uoro",
        "UORO",
        exact=False,
        online=True,
        stochastic=True,
        time_exponent=2,
        memory_exponent=2,
        memory_vs_T=0,
        reference="Tallec & Ollivier 2018",
    )
    carry_type: ClassVar[type] = UOROState

    def check_supported(self, cell: AbstractCell, params: Params, state: State) -> None:
        check_readout(self, cell, params, state)

    def initial_carry(
        self, cell: AbstractCell, params: Params, state: State, key: jax.Array | None
    ) -> UOROState:
        keep = state_parameter_mask(cell, params, state)
        theta = jax.tree_util.tree_map(lambda p, k: jnp.zeros_like(p) if k else None, params, keep)
        s = ravel_pytree(state)[0]
        return UOROState(state, jnp.zeros_like(s), theta, key)

    def check_carry(self, cell: AbstractCell, params: Params, carry: UOROState) -> None:
        from gradalgos._validation import _shape_str, check_leaf_shapes

        S = cell.state_size
        got = tuple(jnp.shape(carry.s_tilde))
        if got != (S,):
            raise ValueError(
                f"carry.s_tilde must have shape {_shape_str((S,))} (S,) for UORO on "
                f"{type(cell).__name__}, got {_shape_str(got)}; build the carry with init()"
            )
        keep = jax.tree_util.tree_leaves(state_parameter_mask(cell, params, carry.state))
        where = f"for UORO on {type(cell).__name__}"
        want = lambda i, p: tuple(jnp.shape(p)) if keep[i] else None  # noqa: E731
        check_leaf_shapes("carry.theta_tilde", carry.theta_tilde, params, want, where)
        check_carry_key(self, carry.key)

    def update(
        self,
        cell: AbstractCell,
        loss: Loss,
        params: Params,
        carry: UOROState,
        xs: jax.Array,
        targets: jax.Array,
        mask: jax.Array,
    ) -> tuple[UOROState, jax.Array, Params]:
        _, jvp = state_jvp(cell, params, carry.state, xs)
        a = jvp(carry.s_tilde)
        step = step_pullback(cell, params, carry.state, xs)
        nu, key = signs_and_next_key(carry.key, step.flat.shape, step.flat.dtype)
        b = jax.tree_util.tree_map(
            lambda t, g: None if t is None else g,
            carry.theta_tilde,
            step.pull_params(nu),
            is_leaf=lambda v: v is None,
        )
        rho0 = balance(norm(carry.theta_tilde), norm(a))
        rho1 = balance(norm(b), jnp.sqrt(jnp.asarray(nu.size, nu.dtype)))  # ‖ν‖ = √S
        s_tilde = rho0 * a + rho1 * nu
        inv0, inv1 = 1 / rho0, 1 / rho1  # two scalar divisions, not two per parameter
        theta = jax.tree_util.tree_map(lambda t, g: t * inv0 + g * inv1, carry.theta_tilde, b)
        credit = immediate_credit(cell, loss, params, step.state, xs, targets, mask)
        coef = jnp.dot(credit.q, s_tilde, precision=jax.lax.Precision.HIGHEST)
        grads = add(credit.direct, jax.tree_util.tree_map(lambda t: coef * t, theta))
        return UOROState(step.state, s_tilde, theta, key), credit.value, grads
