"""TBPTT(k, k): gradient bias and cost vs the truncation k."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row

__all__ = ["figure_tbptt_bias"]


def figure_tbptt_bias(rows: Sequence[Row], out: Path) -> Path:
    """``tbptt_bias.png``: 1 − cosine and relative L2 error vs the float64 BPTT gradient, and
    time per step, against k (sweep ``tbptt-k``)."""
    title = "TBPTT(k, k): gradient bias and cost vs truncation k"
    pts, fig, (ax_bias, ax_time) = style.setting_sweep(rows, "tbptt-k", "tbptt", "k1", title)
    if not pts:
        return style.save(fig, out / "tbptt_bias.png")
    k = np.array([r["settings"]["k1"] for r in pts], float)
    one_minus_cos = np.array([max(1.0 - r["cosine"], 1e-17) for r in pts])
    rel = np.array([max(r["rel_err"], 1e-17) for r in pts])
    ax_bias.plot(k, one_minus_cos, "o-", label="1 − cosine(g, g_ref)")
    ax_bias.plot(k, rel, "s-", label="relative L2 error ‖g − g_ref‖ / ‖g_ref‖")
    ax_bias.axvline(pts[0]["T"], color="gray", ls=":", label="k = T (equals BPTT)")
    ax_bias.set_yscale("log")
    ax_bias.set_ylabel("bias vs float64 BPTT")
    ax_time.plot(k, [r["time_per_step_s"] for r in pts], "o-", color=style.color("tbptt"))
    ax_time.set_ylabel("median wall time per step [s]")
    for ax in (ax_bias, ax_time):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("truncation k (k1 = k2 = k) [steps]")
        ax.grid(True, which="both", alpha=0.3)
    ax_bias.legend(fontsize=8)
    return style.save(fig, out / "tbptt_bias.png")
