"""Linear recurrent unit (LRU), Orvieto et al. 2023, written in real arithmetic."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from gradalgos.cells._common import check_fields, check_positive_float, zeros_state
from gradalgos.cells.base import AbstractCell, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["LRU"]


@dataclasses.dataclass(frozen=True)
class LRU(AbstractCell):
    """Linear recurrent unit (Orvieto et al. 2023, "Resurrecting recurrent neural networks for
    long sequences"): a complex diagonal linear recurrence with an exponential
    parametrisation, a normalised input and a linear read-out of its real part::

        λ   = exp(−exp(ν) + i·exp(θ))                  (n,) complex, |λ| = exp(−exp(ν)) < 1
        h_t = λ ⊙ h_{t-1} + exp(γ) ⊙ (B x_t)           B = B_re + i·B_im
        y_t = Re(C h_t) + D x_t                         C = C_re + i·C_im

    The library needs one real dtype, so the complex state is stored as its real and
    imaginary parts and every product is expanded (``h = h_re + i·h_im``)::

        λ_re = exp(−exp(ν)) cos(exp(θ))        λ_im = exp(−exp(ν)) sin(exp(θ))
        h_re,t = λ_re h_re − λ_im h_im + exp(γ) ⊙ (B_re x_t)
        h_im,t = λ_re h_im + λ_im h_re + exp(γ) ⊙ (B_im x_t)
        y_t    = C_re h_re,t − C_im h_im,t + D x_t

    The paper's LRU layer is this recurrence inside a residual block with normalisation and
    an MLP; the cell is the recurrence and its linear read-out only.

    **Parameters** (a dict): ``nu_log (n,)`` (ν), ``theta_log (n,)`` (θ), ``gamma_log (n,)``
    (γ), ``B_re (n, m)``, ``B_im (n, m)``, ``C_re (o, n)``, ``C_im (o, n)``, ``D (o, m)``;
    P = 3n + 2n·m + 2o·n + o·m. **State**: ``(h_re (n,), h_im (n,))``, zeros at t = 0; S = 2n.
    Cost of one step: O(n·m + o·n + o·m).

    **Init** (as in the paper): with u1, u2 ~ U(0, 1), the eigenvalues are uniform on the ring
    ``r_min ≤ |λ| ≤ r_max``, phase in ``[0, max_phase)``::

        ν = log(−½·log(u1·(r_max² − r_min²) + r_min²))      θ = log(max_phase·u2)
        γ = log(√(1 − |λ|²))
        B_re, B_im ~ N(0, 1/(2m)),   C_re, C_im ~ N(0, 1/n),   D ~ N(0, 1/m)

    So that every logarithm stays finite, ``|λ|²`` is clipped to ``[tiny, 1 − eps]`` of the
    dtype and u2 is drawn from ``[eps, 1)`` (no effect except at the edges of the ranges).

    Arguments:
        input_size: m.
        hidden_size: n (complex units).
        output_size: o.
        r_min, r_max: the ring of initial eigenvalue moduli, 0 ≤ r_min < r_max ≤ 1 (defaults
            0.4 and 0.99).
        max_phase: initial phases are uniform in ``[0, max_phase)``, > 0 (default 2π).
    """

    input_size: int
    hidden_size: int
    output_size: int
    r_min: float = 0.4
    r_max: float = 0.99
    max_phase: float = 2 * math.pi

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("r_min", "r_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(
                    f"{name} must be a number in [0, 1], got {value!r} ({type(value).__name__})"
                )
        if not 0 <= self.r_min < self.r_max <= 1:
            raise ValueError(
                f"r_min and r_max must satisfy 0 ≤ r_min < r_max ≤ 1, "
                f"got r_min={self.r_min}, r_max={self.r_max}"
            )
        check_positive_float("max_phase", self.max_phase)

    def init(self, key: jax.Array, dtype: Any = None) -> dict[str, jax.Array]:
        dtype = default_float(dtype)
        n, m, o = self.hidden_size, self.input_size, self.output_size
        k_u1, k_u2, k_bre, k_bim, k_cre, k_cim, k_d = jax.random.split(key, 7)
        info = jnp.finfo(dtype)
        u1 = jax.random.uniform(k_u1, (n,), dtype)
        u2 = jax.random.uniform(k_u2, (n,), dtype, minval=info.eps)
        radius2 = u1 * (self.r_max**2 - self.r_min**2) + self.r_min**2  # |λ|²
        radius2 = jnp.clip(radius2, info.tiny, 1 - info.eps)
        return {
            "nu_log": jnp.log(-0.5 * jnp.log(radius2)),
            "theta_log": jnp.log(self.max_phase * u2),
            "gamma_log": 0.5 * jnp.log1p(-radius2),  # log √(1 − |λ|²)
            "B_re": scaled_normal(k_bre, (n, m), 2 * m, dtype),
            "B_im": scaled_normal(k_bim, (n, m), 2 * m, dtype),
            "C_re": scaled_normal(k_cre, (o, n), n, dtype),
            "C_im": scaled_normal(k_cim, (o, n), n, dtype),
            "D": scaled_normal(k_d, (o, m), m, dtype),
        }

    def initial_state(self, dtype: Any = None) -> tuple[jax.Array, jax.Array]:
        zeros = zeros_state(self.hidden_size, dtype)
        return zeros, zeros

    def eigenvalues(self, params: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        """``(λ_re, λ_im)``, each ``(n,)``: the diagonal recurrence in real form. O(n)."""
        modulus = jnp.exp(-jnp.exp(params["nu_log"]))
        phase = jnp.exp(params["theta_log"])
        return modulus * jnp.cos(phase), modulus * jnp.sin(phase)

    def step(
        self,
        params: dict[str, jax.Array],
        state: tuple[jax.Array, jax.Array],
        x: jax.Array,
    ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        h_re, h_im = state
        lam_re, lam_im = self.eigenvalues(params)
        gamma = jnp.exp(params["gamma_log"])
        u_re = gamma * (params["B_re"] @ x)
        u_im = gamma * (params["B_im"] @ x)
        h_re, h_im = lam_re * h_re - lam_im * h_im + u_re, lam_re * h_im + lam_im * h_re + u_im
        y = params["C_re"] @ h_re - params["C_im"] @ h_im + params["D"] @ x
        return (h_re, h_im), y
