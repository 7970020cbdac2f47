"""Shared look of the figures: one colour and marker per algorithm (by its position in
:mod:`gradalgos.algorithms.registry`), display names (the registry's labels), saving."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gradalgos.algorithms import registry
from gradalgos.plots.results import Row

__all__ = ["MARKERS", "NAMES", "PALETTE", "color", "label", "marker", "no_data", "note", "save"]
__all__ += ["series", "setting_sweep", "subplots"]

#: Display names of the baselines (the algorithms' own come from the registry).
BASELINE_NAMES = {"jax-scan": "jax.grad(scan) baseline", "torch": "PyTorch autograd"}
NAMES: dict[str, str] = {
    **{name: registry.info(name).label for name in registry.names()},
    **BASELINE_NAMES,
}
_BASELINE_COLORS = {"jax-scan": "C7", "torch": "C5"}
#: Colours of the algorithms in registry order (the default cycle less the baselines' C5 and
#: C7, then more), and markers; both reused from the start past their end.
PALETTE = ("C0", "C1", "C2", "C3", "C4", "C6", "C8", "C9", "#393b79", "#e7298a", "#8c6d31")
PALETTE += ("#1b9e77",)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")


def color(alg: str) -> str:
    """The algorithm's colour by its registry position (baselines: their own; others black)."""
    names = registry.names()
    return (
        PALETTE[names.index(alg) % len(PALETTE)] if alg in names else _BASELINE_COLORS.get(alg, "k")
    )


def marker(alg: str) -> str:
    """The algorithm's marker by its registry position (others: ``"x"``)."""
    names = registry.names()
    return MARKERS[names.index(alg) % len(MARKERS)] if alg in names else "x"


def label(alg: str) -> str:
    """The display name: the registry's label, a baseline's, else the name."""
    return registry.info(alg).label if alg in registry.names() else BASELINE_NAMES.get(alg, alg)


def series(rows: Iterable[Row], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` arrays of the rows that have both fields, sorted by x."""
    pts = sorted(
        (float(r[x]), float(r[y])) for r in rows if r.get(x) is not None and r.get(y) is not None
    )
    return (np.asarray([p[0] for p in pts]), np.asarray([p[1] for p in pts]))


def subplots(ncols: int = 1, title: str = "", width: float = 6.4) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes side by side and a title."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.8), squeeze=False)
    fig.suptitle(title)
    return fig, list(axes[0])


def no_data(ax: Any, what: str) -> None:
    """Mark an empty panel (nothing measured for it) instead of leaving it blank."""
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)


def note(ax: Any, text: str) -> None:
    """Small print in the lower right corner of the axes."""
    ax.text(0.99, 0.01, text, ha="right", va="bottom", fontsize=7, transform=ax.transAxes)


def save(fig: Any, path: Path) -> Path:
    """Save as PNG (150 dpi) and close."""
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def log_axes(ax: Any, xlabel: str, ylabel: str) -> None:
    """Log-log axes (x in base 2) with labels and a grid."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def setting_sweep(
    rows: Iterable[Row], sweep: str, algorithm: str, setting: str, title: str, panels: int = 2
) -> tuple[list[Row], Any, list[Any]]:
    """The successful rows of a sweep over one setting of ``algorithm`` (sorted by it) and a
    figure of ``panels`` axes titled with the case; every panel says "no data" without rows."""
    pts = [r for r in rows if r.get("sweep") == sweep and r.get("algorithm") == algorithm]
    pts = sorted(
        (r for r in pts if r.get("status", "ok") == "ok"), key=lambda r: r["settings"][setting]
    )
    if pts:
        r = pts[0]
        title += f" ({r['cell']}, n = {r['n']}, S = {r['S']}, T = {r['T']}, {r['dtype']})"
    fig, axes = subplots(panels, title, width=6.4 if panels <= 2 else 5.2)
    for ax in axes if not pts else ():
        no_data(ax, f"sweep {sweep!r}")
    return pts, fig, axes
