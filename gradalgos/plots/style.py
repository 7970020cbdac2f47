"""Shared look of the figures: one colour and marker per algorithm (by its position in
:mod:`gradalgos.algorithms.registry`), labels (the registry's), saving."""

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

__all__ = [
    "BASELINE_NAMES",
    "MARKERS",
    "NAMES",
    "PALETTE",
    "color",
    "label",
    "marker",
    "no_data",
    "note",
    "save",
    "series",
    "setting_sweep",
    "subplots",
]

#: Display names of the :data:`~gradalgos.plots.results.BASELINES` (the algorithms' own come
#: from the registry).
BASELINE_NAMES: dict[str, str] = {
    "jax-scan": "jax.grad(scan) baseline",
    "torch": "PyTorch autograd",
}
#: Display names: every registered algorithm's label (``AlgorithmInfo.label``), then the
#: baselines.
NAMES: dict[str, str] = {
    **{name: registry.info(name).label for name in registry.names()},
    **BASELINE_NAMES,
}
#: The baselines' colours; the algorithms take :data:`PALETTE`'s in registry order.
_BASELINE_COLORS = {"jax-scan": "C7", "torch": "C5"}
#: Colours for the algorithms, in registry order (the default cycle less the baselines' C5
#: and C7, then further distinct ones), reused from the start past its end.
PALETTE: tuple[str, ...] = (
    "C0",
    "C1",
    "C2",
    "C3",
    "C4",
    "C6",
    "C8",
    "C9",
    "#393b79",
    "#e7298a",
    "#8c6d31",
    "#1b9e77",
)
#: Markers for the algorithms, in registry order (reused from the start past its end).
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")


def _index(alg: str) -> int | None:
    """The algorithm's position in the registry, ``None`` for a name it does not hold."""
    names = registry.names()
    return names.index(alg) if alg in names else None


def color(alg: str) -> str:
    """The algorithm's colour: by its registry position (baselines: their own; others black)."""
    i = _index(alg)
    if i is None:
        return _BASELINE_COLORS.get(alg, "k")
    return PALETTE[i % len(PALETTE)]


def marker(alg: str) -> str:
    """The algorithm's marker: by its registry position (others: ``"x"``)."""
    i = _index(alg)
    return "x" if i is None else MARKERS[i % len(MARKERS)]


def label(alg: str) -> str:
    """The display name: the registry's label (:data:`NAMES`), a baseline's, else the name."""
    names = registry.names()
    return registry.info(alg).label if alg in names else BASELINE_NAMES.get(alg, alg)


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
