"""Hybrid (fixed-size storage) cost and memory vs its block length h."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row

__all__ = ["figure_hybrid_block"]


def _knee(h: np.ndarray, t: np.ndarray) -> tuple[float, float] | None:
    """``(a, b)`` of ``t ≈ a + b/h`` (relative least squares). Theory: a ∝ S·cost(step) + S·P
    (the S reverse passes and the time-contracted D, every step) and b ∝ S²·P (the J·M
    product, once per block): time falls as 1/h until the knee h = b/a (≈ S/2 for a fully
    connected cell) and flattens beyond it, while the memory grows as h·S²."""
    if len(h) < 3:
        return None
    A = np.stack([1 / t, 1 / (h * t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(a), float(b)


def figure_hybrid_block(rows: Sequence[Row], out: Path) -> dict[str, tuple[float | None, str]]:
    """``hybrid_block.png``: time per step, XLA temp bytes and their product vs h (sweep
    ``hybrid-h``), with h = S, the fastest h, the knee of a fitted ``a + b/h`` and the least
    time × memory marked. Theory: O(S·cost(step) + S·P + S²·P/h) per step, memory
    O(S·P + h·S²): time falls monotonically with h (no interior minimum), memory grows, and
    their product is least near h = S, where each h-dependent term equals its h-independent
    partner.

    Returns:
        ``{description: (h, note)}`` for the report: the fastest h and the h of least
        time × memory, each with S for comparison (``None`` without data).
    """
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
    t = np.array([r["time_per_step_s"] for r in pts])
    mem = np.array([r.get("mem_temp_size_in_bytes") or np.nan for r in pts], float)
    ax_t.plot(h, t, "o-", color=style.color("hybrid"), label="measured (median)")
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
    for ax in (ax_t, ax_m, ax_p):
        ax.axvline(pts[0]["S"], color="gray", ls=":", label=f"h = S = {pts[0]['S']}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("block length h [steps] (h = 1 is RTRL)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_t.set_ylabel("median wall time per step [s]")
    ax_m.set_ylabel("temp_size_in_bytes (memory_analysis) [bytes]")
    ax_p.set_ylabel("time/step × temp bytes (÷ its least value)")
    falling = bool(np.all(np.diff(t) < 0))
    info["hybrid: fastest block length h"] = (
        float(h[best]),
        f"of h = {h[0]:g}…{h[-1]:g}; time "
        + ("falls at every step in h" if falling else "does not fall monotonically")
        + " (theory: monotone, no interior minimum)",
    )
    style.save(fig, out / "hybrid_block.png")
    return info
