"""Gradient agreement with a float64 BPTT reference of the same case."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.bench.case import Case
from gradalgos.losses import mse

__all__ = ["compare", "reference"]


def _bptt(cell: ga.cells.AbstractCell, *args: Any) -> tuple[jax.Array, Any, Any]:
    return ga.BPTT().batched_value_and_grad(cell, *args, mse)


def reference(case: Case) -> tuple[float, np.ndarray]:
    """``(L, flat ∂L/∂θ (P,))`` by BPTT in float64 on the case's values cast to float64
    (needs ``jax_enable_x64``)."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError("the float64 reference needs jax_enable_x64 (set at start-up)")
    ref = case.astype(jnp.float64)
    value, grads, _ = jax.jit(_bptt, static_argnums=0)(ref.cell, *ref.args)
    return float(value), np.asarray(ravel_pytree(grads)[0])


def compare(grads: Any, ref_grads: np.ndarray) -> dict[str, float]:
    """Relative L2 error, cosine similarity and max abs error of ``grads`` (a pytree, or a flat
    array in ``ravel_pytree`` order) against the flat float64 reference ``(P,)``."""
    leaves = jax.tree_util.tree_leaves(grads)  # ravel_pytree's order, flattened in NumPy
    g = np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves] or [np.zeros(0)])
    if g.shape != ref_grads.shape:
        raise ValueError(f"gradient has {g.shape[0]} entries, reference {ref_grads.shape[0]}")
    diff = g - ref_grads
    ref_norm = float(np.linalg.norm(ref_grads))
    g_norm = float(np.linalg.norm(g))
    return {
        "rel_err": float(np.linalg.norm(diff)) / ref_norm if ref_norm else float("nan"),
        "cosine": float(g @ ref_grads) / (g_norm * ref_norm) if g_norm * ref_norm else float("nan"),
        "max_abs_err": float(np.max(np.abs(diff))) if diff.size else 0.0,
    }
