"""Echo state network (Jaeger 2001): a fixed random reservoir and a ridge-regression readout."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.cells.base import check_positive_int, default_float
from gradalgos.gradient_free.base import check_fraction, check_positive

__all__ = ["ESNParams", "EchoStateNetwork"]


class ESNParams(NamedTuple):
    """A fitted ESN: reservoir ``W_in (n, m)``, ``W_res (n, n)`` and readout ``W_out (o, 1+m+n)``
    (columns: bias, inputs, reservoir state)."""

    W_in: jax.Array
    W_res: jax.Array
    W_out: jax.Array


@dataclasses.dataclass(frozen=True)
class EchoStateNetwork:
    """Leaky-integrator echo state network::

        h_t = (1 − leak) h_{t-1} + leak · tanh(W_in x_t + W_res h_{t-1}),   h_0 = 0
        y_t = W_out z_t,   z_t = [1, x_t, h_t]  (1 + m + n features)

    ``W_in ~ U(−input_scale, input_scale)`` (dense); ``W_res`` has each entry zero with
    probability ``sparsity``, the others N(0, 1), and is rescaled so that its spectral radius
    (largest |eigenvalue|) is ``spectral_radius``. Only ``W_out`` is trained, by ridge
    regression in closed form (:meth:`fit`). Cost: O(B·T·(n² + n·m)) to run the reservoir,
    O(B·T·F² + F³) for the readout, F = 1 + m + n.

    Arguments:
        input_size: m.
        reservoir_size: n.
        output_size: o.
        spectral_radius: ρ(W_res) > 0 (< 1 for the echo-state property, usually).
        sparsity: fraction of zero reservoir weights, in [0, 1).
        input_scale: > 0.
        leak: leaking rate in (0, 1].
        ridge: λ ≥ 0, Tikhonov regularisation of the readout.
        washout: first steps of every sequence left out of the fit (transient), ≥ 0.
    """

    input_size: int
    reservoir_size: int
    output_size: int
    spectral_radius: float = 0.9
    sparsity: float = 0.9
    input_scale: float = 1.0
    leak: float = 1.0
    ridge: float = 1e-6
    washout: int = 0

    def __post_init__(self) -> None:
        check_positive_int("input_size", self.input_size)
        check_positive_int("reservoir_size", self.reservoir_size)
        check_positive_int("output_size", self.output_size)
        check_positive("spectral_radius", self.spectral_radius)
        check_fraction("sparsity", self.sparsity, closed=False)
        check_positive("input_scale", self.input_scale)
        check_fraction("leak", self.leak)
        check_positive("leak", self.leak)
        check_positive("ridge", self.ridge, allow_zero=True)
        if isinstance(self.washout, bool) or not isinstance(self.washout, int):
            raise TypeError(f"washout must be an int >= 0, got {self.washout!r}")
        if self.washout < 0:
            raise ValueError(f"washout must be >= 0, got {self.washout}")

    def reservoir(self, key: jax.Array, dtype: Any = None) -> tuple[jax.Array, jax.Array]:
        """Random ``(W_in (n, m), W_res (n, n))``; ``W_res`` has the requested spectral radius.

        A draw whose reservoir is nilpotent (all eigenvalues 0, possible when n is small and
        the sparsity high) cannot be scaled and is redrawn (up to 100 times, then ValueError).
        """
        dtype = default_float(dtype)
        n, m = self.reservoir_size, self.input_size
        k_in, k_res = jax.random.split(key)
        w_in = jax.random.uniform(k_in, (n, m), dtype, -self.input_scale, self.input_scale)
        for attempt in range(100):
            k_w, k_keep = jax.random.split(jax.random.fold_in(k_res, attempt))
            keep = jax.random.bernoulli(k_keep, 1.0 - self.sparsity, (n, n))
            w = jnp.where(keep, jax.random.normal(k_w, (n, n), dtype), 0)
            radius = jnp.max(jnp.abs(jnp.linalg.eigvals(w)))
            if float(radius) > 1e-8:
                return w_in, (w * (self.spectral_radius / radius)).astype(dtype)
        raise ValueError(
            f"could not draw a reservoir with nonzero spectral radius (reservoir_size="
            f"{self.reservoir_size}, sparsity={self.sparsity}); lower the sparsity"
        )

    def features(self, w_in: jax.Array, w_res: jax.Array, xs: jax.Array) -> jax.Array:
        """``z (B, T, 1+m+n)`` = [1, x_t, h_t] for inputs ``xs (B, T, m)``."""

        def step(h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
            h = (1 - self.leak) * h + self.leak * jnp.tanh(w_in @ x + w_res @ h)
            return h, h

        def run(x_seq: jax.Array) -> jax.Array:
            _, hs = jax.lax.scan(step, jnp.zeros((self.reservoir_size,), xs.dtype), x_seq)
            return hs

        hs = jax.vmap(run)(xs)
        return jnp.concatenate([jnp.ones((*xs.shape[:2], 1), xs.dtype), xs, hs], axis=-1)

    def fit(
        self, key: jax.Array, xs: jax.Array, targets: jax.Array, mask: jax.Array | None = None
    ) -> ESNParams:
        """Draw the reservoir and fit the readout by ridge regression.

        With the features ``Z (F, K)`` and targets ``Y (o, K)`` of the K counted steps (those
        after the washout with mask ≠ 0; a fractional mask weights its step's squared error)::

            W_out = Y Zᵀ (Z Zᵀ + λ I)⁻¹     (computed from the SVD of Z, never forming Z Zᵀ)

        Arguments:
            key: PRNG key for the reservoir.
            xs: ``(B, T, m)`` floats.
            targets: ``(B, T, o)``.
            mask: ``(B, T)`` or None.

        Returns:
            :class:`ESNParams`.
        """
        xs = jnp.asarray(xs)
        targets = jnp.asarray(targets, xs.dtype)
        b, t, _ = self._check_xs(xs)
        if targets.shape != (b, t, self.output_size):
            raise ValueError(
                f"targets must have shape (B, T, o) = {(b, t, self.output_size)}, "
                f"got {targets.shape}"
            )
        if t <= self.washout:
            raise ValueError(f"washout={self.washout} leaves no step of T={t} to fit")
        weight = jnp.ones((b, t), xs.dtype) if mask is None else jnp.asarray(mask, xs.dtype)
        if weight.shape != (b, t):
            raise ValueError(f"mask must have shape (B, T) = {(b, t)}, got {weight.shape}")
        if not isinstance(weight, jax.core.Tracer) and not bool(jnp.all(weight >= 0)):
            raise ValueError("mask must be >= 0 (it weights each step's squared error)")
        w_in, w_res = self.reservoir(key, xs.dtype)
        return ESNParams(w_in, w_res, _ridge(self, w_in, w_res, xs, targets, weight))

    def predict(self, params: ESNParams, xs: jax.Array) -> jax.Array:
        """Outputs ``(B, T, o)`` for inputs ``xs (B, T, m)`` (washout steps included)."""
        xs = jnp.asarray(xs)
        self._check_xs(xs)
        return _predict(self, params, xs)

    def _check_xs(self, xs: jax.Array) -> tuple[int, ...]:
        if xs.ndim != 3 or xs.shape[-1] != self.input_size:
            raise ValueError(f"xs must have shape (B, T, m={self.input_size}), got {xs.shape}")
        if not jnp.issubdtype(xs.dtype, jnp.floating):
            raise TypeError(f"xs must be a float array, got dtype {xs.dtype}")
        return xs.shape


@functools.partial(jax.jit, static_argnums=0)
def _ridge(
    esn: EchoStateNetwork,
    w_in: jax.Array,
    w_res: jax.Array,
    xs: jax.Array,
    targets: jax.Array,
    weight: jax.Array,
) -> jax.Array:
    z = esn.features(w_in, w_res, xs)[:, esn.washout :]
    y = targets[:, esn.washout :]
    w = weight[:, esn.washout :, None]
    z, y, w = (a.reshape(-1, a.shape[-1]) for a in (z, y, w))
    # Ridge through the SVD of √w·Z, not the normal equations: forming ZᵀZ squares the
    # condition number (reservoir features are strongly correlated: cond(ZᵀZ) ≈ 5e8 on the
    # sine task), which float32 cannot solve, and the fit then changed with the CPU's rounding.
    root = jnp.sqrt(w)
    u, sv, vt = jnp.linalg.svd(root * z, full_matrices=False)
    shrink = sv / (sv * sv + esn.ridge)
    return (vt.T @ (shrink[:, None] * (u.T @ (root * y)))).T


@functools.partial(jax.jit, static_argnums=0)
def _predict(esn: EchoStateNetwork, params: ESNParams, xs: jax.Array) -> jax.Array:
    return esn.features(params.W_in, params.W_res, xs) @ params.W_out.T
