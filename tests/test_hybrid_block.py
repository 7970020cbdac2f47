"""The hybrid-vs-h figure's verdict: times pooled over runs, rises judged against the calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradalgos.plots.hybrid_block import call_samples, figure_hybrid_block, trend
from tests.rows import n_sweep_row

H = np.array([1.0, 2.0, 4.0, 8.0])


def _row(h: int, calls: list[float], T: int = 10) -> dict:
    """A hybrid-h row whose timed calls take ``calls`` seconds per step (× T per call)."""
    return n_sweep_row(
        "hybrid",
        64,
        key=f"hybrid-h-{h}",
        sweep="hybrid-h",
        settings={"block": h},
        T=T,
        times_s=[c * T for c in calls],
        time_per_step_s=float(np.median(calls)),
        mem_temp_size_in_bytes=1000 * h,
    )


def test_trend_falling() -> None:
    samples = [np.array([8.0, 8.1, 7.9]) / 2**k for k in range(4)]
    assert trend(H, samples).startswith("time falls at every step in h (3 timed calls per h)")


def test_trend_rise_inside_the_spread_is_named_as_noise() -> None:
    wide = np.array([0.8, 1.0, 1.2, 1.4])
    samples = [4 + wide, 2 + wide, 1.0 + wide, 1.1 + wide]  # medians 5.1, 3.1, 2.1, 2.2
    text = trend(H, samples)
    assert "but h = 4 → 8 (+5%)" in text
    assert "inside the interquartile ranges" in text


def test_trend_rise_beyond_the_spread_is_reported() -> None:
    tight = np.array([0.99, 1.0, 1.01])
    samples = [4 * tight, 2 * tight, 1 * tight, 1.5 * tight]
    assert trend(H, samples) == (
        "time rises beyond the spread of the calls at h = 4 → 8 (+50%) (3 timed calls per h)"
    )


def test_call_samples_pool_every_run_of_a_config_per_step() -> None:
    first, second = _row(4, [1.0, 2.0], T=10), _row(4, [3.0], T=10)
    legacy = {**_row(8, [5.0]), "times_s": None}
    pooled = call_samples([second, legacy], [first, second, legacy])
    np.testing.assert_allclose(pooled[0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(pooled[1], [5.0])
    np.testing.assert_allclose(call_samples([second], None)[0], [3.0])


def test_fastest_h_uses_the_calls_of_every_run(tmp_path: Path) -> None:
    run1 = [_row(1, [4.0] * 5), _row(2, [2.0] * 5), _row(4, [1.0] * 5)]
    run2 = [_row(1, [4.0] * 5), _row(2, [2.0] * 5), _row(4, [1.0] * 5)]
    run3 = [_row(1, [4.0] * 5), _row(2, [0.5] * 5), _row(4, [1.0] * 5)]  # one odd run
    last = run3
    alone = figure_hybrid_block(last, tmp_path)["hybrid: fastest block length h"]
    pooled = figure_hybrid_block(last, tmp_path, run1 + run2 + run3)
    fastest, note = pooled["hybrid: fastest block length h"]
    assert alone[0] == 2.0 and "rises beyond the spread" in alone[1]
    assert fastest == 4.0
    assert "time falls at every step in h (15 timed calls per h)" in note
    assert (tmp_path / "hybrid_block.png").stat().st_size > 0
