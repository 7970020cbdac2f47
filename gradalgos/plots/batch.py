"""Batch-size effect: BPTT vs RTRL time per step and per sequence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gradalgos.plots import style
from gradalgos.plots.results import Row, select

__all__ = ["figure_batch"]


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
        B = [r["batch"] for r in pts]
        ax.plot(
            B,
            [r["time_per_step_s"] / r["batch"] for r in pts],
            marker=style.marker(alg),
            color=style.color(alg),
            label=style.NAMES.get(alg, alg),
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size B [sequences]")
    ax.set_ylabel("median wall time per step per sequence [s]")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return style.save(fig, out / "batch.png")
