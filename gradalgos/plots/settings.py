"""Figures of two setting sweeps: TBPTT's truncation k, and the batch size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradalgos.plots import style
from gradalgos.plots.results import Row, select

__all__ = ["figure_batch", "figure_tbptt_bias"]


def figure_tbptt_bias(rows: Sequence[Row], out: Path) -> Path:
    """``tbptt_bias.png``: 1 − cosine and relative L2 error vs the float64 BPTT gradient, and
    time per step, against k (sweep ``tbptt-k``)."""
    title = "TBPTT(k, k): gradient bias and cost vs truncation k"
    pts, fig, (ax_bias, ax_time) = style.setting_sweep(rows, "tbptt-k", "tbptt", "k1", title)
    if not pts:
        return style.save(fig, out / "tbptt_bias.png")
    k = np.array([r["settings"]["k1"] for r in pts], float)
    floor = 1e-17  # a log axis shows no zero
    ax_bias.plot(k, [max(1 - r["cosine"], floor) for r in pts], "o-", label="1 − cosine(g, g_ref)")
    rel = [max(r["rel_err"], floor) for r in pts]
    ax_bias.plot(k, rel, "s-", label="relative L2 error ‖g − g_ref‖ / ‖g_ref‖")
    ax_bias.axvline(pts[0]["T"], color="gray", ls=":", label="k = T (equals BPTT)")
    ax_time.plot(k, [r["time_per_step_s"] for r in pts], "o-", color=style.color("tbptt"))
    xlabel = "truncation k (k1 = k2 = k) [steps]"
    style.log_axes(ax_bias, xlabel, "bias vs float64 BPTT")
    style.log_axes(ax_time, xlabel, "median wall time per step [s]")
    ax_time.set_yscale("linear")
    ax_bias.legend(fontsize=8)
    return style.save(fig, out / "tbptt_bias.png")


def figure_batch(rows: Sequence[Row], out: Path) -> Path:
    """``batch.png``: median time per step per sequence, ``time / (T·B)``, vs batch size B."""
    rows = select(rows, sweep="batch")
    title = "Batch size: time per step per sequence"
    if rows:
        title += f" ({rows[0]['cell']}, n = {rows[0]['n']}, T = {rows[0]['T']})"
    fig, (ax,) = style.subplots(1, title)
    if not rows:
        style.no_data(ax, "sweep 'batch'")
        return style.save(fig, out / "batch.png")
    for alg in sorted({r["algorithm"] for r in rows}):
        pts = sorted(select(rows, algorithm=alg), key=lambda r: r["batch"])
        per_sequence = [r["time_per_step_s"] / r["batch"] for r in pts]
        kw = {"marker": style.marker(alg), "color": style.color(alg), "label": style.label(alg)}
        ax.plot([r["batch"] for r in pts], per_sequence, **kw)
    style.log_axes(ax, "batch size B [sequences]", "median wall time per step per sequence [s]")
    ax.legend(fontsize=8)
    return style.save(fig, out / "batch.png")
