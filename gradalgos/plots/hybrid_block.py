"""Hybrid (fixed-size storage) cost and memory vs its block length h."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row

__all__ = ["figure_hybrid_block"]


def figure_hybrid_block(rows: Sequence[Row], out: Path) -> Path:
    """``hybrid_block.png``: time per step and XLA temp bytes vs h (sweep ``hybrid-h``), with
    h = S and the fastest h marked. Theory: O(S·n² + S²·P/h) per step, memory O(S·P + h·S)."""
    title = "Hybrid: cost vs block length h"
    pts, fig, (ax_t, ax_m) = style.setting_sweep(rows, "hybrid-h", "hybrid", "block", title)
    if not pts:
        return style.save(fig, out / "hybrid_block.png")
    h = np.array([r["settings"]["block"] for r in pts], float)
    t = np.array([r["time_per_step_s"] for r in pts])
    mem = np.array([r.get("mem_temp_size_in_bytes") or np.nan for r in pts], float)
    ax_t.plot(h, t, "o-", color=style.color("hybrid"), label="measured (median)")
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
