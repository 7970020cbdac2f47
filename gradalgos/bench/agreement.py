"""Gradient agreement with a float64 BPTT reference of the same case."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import gradalgos as ga
from gradalgos.bench.case import Case
from gradalgos.losses import mse

__all__ = ["compare", "reference"]

#: Leaves are compared in slices of this many entries, so that a large gradient (n = 16384:
#: 268 M entries) needs no float64 copy of itself, nor a concatenation of all its leaves.
CHUNK = 1 << 22


def _bptt(cell: ga.cells.AbstractCell, *args: Any) -> tuple[jax.Array, Any, Any]:
    return ga.BPTT().batched_value_and_grad(cell, *args, mse)


def reference(case: Case) -> tuple[float, list[np.ndarray]]:
    """``(L, leaves of ∂L/∂θ)`` by BPTT in float64 on the case's values cast to float64 (needs
    ``jax_enable_x64``); the leaves are in ``jax.tree_util.tree_leaves`` order."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError("the float64 reference needs jax_enable_x64 (set at start-up)")
    ref = case.astype(jnp.float64)
    value, grads, _ = jax.jit(_bptt, static_argnums=0)(ref.cell, *ref.args)
    return float(value), [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(grads)]


def _flat_leaves(tree: Any) -> list[np.ndarray]:
    return [np.ravel(np.asarray(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]


def compare(grads: Any, ref_grads: Any) -> dict[str, float]:
    """Relative L2 error, cosine similarity and max abs error of ``grads`` against the float64
    reference ``ref_grads`` (pytrees or lists of leaves with the same leaves in the same order;
    a flat array counts as one leaf). Sums run in float64, slice by slice (:data:`CHUNK`).

    Raises:
        ValueError: the two have different numbers of entries.
    """
    got, want = _flat_leaves(grads), _flat_leaves(ref_grads)
    if [a.size for a in got] != [a.size for a in want]:
        total = sum(a.size for a in got), sum(a.size for a in want)
        raise ValueError(f"gradient has {total[0]} entries, reference {total[1]} (or other leaves)")
    diff2 = ref2 = g2 = dot = 0.0
    max_abs = 0.0
    for g_leaf, r_leaf in zip(got, want, strict=True):
        for lo in range(0, g_leaf.size, CHUNK):
            g = g_leaf[lo : lo + CHUNK].astype(np.float64)
            r = r_leaf[lo : lo + CHUNK].astype(np.float64)
            d = g - r
            diff2 += float(d @ d)
            ref2 += float(r @ r)
            g2 += float(g @ g)
            dot += float(g @ r)
            max_abs = max(max_abs, float(np.max(np.abs(d))))
    ref_norm, g_norm = np.sqrt(ref2), np.sqrt(g2)
    return {
        "rel_err": float(np.sqrt(diff2) / ref_norm) if ref_norm else float("nan"),
        "cosine": float(dot / (g_norm * ref_norm)) if g_norm * ref_norm else float("nan"),
        "max_abs_err": max_abs,
    }
