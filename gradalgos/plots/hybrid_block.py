"""Hybrid (fixed-size storage) cost and memory vs its block length h."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row

__all__ = ["figure_hybrid_block"]


def _knee(h: np.ndarray, t: np.ndarray) -> tuple[float, float] | None:
    """``(a, b)`` of ``t ≈ a + b/h`` (relative least squares). Theory: a ∝ S·n² (the S reverse
    passes, every step) and b ∝ S²·P (the J·M product, once per block): time falls as 1/h until
    the knee h = b/a (≈ S·P/n² ≈ S for a fully connected cell) and is flat beyond it, while the
    memory grows as h·S."""
    if len(h) < 3:
        return None
    A = np.stack([1 / t, 1 / (h * t)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(a), float(b)


def figure_hybrid_block(rows: Sequence[Row], out: Path) -> Path:
    """``hybrid_block.png``: time per step and XLA temp bytes vs h (sweep ``hybrid-h``), with
    h = S, the fastest h and the knee of a fitted ``a + b/h`` marked. Theory: O(S·n² + S²·P/h)
    per step, memory O(S·P + h·S)."""
    title = "Hybrid: cost vs block length h"
    pts, fig, (ax_t, ax_m) = style.setting_sweep(rows, "hybrid-h", "hybrid", "block", title)
    if not pts:
        return style.save(fig, out / "hybrid_block.png")
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
    for ax in (ax_t, ax_m):
        ax.axvline(pts[0]["S"], color="gray", ls=":", label=f"h = S = {pts[0]['S']}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("block length h [steps] (h = 1 is RTRL)")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_ylabel("median wall time per step [s]")
    ax_m.set_ylabel("temp_size_in_bytes (memory_analysis) [bytes]")
    ax_t.legend(fontsize=8)
    ax_m.legend(fontsize=8)
    return style.save(fig, out / "hybrid_block.png")
