"""Locally recurrent, globally feedforward network: a multilayer perceptron whose synapses are
IIR filters (Back & Tsoi 1991); FIR synapses (``fb_order=0``) give Wan's FIR network."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradalgos.cells.activations import resolve_activation
from gradalgos.cells.base import AbstractCell, check_positive_int, default_float
from gradalgos.cells.initializers import scaled_normal

__all__ = ["IIRMLP", "LayerStep"]

#: Largest Σ_q |v(q)| of a freshly drawn synapse: the initial filters are stable.
_FEEDBACK_BOUND = 0.5


class LayerStep(NamedTuple):
    """One layer's step (what :class:`gradalgos.CRBP` reads besides the new state)."""

    state: dict[str, jax.Array]  # {"taps": (L+1, m), "past": (I, n, m) if I > 0}
    preactivation: jax.Array  # s_n(t) (n,)
    output: jax.Array  # x_n(t) = σ(s_n(t)) (n,)


@dataclasses.dataclass(frozen=True)
class IIRMLP(AbstractCell):
    """IIR-MLP: layers l = 1 … M of N_l neurons (``sizes = (N_0, …, N_M)``) joined by IIR
    synapses of feedforward order L and feedback order I. Synapse n←m of layer l::

        y_nm(t) = Σ_{p=0..L} w_nm(p) x_m(t−p) + Σ_{q=1..I} v_nm(q) y_nm(t−q)
        s_n(t)  = Σ_m y_nm(t) + b_n,        x_n(t) = σ_l(s_n(t))

    with x^0 the network's input, σ_l = ``activation`` for hidden layers and
    ``output_activation`` for the last; the output is x^M(t). I = 0 is Wan's FIR network.

    **Parameters**: a tuple with one dict per layer, ``w (L+1, N_l, N_{l-1})``,
    ``v (I, N_l, N_{l-1})`` (absent when I = 0), ``b (N_l,)``; P = Σ_l N_l N_{l-1}(L+1+I) + N_l.
    Initial w ~ N(0, 1/(N_{l-1}(L+1))), v ~ U(−0.5/I, 0.5/I) (Σ_q|v(q)| ≤ 0.5: stable), b = 0.
    **State**: a tuple with one dict per layer, ``taps (L+1, N_{l-1})`` = x_m(t), …, x_m(t−L)
    (the current input included, so y_t is a function of s_t) and ``past (I, N_l, N_{l-1})`` =
    y_nm(t), …, y_nm(t−I+1) (absent when I = 0); zeros at t = 0.
    S = Σ_l (L+1) N_{l-1} + I N_l N_{l-1}. Cost of one step: O(P).

    References: Back & Tsoi, Neural Computation 3(3), 1991; Wan, "Temporal backpropagation for
    FIR neural networks", IJCNN 1990; Campolucci, Uncini, Piazza & Rao, IEEE Trans. Neural
    Networks 10(2), 1999 (CRBP: :class:`gradalgos.CRBP`).

    Arguments:
        sizes: (N_0, …, N_M), M ≥ 1 layers: N_0 = m inputs, N_M = o outputs.
        ff_order: L ≥ 0. fb_order: I ≥ 0 (L = I = 0, a static MLP, is refused).
        activation: hidden layers' σ (``"tanh"`` default; see ``cells.activations``).
        output_activation: the last layer's σ, ``"linear"`` (default) or an activation.
    """

    sizes: tuple[int, ...]
    ff_order: int = 1
    fb_order: int = 1
    activation: str | Callable = "tanh"
    output_activation: str | Callable = "linear"

    def __post_init__(self) -> None:
        if not isinstance(self.sizes, tuple | list) or len(self.sizes) < 2:
            raise TypeError(
                f"sizes must be a tuple (N_0, …, N_M) of at least 2 ints, got {self.sizes!r}"
            )
        object.__setattr__(self, "sizes", tuple(self.sizes))
        for i, size in enumerate(self.sizes):
            check_positive_int(f"sizes[{i}]", size)
        for name in ("ff_order", "fb_order"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int ≥ 0, got {value!r}")
        if self.ff_order == 0 and self.fb_order == 0:
            raise ValueError("ff_order=0 and fb_order=0 is a static MLP: give one of them ≥ 1")
        resolve_activation(self.activation)
        _output_activation(self.output_activation)

    @property
    def input_size(self) -> int:  # type: ignore[override]
        """m = N_0."""
        return self.sizes[0]

    @property
    def output_size(self) -> int:  # type: ignore[override]
        """o = N_M."""
        return self.sizes[-1]

    @property
    def num_layers(self) -> int:
        """M, the number of synapse layers."""
        return len(self.sizes) - 1

    def layer_activation(self, layer: int) -> Callable[[jax.Array], jax.Array]:
        """σ_l of layer ``layer`` (0-based)."""
        if layer == self.num_layers - 1:
            return _output_activation(self.output_activation)
        return resolve_activation(self.activation)

    def init(self, key: jax.Array, dtype: Any = None) -> tuple[dict[str, jax.Array], ...]:
        dtype = default_float(dtype)
        L, I = self.ff_order, self.fb_order
        layers = []
        pairs = itertools.pairwise(self.sizes)
        for key_l, (m, n) in zip(jax.random.split(key, self.num_layers), pairs, strict=True):
            k_w, k_v = jax.random.split(key_l)
            layer = {"w": scaled_normal(k_w, (L + 1, n, m), m * (L + 1), dtype)}
            if I:
                bound = _FEEDBACK_BOUND / I
                layer["v"] = jax.random.uniform(k_v, (I, n, m), dtype, -bound, bound)
            layer["b"] = jnp.zeros((n,), dtype)
            layers.append(layer)
        return tuple(layers)

    def initial_state(self, dtype: Any = None) -> tuple[dict[str, jax.Array], ...]:
        dtype = default_float(dtype)
        layers = []
        for m, n in itertools.pairwise(self.sizes):
            layer = {"taps": jnp.zeros((self.ff_order + 1, m), dtype)}
            if self.fb_order:
                layer["past"] = jnp.zeros((self.fb_order, n, m), dtype)
            layers.append(layer)
        return tuple(layers)

    def layer_step(
        self, layer: int, params: dict[str, jax.Array], state: dict[str, jax.Array], x: jax.Array
    ) -> LayerStep:
        """Layer ``layer`` (0-based) at time t from its input x^{l−1}(t) ``(N_{l-1},)``.
        The sums read the *new* state's leaves, so that y_t is a function of s_t."""
        taps = jnp.concatenate([x[None], state["taps"][:-1]])
        new = {"taps": taps}
        if self.fb_order:
            y = jnp.einsum("pnm,pm->nm", params["w"], taps)
            y = y + jnp.einsum("qnm,qnm->nm", params["v"], state["past"])
            new["past"] = jnp.concatenate([y[None], state["past"][:-1]])
            summed = jnp.sum(new["past"][0], axis=-1)
        else:
            summed = jnp.einsum("pnm,pm->n", params["w"], taps)
        preactivation = summed + params["b"]
        return LayerStep(new, preactivation, self.layer_activation(layer)(preactivation))

    def step(
        self, params: tuple[dict[str, jax.Array], ...], state: tuple, x: jax.Array
    ) -> tuple[tuple, jax.Array]:
        states = []
        for layer, (theta, s) in enumerate(zip(params, state, strict=True)):
            s, _, x = self.layer_step(layer, theta, s, x)
            states.append(s)
        return tuple(states), x


def _output_activation(name: str | Callable) -> Callable[[jax.Array], jax.Array]:
    """``"linear"`` (the identity) or any activation of :func:`resolve_activation`."""
    if name == "linear":
        return resolve_activation("identity")
    return resolve_activation(name, "output_activation")
