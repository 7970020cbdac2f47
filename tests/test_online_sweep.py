"""The online-step sweep: configs from the registry, rows through the worker, and the report
section (slopes and verdicts on hand-computed synthetic rows). No assertion is about timings."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import ClassVar

import pytest
from rows import n_sweep_row

import gradalgos as ga
from gradalgos.algorithms import registry
from gradalgos.bench import SweepOptions, build_configs
from gradalgos.bench.pool import Worker
from gradalgos.bench.runner import run_configs
from gradalgos.bench.schema import COMMON_FIELDS, MEASURED_FIELDS, STEP_FIELDS
from gradalgos.bench.sweeps import ELEMENTWISE_CELLS, ONLINE_SETTINGS, SIZES
from gradalgos.bench.version import run_metadata
from gradalgos.plots import load_rows, make_report
from gradalgos.plots.online_step import (
    FIGURE,
    figure_online_step,
    line_summaries,
    online_step_section,
)


def _sweep(**kw: object) -> list:
    return build_configs(SweepOptions(sweeps=("online-step",), **kw))


# ---------------------------------------------------------------- configs


def test_configs_are_every_online_method_of_the_registry() -> None:
    """Default sizes: every online method on Elman (the O(n³)-carry ones to n = 128), RTRL on
    the element-wise cells at every n, B = 1, BPTT's T; settings as the sweep lists them."""
    z = SIZES["default"]
    configs = _sweep()
    assert {c.sweep for c in configs} == {"online-step"}
    assert {(c.batch, c.T, c.dtype) for c in configs} == {(1, z.online_T, "float32")}
    elman = [c for c in configs if c.cell == "elman"]
    assert {c.algorithm for c in elman} == set(registry.names(online=True, cell="elman"))
    for alg in registry.names(online=True, cell="elman"):
        ns = sorted(c.n for c in elman if c.algorithm == alg)
        cubic = (registry.info(alg).memory_exponent or 0) >= 3
        assert ns == [n for n in z.n_online if not cubic or n <= z.online_n_max_cubic], alg
        settings = {dict(c.settings).get("leak") for c in elman if c.algorithm == alg}
        assert settings == {ONLINE_SETTINGS.get(alg, {}).get("leak")}
    assert {"rtrl", "hybrid"} <= {c.algorithm for c in elman if c.n == 128}
    assert not {"rtrl", "hybrid"} & {c.algorithm for c in elman if c.n == 256}
    others = [c for c in configs if c.cell != "elman"]
    assert sorted((c.cell, c.n) for c in others) == sorted(
        (cell, n) for cell in ELEMENTWISE_CELLS for n in z.n_online
    )
    assert {c.algorithm for c in others} == {"rtrl"}
    rflo = next(c for c in elman if c.algorithm == "rflo")
    assert dict(rflo.settings) == {"leak": 0.5, "feedback": "random"}
    # Each (cell, n) point's configs run one after another (BPTT is measured once per point).
    points = [(c.cell, c.n) for c in configs]
    starts = [p for i, p in enumerate(points) if i == 0 or points[i - 1] != p]
    assert len(starts) == len(set(starts))
    # --algorithms and --n select, as in the other sweeps.
    picked = _sweep(algorithms=("snap", "rtrl"), n=(8,))
    assert sorted((c.algorithm, c.cell) for c in picked) == [
        ("rtrl", "elman"),
        *(("rtrl", cell) for cell in sorted(ELEMENTWISE_CELLS)),
        ("snap", "elman"),
    ]


def test_a_method_added_to_the_registry_joins_the_sweep_and_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing in bench/ or plots/ lists the online methods: one more in the registry is
    measured, labelled and coloured."""

    @dataclasses.dataclass(frozen=True)
    class Late(ga.Immediate):
        info: ClassVar[ga.AlgorithmInfo] = dataclasses.replace(
            ga.Immediate.info, name="late", label="Late-1"
        )

    monkeypatch.setattr(registry, "ALGORITHMS", (*registry.ALGORITHMS, Late))
    configs = _sweep(n=(8,))
    assert [c.label for c in configs if c.algorithm == "late"] == [
        "online-step: late elman n=8 T=64 B=1 float32"
    ]
    from gradalgos.plots import style

    assert style.label("late") == "Late-1"
    index = registry.names().index("late")
    assert style.color("late") == style.PALETTE[index % len(style.PALETTE)]
    assert style.marker("late") == style.MARKERS[index % len(style.MARKERS)]


def test_existing_colours_names_and_theory_are_unchanged() -> None:
    """The registry-driven style and theory give the existing algorithms what they had."""
    from gradalgos.plots import style, theory
    from gradalgos.plots.tables import EXACT

    assert {a: style.color(a) for a in ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")} == {
        "bptt": "C0",
        "checkpointed": "C1",
        "tbptt": "C2",
        "rtrl": "C3",
        "hybrid": "C4",
    }
    assert (style.color("jax-scan"), style.color("torch")) == ("C7", "C5")
    assert [style.marker(a) for a in ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")] == [
        "o",
        "s",
        "^",
        "D",
        "v",
    ]
    assert style.NAMES["hybrid"] == "hybrid (h = S)"
    assert style.NAMES["jax-scan"] == "jax.grad(scan) baseline"
    assert EXACT == ("bptt", "checkpointed", "rtrl", "hybrid")
    old = {"bptt": 2, "checkpointed": 2, "tbptt": 2, "jax-scan": 2, "torch": 2, "rtrl": 4}
    assert {k: theory.TIME_VS_N[k] for k in old} == old and theory.TIME_VS_N["hybrid"] == 3
    assert theory.MEMORY_VS_N["rtrl"] == theory.MEMORY_VS_N["hybrid"] == 3
    assert "bptt" not in theory.MEMORY_VS_N
    assert theory.MEMORY_VS_T["checkpointed"] == 0.5 and theory.MEMORY_VS_T["jax-scan"] == 1


# ---------------------------------------------------------------- through the worker


def test_rows_through_the_worker(tmp_path: Path) -> None:
    """The quick sweep's configs at n = 8 measured in a worker process: every row ok, with
    the schema's fields, the settings it ran with and hand-checkable sizes."""
    results = tmp_path / "results.jsonl"
    configs = _sweep(mode="quick")
    assert sorted({c.n for c in configs}) == [8, 16]
    configs = [c for c in configs if c.n == 8]  # one size through the worker keeps CI short
    with Worker("cpu") as worker:
        summary = run_configs(configs, results, run_metadata(["(test)"]), worker, progress=False)
    rows = load_rows(results)
    assert summary.failed == 0, summary.failures
    assert sorted(r["label"] for r in rows) == sorted(c.label for c in configs)
    for r in rows:
        assert set(COMMON_FIELDS) | set(MEASURED_FIELDS) | set(STEP_FIELDS) <= set(r), r["label"]
        cls = registry.get(r["algorithm"])
        instance = registry.make(r["algorithm"], **r["settings"])
        assert r["algorithm_settings"] == {
            f.name: getattr(instance, f.name) for f in dataclasses.fields(cls)
        }
        assert r["keyed"] == instance.needs_key
        assert r["steps_per_call"] == (1 if cls.single_step else r["S"])
        assert r["time_ratio_bptt"] == pytest.approx(
            r["time_per_step_s"] / r["bptt_time_per_step_s"]
        )
        assert r["scan_ratio_bptt"] == pytest.approx(
            r["scan_time_per_step_s"] / r["bptt_time_per_step_s"]
        )
        assert r["bptt_T"] == r["T"] and r["bptt_flops_per_step"] > 0
        assert r["rel_err"] is None and r["ref_loss"] is None
        assert math.isfinite(r["loss"]) and r["carry_bytes"] > 0
        if r["step_has_loop"]:
            assert r["flops_per_step"] is None and r["flops_ratio_bptt"] is None
        else:
            assert r["flops_per_step"] == r["xla_flops"] > 0
            assert r["flops_ratio_bptt"] == pytest.approx(
                r["flops_per_step"] / r["bptt_flops_per_step"]
            )
    # BPTT is measured once per (cell, n) point and copied to every row of it.
    for point in {(r["cell"], r["n"]) for r in rows}:
        same = [r for r in rows if (r["cell"], r["n"]) == point]
        assert len({r["bptt_time_per_step_s"] for r in same}) == 1
    by = {(r["algorithm"], r["cell"], r["n"]): r for r in rows}
    rtrl = by[("rtrl", "elman", 8)]
    # Dense RTRL carries the state and M = ∂s/∂θ for the state's parameters, float32.
    assert rtrl["carry_type"] == "SensitivityState"
    assert rtrl["carry_bytes"] == 4 * rtrl["S"] * (1 + rtrl["P_state"])
    assert by[("immediate", "elman", 8)]["carry_bytes"] == 4 * 8  # the state alone
    for cell in ELEMENTWISE_CELLS:
        assert by[("rtrl", cell, 8)]["carry_type"] == "TraceState"  # the O(P) path
    assert by[("hybrid", "elman", 8)]["step_has_loop"] is True  # its block scans its steps
    assert by[("rflo", "elman", 8)]["algorithm_settings"] == {"leak": 0.5, "feedback": "random"}
    report = make_report(results, tmp_path).read_text()
    assert "## Online methods: cost per step" in report
    assert (tmp_path / FIGURE).stat().st_size > 0


# ---------------------------------------------------------------- report (synthetic rows)


def _row(alg: str, cell: str, n: int, flops: float | None, time: float, bptt: float) -> dict:
    return n_sweep_row(
        alg,
        n,
        key=f"{alg}-{cell}-{n}",
        sweep="online-step",
        cell=cell,
        T=64,
        steps_per_call=1,
        time_per_step_s=time,
        time_median_s=time,
        flops_per_step=flops,
        step_has_loop=flops is None,
        carry_bytes=4 * n * n,
        mem_temp_size_in_bytes=8 * n,
        bptt_T=64,
        bptt_time_per_step_s=bptt,
        bptt_flops_per_step=6.0 * n * n,
        bptt_mem_temp_size_in_bytes=1000,
        time_ratio_bptt=time / bptt,
        scan_time_per_step_s=time,
        scan_ratio_bptt=time / bptt,
        flops_ratio_bptt=None if flops is None else flops / (6.0 * n * n),
    )


def _synthetic() -> list[dict]:
    """Four lines at n = 64, 128, 256 (the n = 64 point off each line: not in the top-octave
    fit). FLOP slopes 128 → 256: snap log2(4.2) = 2.070 (PASS), rflo log2(5) = 2.322 (FAIL),
    kfrtrl log2(8) = 3 (PASS), RTRL on indrnn log2(2) = 1 (PASS). Time ratios at n = 256,
    BPTT's step 1e-5 s: snap 3.5 (PASS), rflo 4.5 (FAIL), kfrtrl 50 and RTRL (exact) not
    judged."""
    rows = []
    for alg, cell, f128, f256, t256 in (
        ("snap", "elman", 1e5, 4.2e5, 3.5e-5),
        ("rflo", "elman", 1e5, 5e5, 4.5e-5),
        ("kfrtrl", "elman", 1e6, 8e6, 5e-4),
        ("rtrl", "indrnn", 1e4, 2e4, 2e-5),
    ):
        rows.append(_row(alg, cell, 64, 1.0, 1e-6, 1e-6))
        rows.append(_row(alg, cell, 128, f128, 1e-5, 1e-5))
        rows.append(_row(alg, cell, 256, f256, t256, 1e-5))
    rows.append(_row("hybrid", "elman", 64, None, 1e-4, 1e-6))
    return rows


def test_slopes_and_verdicts_from_synthetic_rows() -> None:
    summaries = {(s.algorithm, s.cell): s for s in line_summaries(_synthetic())}
    expected = {
        ("snap", "elman"): (math.log2(4.2), 2, True, 3.5, True),
        ("rflo", "elman"): (math.log2(5.0), 2, False, 4.5, False),
        ("kfrtrl", "elman"): (3.0, 3, True, 50.0, None),
        ("rtrl", "indrnn"): (1.0, 1, True, 2.0, None),
    }
    for line, (slope, th, slope_ok, ratio, ratio_ok) in expected.items():
        s = summaries[line]
        assert (s.flop_fit.x_lo, s.flop_fit.x_hi, s.flop_fit.points) == (128, 256, 2)
        assert s.flop_fit.slope == pytest.approx(slope)
        assert (s.theory, s.slope_ok, s.n_max, s.ratio_ok) == (th, slope_ok, 256, ratio_ok)
        assert s.ratio == pytest.approx(ratio)
    assert summaries[("rtrl", "indrnn")].memory_theory == 1  # O(P) carry
    assert summaries[("snap", "elman")].carry_fit.slope == pytest.approx(2.0)  # 4·n² bytes
    hybrid = summaries[("hybrid", "elman")]
    assert hybrid.flop_fit is None and hybrid.slope_ok is None


def test_section_and_figure_from_synthetic_rows(tmp_path: Path) -> None:
    text = online_step_section(_synthetic())
    targets = next(block for block in text.split("\n\n") if "| FLOP exponent" in block)
    lines = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in targets.splitlines()}
    assert lines["SnAp-1"][1:6] == ["2.07 (n = 128…256)", "2", "PASS", "3.5 (n = 256)", "PASS"]
    assert lines["RFLO"][1:6] == ["2.32 (n = 128…256)", "2", "FAIL", "4.5 (n = 256)", "FAIL"]
    assert lines["KF-RTRL"][1:6] == ["3.00 (n = 128…256)", "3", "PASS", "50 (n = 256)", "info"]
    assert lines["RTRL on indrnn"][3] == "PASS"
    assert lines["hybrid (h = S)"][3] == "no FLOPs (loops)"
    assert text.startswith(
        "At n = 256, 1 of the 2 approximate methods of BPTT's order cost ≤ 4× BPTT's step in "
        "time, both scanned over T steps in one call (SnAp-1); over: RFLO 4.5×."
    )
    assert "3 of 4 FLOP exponents lie within ±0.2 of their theory (not: RFLO 2.32 vs 2)" in text
    path = figure_online_step(_synthetic(), tmp_path)
    assert path.name == FIGURE and path.stat().st_size > 0
    assert "Not measured" in online_step_section([])
