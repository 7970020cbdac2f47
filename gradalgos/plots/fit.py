"""Log-log slopes (complexity exponents) fitted over the asymptotic end of a measured range."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["FIT_OCTAVES", "LogLogFit", "fit_loglog", "local_slopes"]

#: The fit uses the points with x ≥ max(x) / 2**FIT_OCTAVES (the top two octaves): on a CPU,
#: small sizes are dominated by per-step overhead and are not in the asymptotic regime.
FIT_OCTAVES = 2


class LogLogFit(NamedTuple):
    """``y ≈ exp(intercept) · x**slope`` fitted by least squares in log-log over
    ``[x_lo, x_hi]`` (``points`` points); ``r2`` in log space; ``slope_se`` the slope's
    standard error from the residuals (NaN with 2 points: no residual degree of freedom)."""

    slope: float
    intercept: float
    r2: float
    x_lo: float
    x_hi: float
    points: int
    slope_se: float = float("nan")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(x, float) ** self.slope


def fit_loglog(
    x: Sequence[float],
    y: Sequence[float],
    *,
    octaves: float | None = FIT_OCTAVES,
    min_points: int = 3,
) -> LogLogFit | None:
    """Least-squares slope of log y vs log x over x ≥ max(x) / 2**octaves (``None``: every
    point), and at least the ``min_points`` largest x; non-positive or non-finite pairs are
    dropped. ``None`` with fewer than 2 distinct x."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    xa, ya = xa[ok], ya[ok]
    order = np.argsort(xa)
    xa, ya = xa[order], ya[order]
    if len(np.unique(xa)) < 2:
        return None
    keep = np.ones_like(xa, bool) if octaves is None else xa >= xa[-1] / 2.0**octaves
    keep[-min(min_points, len(xa)) :] = True
    lx, ly = np.log(xa[keep]), np.log(ya[keep])
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    ss = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else 1.0
    k = len(lx)
    spread = float(np.sum((lx - lx.mean()) ** 2))
    se = float(np.sqrt(np.sum(resid**2) / (k - 2) / spread)) if k > 2 else float("nan")
    return LogLogFit(
        float(slope), float(intercept), r2, xa[keep][0], xa[keep][-1], int(keep.sum()), se
    )


def local_slopes(x: Sequence[float], y: Sequence[float]) -> list[tuple[float, float, float]]:
    """Slopes between consecutive points, ``[(x_i, x_{i+1}, slope), …]`` (sorted by x)."""
    pairs = sorted((a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0)
    return [
        (x0, x1, float(np.log(y1 / y0) / np.log(x1 / x0)))
        for (x0, y0), (x1, y1) in itertools.pairwise(pairs)
        if x1 > x0
    ]
