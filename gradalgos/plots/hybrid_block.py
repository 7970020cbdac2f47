"""Hybrid (fixed-size storage) cost and memory vs its block length h."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row

__all__ = ["figure_hybrid_block", "trend"]


def _knee(h: np.ndarray, t: np.ndarray) -> tuple[float, float] | None:
    """``(a, b)`` of ``t ≈ a + b/h`` (relative least squares): a ∝ S·cost(step) + S·P every
    step, b ∝ S²·P once per block, so time falls as 1/h until the knee h = b/a."""
    if len(h) < 3:
        return None
    A = np.stack([1 / t, 1 / (h * t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(a), float(b)


def trend(h: np.ndarray, t: np.ndarray) -> str:
    """How the median time per step changes with h: the steps where it rises, if any."""
    rises = [k for k in range(len(h) - 1) if t[k + 1] >= t[k]]
    steps = ", ".join(f"h = {h[k]:g} → {h[k + 1]:g} (+{t[k + 1] / t[k] - 1:.0%})" for k in rises)
    return f"time rises at {steps}" if rises else "time falls at every step in h"


def figure_hybrid_block(rows: Sequence[Row], out: Path) -> dict[str, tuple[float | None, str]]:
    """``hybrid_block.png``: median time per step, XLA temp bytes and their product vs h (sweep
    ``hybrid-h``),
    with h = S, the fastest h, the knee of a fitted ``a + b/h`` and the least product marked
    (theory: time falls with h, memory O(S·P + h·S²) grows, the product is least near h = S).
    Returns ``{what: (h, note)}``: the fastest h and the h of least time × memory."""
    title = "Hybrid: cost vs block length h"
    pts, fig, (ax_t, ax_m, ax_p) = style.setting_sweep(
        rows, "hybrid-h", "hybrid", "block", title, panels=3
    )
    info: dict[str, tuple[float | None, str]] = {
        "hybrid: fastest block length h": (None, "no data"),
        "hybrid: least time × temp bytes at h": (None, "no data"),
    }
    if not pts:
        style.save(fig, out / "hybrid_block.png")
        return info
    h = np.array([r["settings"]["block"] for r in pts], float)
    t = np.array([r["time_per_step_s"] for r in pts], float)
    mem = np.array([r.get("mem_temp_size_in_bytes") or np.nan for r in pts], float)
    ax_t.plot(h, t, "o-", color=style.color("hybrid"), label="measured (median of the calls)")
    knee = _knee(h, t)
    if knee is not None:
        a, b = knee
        grid = np.geomspace(h[0], h[-1], 50)
        ax_t.plot(grid, a + b / grid, "--", color="gray", label="fit a + b/h")
        if b > 0 and a > 0:
            ax_t.axvline(b / a, color="k", ls="--", lw=1, label=f"knee b/a = {b / a:.3g}")
    best = int(np.argmin(t))
    ax_t.plot(h[best], t[best], "*", ms=14, color="k", label=f"fastest: h = {h[best]:g}")
    ax_m.plot(h, mem, "o-", color=style.color("hybrid"))
    product = t * mem
    if np.isfinite(product).any():
        product = product / np.nanmin(product)
        least = int(np.nanargmin(product))
        ax_p.plot(h, product, "o-", color=style.color("hybrid"))
        ax_p.plot(h[least], 1.0, "*", ms=14, color="k", label=f"least: h = {h[least]:g}")
        info["hybrid: least time × temp bytes at h"] = (
            float(h[least]),
            f"S = {pts[0]['S']}; theory: near h = S (n = {pts[0]['n']}, T = {pts[0]['T']})",
        )
    else:
        style.no_data(ax_p, "temp bytes")
    ylabels = ("median wall time per step [s]", "temp_size_in_bytes (memory_analysis) [bytes]")
    ylabels += ("time/step × temp bytes (÷ its least value)",)
    for ax, ylabel in zip((ax_t, ax_m, ax_p), ylabels, strict=True):
        ax.axvline(pts[0]["S"], color="gray", ls=":", label=f"h = S = {pts[0]['S']}")
        style.log_axes(ax, "block length h [steps] (h = 1 is RTRL)", ylabel)
        ax.legend(fontsize=8)
    info["hybrid: fastest block length h"] = (
        (float(h[best]), f"of h = {h[0]:g}…{h[-1]:g}; {trend(h, t)} (theory: monotone)")
        if len(h) > 1
        else (None, f"one block length (h = {h[0]:g}) measured: no comparison")
    )
    style.save(fig, out / "hybrid_block.png")
    return info
