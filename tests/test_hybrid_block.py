"""The hybrid-vs-h figure's verdicts: the fastest h, the trend of the median times, the least
time × memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradalgos.plots.hybrid_block import figure_hybrid_block, trend
from tests.rows import n_sweep_row

H = np.array([1.0, 2.0, 4.0, 8.0])


def _row(h: int, seconds: float, nbytes: int) -> dict:
    """A hybrid-h row taking ``seconds`` per step with ``nbytes`` of XLA scratch."""
    fields = {"sweep": "hybrid-h", "settings": {"block": h}, "T": 64, "S": 4}
    return n_sweep_row(
        "hybrid", 4, key=f"h{h}", time_per_step_s=seconds, mem_temp_size_in_bytes=nbytes, **fields
    )


def test_trend_falling() -> None:
    assert trend(H, np.array([8.0, 4.0, 2.0, 1.0])) == "time falls at every step in h"


def test_trend_names_each_rise() -> None:
    assert trend(H, np.array([4.0, 2.0, 1.0, 1.5])) == "time rises at h = 4 → 8 (+50%)"
    text = trend(H, np.array([1.0, 1.1, 1.0, 1.0]))
    assert text == "time rises at h = 1 → 2 (+10%), h = 4 → 8 (+0%)"


def test_fastest_h_and_least_product(tmp_path: Path) -> None:
    # time 4, 2, 1, 1.5 s per step; bytes 1, 2, 8, 16: products 4, 4, 8, 24 -> least at h = 1
    rows = [_row(1, 4.0, 1), _row(2, 2.0, 2), _row(4, 1.0, 8), _row(8, 1.5, 16)]
    info = figure_hybrid_block(rows, tmp_path)
    fastest, note = info["hybrid: fastest block length h"]
    assert fastest == 4.0 and note.startswith("of h = 1…8; time rises at h = 4 → 8 (+50%)")
    assert info["hybrid: least time × temp bytes at h"][0] == 1.0
    assert (tmp_path / "hybrid_block.png").stat().st_size > 0
    alone = figure_hybrid_block(rows[:1], tmp_path)["hybrid: fastest block length h"]
    assert alone == (None, "one block length (h = 1) measured: no comparison")
