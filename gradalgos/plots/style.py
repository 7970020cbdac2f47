"""Shared look of the figures: one colour and marker per algorithm, labels, saving."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gradalgos.plots.results import Row

__all__ = [
    "NAMES",
    "color",
    "marker",
    "no_data",
    "note",
    "save",
    "series",
    "setting_sweep",
    "subplots",
]

#: Display names.
NAMES: dict[str, str] = {
    "bptt": "BPTT",
    "checkpointed": "checkpointed BPTT",
    "tbptt": "TBPTT",
    "rtrl": "RTRL",
    "hybrid": "hybrid (h = S)",
    "jax-scan": "jax.grad(scan) baseline",
    "torch": "PyTorch autograd",
}
_COLORS = {
    "bptt": "C0",
    "checkpointed": "C1",
    "tbptt": "C2",
    "rtrl": "C3",
    "hybrid": "C4",
    "jax-scan": "C7",
    "torch": "C5",
}
_MARKERS = {"bptt": "o", "checkpointed": "s", "tbptt": "^", "rtrl": "D", "hybrid": "v"}


def color(alg: str) -> str:
    """The algorithm's colour."""
    return _COLORS.get(alg, "k")


def marker(alg: str) -> str:
    """The algorithm's marker."""
    return _MARKERS.get(alg, "x")


def series(rows: Iterable[Row], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` arrays of the rows that have both fields, sorted by x."""
    pts = sorted(
        (float(r[x]), float(r[y])) for r in rows if r.get(x) is not None and r.get(y) is not None
    )
    if not pts:
        return np.zeros(0), np.zeros(0)
    xs, ys = zip(*pts, strict=True)
    return np.asarray(xs), np.asarray(ys)


def subplots(ncols: int = 1, title: str = "", width: float = 6.4) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes side by side and a title."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.8), squeeze=False)
    if title:
        fig.suptitle(title)
    return fig, list(axes[0])


def no_data(ax: Any, what: str) -> None:
    """Mark an empty panel (nothing measured for it) instead of leaving it blank."""
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)


def note(ax: Any, text: str, corner: str = "lower right") -> None:
    """Small print in a corner of the axes (``"lower right"`` or ``"upper left"``)."""
    vertical, horizontal = corner.split()
    ax.text(
        0.99 if horizontal == "right" else 0.01,
        0.01 if vertical == "lower" else 0.99,
        text,
        ha=horizontal,
        va="bottom" if vertical == "lower" else "top",
        fontsize=7,
        transform=ax.transAxes,
    )


def save(fig: Any, path: Path) -> Path:
    """Save as PNG (150 dpi) and close."""
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def setting_sweep(
    rows: Iterable[Row], sweep: str, algorithm: str, setting: str, title: str, panels: int = 2
) -> tuple[list[Row], Any, list[Any]]:
    """Rows of a sweep over one algorithm setting (sorted by it) and a figure of ``panels``
    axes titled with the case (cell, n, S, T, dtype); every panel says "no data" when there
    are none."""
    pts = [r for r in rows if r.get("sweep") == sweep and r.get("algorithm") == algorithm]
    pts = sorted(
        (r for r in pts if r.get("status", "ok") == "ok"), key=lambda r: r["settings"][setting]
    )
    if pts:
        r = pts[0]
        title += f" ({r['cell']}, n = {r['n']}, S = {r['S']}, T = {r['T']}, {r['dtype']})"
    fig, axes = subplots(panels, title, width=6.4 if panels <= 2 else 5.2)
    if not pts:
        for ax in axes:
            no_data(ax, f"sweep {sweep!r}")
    return pts, fig, axes
