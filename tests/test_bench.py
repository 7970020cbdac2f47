"""Benchmark harness: fitting, result file, skip/--force, failure recording and a smoke run.

No assertion here is about timings: the exponents are compared with theory in the report.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from gradalgos.algorithms import registry
from gradalgos.bench import BenchConfig, SweepOptions, build_configs, config_key, main
from gradalgos.bench.pool import DeviceUnavailable, Worker
from gradalgos.bench.runner import run_configs
from gradalgos.bench.schema import COMMON_FIELDS, MEASURED_FIELDS
from gradalgos.bench.store import append_row, measured_keys
from gradalgos.bench.timing import attributable_peak
from gradalgos.bench.version import new_run_id, run_metadata
from gradalgos.plots import fit_loglog, load_rows, make_report
from gradalgos.plots.fit import local_slopes
from gradalgos.plots.report import FIGURES
from tests.test_parallel import benchmark_module

dominant_flops = benchmark_module("cpu_rate").dominant_flops

# ---------------------------------------------------------------- fitting (synthetic data)


def _text(report: Path) -> str:
    """REPORT.md and the DETAILS.md beside it (the long tables live there)."""
    return report.read_text() + (report.parent / "DETAILS.md").read_text()


@pytest.mark.parametrize("k", [0.5, 1.0, 2.0, 3.0, 4.0])
def test_fit_recovers_exact_power_law(k: float) -> None:
    n = np.array([8, 16, 32, 64, 128, 256])
    fit = fit_loglog(n, 3e-7 * n**k, octaves=None)
    assert fit is not None
    assert fit.slope == pytest.approx(k, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit(n) == pytest.approx(3e-7 * n**k)


@pytest.mark.parametrize("k", [2.0, 3.0, 4.0])
def test_fit_over_asymptotic_range_ignores_overhead(k: float) -> None:
    """A constant per-step overhead dominates small n; the top-octaves fit still finds k,
    a fit over every point does not."""
    rng = np.random.default_rng(0)
    n = np.array([4, 8, 16, 32, 64, 128, 256, 512, 1024], float)
    overhead = 1e-5  # the n**k term is 1e5 x the overhead at n = 1024
    y = (overhead + 1e5 * overhead * (n / 1024) ** k) * rng.lognormal(0, 0.002, n.size)
    fit = fit_loglog(n, y)
    assert fit is not None and (fit.x_lo, fit.x_hi, fit.points) == (256, 1024, 3)
    assert fit.slope == pytest.approx(k, abs=0.1)
    assert abs(fit_loglog(n, y, octaves=None).slope - k) > 3 * abs(fit.slope - k)


def test_fit_edge_cases() -> None:
    assert fit_loglog([1, 1, 1], [1, 2, 3]) is None
    assert fit_loglog([1, 2], [0, -1]) is None  # non-positive values are dropped
    fit = fit_loglog([1, 2, 4, 8], [1, 4, 16, 64])  # top 2 octaves holds 3 points: keep 3
    assert fit.points == 3 and fit.slope == pytest.approx(2)
    assert [s for _, _, s in local_slopes([1, 2, 4], [1, 8, 64])] == pytest.approx([3, 3])


def test_fit_standard_error_matches_hand_derived_case() -> None:
    """log x = 0, 1, 2 and log y = 0, 1, 3: slope 3/2, residuals 1/6, −1/3, 1/6, so
    s.e. = sqrt((1/6) / (3 − 2) / 2) = sqrt(1/12)."""
    fit = fit_loglog(np.exp([0.0, 1.0, 2.0]), np.exp([0.0, 1.0, 3.0]), octaves=None)
    assert fit is not None
    assert fit.slope == pytest.approx(1.5)
    assert fit.slope_se == pytest.approx(np.sqrt(1 / 12))
    assert np.isnan(fit_loglog([1.0, 2.0], [1.0, 4.0]).slope_se)  # no residual freedom


def test_dominant_flops_hand_counted() -> None:
    """RTRL: (T − 1)·2S²P; hybrid: propagating blocks × (2hS³ + 2hSP + 2S²P)."""
    base = {"S": 4, "P": 10}
    assert dominant_flops({**base, "algorithm": "rtrl", "T": 3}) == 2 * 2 * 16 * 10
    block = 2 * 4 * 64 + 2 * 4 * 4 * 10 + 2 * 16 * 10  # h = 4
    hybrid = {**base, "algorithm": "hybrid"}
    assert dominant_flops({**hybrid, "T": 8, "settings": {"block": "n"}}) == block  # last skips
    assert dominant_flops({**hybrid, "T": 10, "settings": {"block": 4}}) == 2 * block
    assert dominant_flops({**hybrid, "T": 4, "settings": {}}) == 0  # one block, no propagation
    assert dominant_flops({**base, "algorithm": "bptt", "T": 8}) is None
    # M carried for the state's parameters only: P_state replaces P where recorded.
    assert dominant_flops({**base, "P_state": 6, "algorithm": "rtrl", "T": 3}) == 2 * 2 * 16 * 6


# ---------------------------------------------------------------- configs and result file


def test_config_key_depends_on_config_and_code_version() -> None:
    a = BenchConfig("n", "tbptt", "elman", 8, 16, settings=(("k1", 4),))
    assert config_key(a, "v1") == config_key(BenchConfig.from_dict(a.to_dict()), "v1")
    assert config_key(a, "v1") != config_key(a, "v2")
    b = BenchConfig("n", "tbptt", "elman", 8, 16, settings=(("k1", 8),))
    assert config_key(a, "v1") != config_key(b, "v1")


def test_code_version_hashes_the_measured_sources(tmp_path: Path) -> None:
    """Any edit of a measured source changes the code version; plots, training and tasks do
    not (they change no measurement)."""
    from gradalgos.bench.version import code_version

    pkg = tmp_path / "gradalgos"
    (pkg / "algorithms").mkdir(parents=True)
    (pkg / "plots").mkdir()
    (pkg / "algorithms" / "a.py").write_text("x = 1\n")
    (pkg / "plots" / "p.py").write_text("x = 1\n")
    before = code_version(pkg)
    assert len(before) == 12 and int(before, 16) >= 0
    (pkg / "plots" / "p.py").write_text("x = 2\n")  # not a measured package
    assert code_version(pkg) == before
    (pkg / "algorithms" / "a.py").write_text("x = 2\n")
    assert code_version(pkg) != before


def test_core_targets_page_and_the_report_says_when_it_is_of_other_code(tmp_path: Path) -> None:
    """benchmarks/core_targets.py renders its JSON as core_targets.md; the report links that
    page and flags it stale where its code version is not the rows'."""
    from gradalgos.plots.report import _core_targets

    core_targets = benchmark_module("core_targets")
    case = {"case": "c", "ratio": 1.0, "temp_over_budget": 0.6, "speedup": 30.0}
    case |= {"jm_fraction_alone": 0.7, "jm_fraction_whole_step": 0.8}
    targets = {
        "machine": {"device": "cpu:0", "platform": "Linux", "jax": "0.10.2"},
        "bptt_vs_hand_written": case,
        "rtrl_memory_and_gemm": case,
        "hybrid_vs_rtrl": case,
    }
    assert "(code version not recorded)" in core_targets.render(targets, "x.json")
    targets |= {"code_version": "aaa", "date": "2026-11-26"}
    page = core_targets.render(targets, "x.json")
    assert "| c | RTRL time / hybrid time ≥ 20 | 30.0 |" in page
    assert "code version `aaa`, 2026-11-26" in page
    assert _core_targets(tmp_path, "aaa") == []  # no page: no section
    (tmp_path / "core_targets.json").write_text(json.dumps(targets))
    (tmp_path / "core_targets.md").write_text(page)
    current = "".join(_core_targets(tmp_path, "aaa"))
    assert "[core_targets.md](core_targets.md)" in current and "Stale" not in current
    stale = "".join(_core_targets(tmp_path, "bbb"))
    assert "**Stale:** measured at code version `aaa`, the results above at `bbb`" in stale


def test_store_appends_lines_and_skips_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_row(path, {"key": "a", "status": "ok"})
    append_row(path, {"key": "b", "status": "failed", "reason": "x"})
    with path.open("a") as f:
        f.write('{"key": "c", "sta')  # a line cut by a crash
    with pytest.warns(UserWarning, match="malformed"):
        rows = load_rows(path)
    assert [r["key"] for r in rows] == ["a", "b"]
    with pytest.warns(UserWarning):
        assert measured_keys(path) == {"a"}  # failed configs are retried
    append_row(path, {"key": "d", "status": "ok"})  # starts a new line after the cut one
    with pytest.warns(UserWarning, match="malformed"):
        assert [r["key"] for r in load_rows(path)] == ["a", "b", "d"]
    assert path.read_text().endswith('"sta\n{"key": "d", "status": "ok"}\n')


def test_sweeps_respect_overrides() -> None:
    opts = SweepOptions(mode="quick", sweeps=("n",), algorithms=("rtrl",), n=(4, 6))
    configs = build_configs(opts)
    assert {(c.algorithm, c.n) for c in configs} == {("rtrl", 4), ("rtrl", 6)}
    assert len(build_configs(SweepOptions())) > len(build_configs(SweepOptions(mode="quick")))


def test_gpu_sweeps_extend_n_and_precision_is_part_of_the_key() -> None:
    def sizes(**kw: object) -> dict[str, int]:
        configs = build_configs(SweepOptions(sweeps=("n",), **kw))
        return {a: max(c.n for c in configs if c.algorithm == a) for a in ("bptt", "rtrl")}

    assert sizes() == {"bptt": 16384, "rtrl": 512}
    assert sizes(device="gpu") == {"bptt": 32768, "rtrl": 1536}
    assert sizes(device="gpu", n=(4, 8)) == {"bptt": 8, "rtrl": 8}  # --n wins
    (tf32,) = build_configs(
        SweepOptions(mode="quick", sweeps=("n",), algorithms=("rtrl",), n=(4,), precision="default")
    )
    assert tf32.precision == "default"
    assert config_key(tf32, "v") != config_key(dataclasses.replace(tf32, precision="highest"), "v")


def test_every_row_field_is_documented() -> None:
    """docs/results_schema.md explains each field the schema names, and only those."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "results_schema.md").read_text()
    documented = re.findall(r"^- `([^`]+)`:", page, flags=re.MULTILINE)
    assert sorted(documented) == sorted({*COMMON_FIELDS, *MEASURED_FIELDS})


def test_attributable_gpu_peak() -> None:
    # (bytes_in_use, peak_bytes_in_use) before and after a config
    assert attributable_peak((100, 100), (100, 900)) == 800  # raised the mark: known
    assert attributable_peak((300, 2000), (300, 2000)) is None  # below an earlier peak
    assert attributable_peak(None, None) is None  # CPU


# ---------------------------------------------------------------- runs in a worker process


@pytest.fixture(scope="module")
def worker() -> Worker:
    with Worker("cpu") as w:
        w.start()
        yield w


def _meta() -> dict:
    return run_metadata(["(test)"])


def test_each_run_gets_its_own_run_id() -> None:
    assert run_metadata([])["run_id"]
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50  # same second, different suffix
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", i) for i in ids)


def test_skip_if_measured_and_force(tmp_path: Path, worker: Worker) -> None:
    results = tmp_path / "results.jsonl"
    configs = [BenchConfig("agreement", "bptt", "elman", 4, 4, repeats=1)]
    first = run_configs(configs, results, _meta(), worker, progress=False)
    assert (first.measured, first.skipped) == (1, 0)
    again = run_configs(configs, results, _meta(), worker, progress=False)
    assert (again.measured, again.skipped) == (0, 1)
    forced = run_configs(configs, results, _meta(), worker, force=True, progress=False)
    assert (forced.measured, forced.skipped) == (1, 0)
    other_version = {**_meta(), "code_version": "another"}
    assert run_configs(configs, results, other_version, worker, progress=False).measured == 1
    other_machine = {**_meta(), "host_cpu": "another CPU"}  # same code, another machine
    assert run_configs(configs, results, other_machine, worker, progress=False).measured == 1
    assert len(load_rows(results)) == 4


def test_a_report_shows_one_code_version_on_one_machine() -> None:
    """``latest`` keeps the last row per key among the rows of the last row's code version and
    machine: rows of another machine (or version) never mix into a report's figures."""
    from gradalgos.plots.results import comparable, latest

    def row(key: str, version: str, cpu: str, t: float) -> dict:
        return {"key": key, "code_version": version, "host_cpu": cpu, "time_median_s": t}

    rows = [
        row("a", "v1", "X", 1.0),
        row("b", "v2", "X", 2.0),
        row("c", "v2", "Y", 3.0),
        row("a2", "v2", "X", 4.0),
        row("a2", "v2", "X", 5.0),
    ]
    assert [r["time_median_s"] for r in comparable(rows)] == [2.0, 4.0, 5.0]
    assert sorted(r["time_median_s"] for r in latest(rows)) == [2.0, 5.0]
    assert [r["time_median_s"] for r in latest(rows[:3])] == [3.0]  # the last row's machine
    assert [r["time_median_s"] for r in latest(rows, "v1")] == [1.0]


def test_failures_are_recorded_and_reported(tmp_path: Path, worker: Worker) -> None:
    results = tmp_path / "results.jsonl"
    bad_setting = BenchConfig("n", "tbptt", "elman", 4, 4, repeats=1, settings=(("k1", 0),))
    bad_cell = BenchConfig("n", "bptt", "no-such-cell", 4, 4, repeats=1)
    slow = BenchConfig("n", "rtrl", "elman", 8, 8, repeats=1)
    good = BenchConfig("n", "bptt", "elman", 4, 4, repeats=1)
    s = run_configs([bad_setting, bad_cell], results, _meta(), worker, progress=False)
    s2 = run_configs([slow], results, _meta(), worker, time_limit=0.01, progress=False)
    s3 = run_configs([good], results, _meta(), worker, progress=False)  # worker restarted
    assert (s.failed, s2.failed, s3.measured) == (2, 1, 1)
    rows = {r["label"]: r for r in load_rows(results)}
    assert "k1 must be a positive int" in rows[bad_setting.label]["reason"]
    assert "no-such-cell" in rows[bad_cell.label]["reason"]
    assert "time limit" in rows[slow.label]["reason"]
    assert rows[good.label]["status"] == "ok"
    report = _text(make_report(results, tmp_path))
    for config in (bad_setting, bad_cell, slow):
        assert config.label in report


def test_the_harness_imports_no_plots() -> None:
    """gradalgos.bench never imports gradalgos.plots (the report runs in its own process)."""
    bench = Path(__file__).resolve().parents[1] / "gradalgos" / "bench"
    for path in bench.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.startswith("gradalgos.plots") for n in names), path.name


def test_a_run_without_out_writes_beside_the_committed_reports() -> None:
    """Without ``--out`` a run writes to reports/local/<machine>/, never to reports/."""
    from gradalgos.bench.cli import default_out, parser

    assert parser().parse_args([]).out is None
    meta = {"host_cpu": "Intel(R) Xeon(R) Processor", "host_cpus": 2}
    assert default_out(meta, "cpu") == Path("reports/local/cpu-intel-xeon-processor-2cpu")
    assert default_out({**meta, "host_cpus": 16}, "gpu").parent == Path("reports/local")


def test_gpu_request_without_gpu_is_a_clear_error() -> None:
    w = Worker("gpu")
    try:
        w.start()
    except DeviceUnavailable as e:
        assert "--device gpu" in str(e)
    else:
        pytest.skip("this machine has a GPU")
    finally:
        w.stop()


def test_report_without_results_draws_empty_figures(tmp_path: Path) -> None:
    report = make_report(tmp_path / "missing.jsonl", tmp_path)
    assert report.exists()
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0


def test_smoke_quick_run(tmp_path: Path) -> None:
    """A reduced ``--quick`` run: one row per requested config, schema, report and figures."""
    args = [
        "--quick",
        "--sweeps",
        "n",
        "agreement",
        "tbptt-k",
        "--algorithms",
        "bptt",
        "rtrl",
        "tbptt",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(args) == 0
    rows = load_rows(tmp_path / "results.jsonl")
    opts = SweepOptions(
        mode="quick",
        sweeps=("n", "agreement", "tbptt-k"),
        algorithms=("bptt", "rtrl", "tbptt"),
    )
    expected = {c.label for c in build_configs(opts)}
    assert sorted(r["label"] for r in rows) == sorted(expected)
    for row in rows:
        assert set(COMMON_FIELDS) <= set(row), set(COMMON_FIELDS) - set(row)
        if row["status"] == "ok":
            assert set(MEASURED_FIELDS) <= set(row), set(MEASURED_FIELDS) - set(row)
            assert row["time_min_s"] <= row["time_median_s"]
            assert len(row["times_s"]) >= row["repeats"] >= 5
            assert row["mem_temp_size_in_bytes"] >= 0
        else:
            assert row["reason"]
        json.dumps(row)
    # Gradients agree with the float64 BPTT reference of the same values: an exact algorithm
    # of the registry to its dtype's round-off (measured: rel_err ≈ 2e-7 in float32, 2e-16 in
    # float64; the gradients here are O(1), so the max abs error takes the same bound),
    # TBPTT(k1 = 4 < T = 16) by far less (rel_err 0.16).
    exact = set(registry.names(exact=True))
    tolerance = {"float64": 1e-12, "float32": 1e-5}
    checked = set()
    for row in rows:
        if row["status"] != "ok":
            continue
        if row["algorithm"] in exact:
            tol = tolerance[row["dtype"]]
            assert row["rel_err"] <= tol, row
            assert row["max_abs_err"] <= tol, row
            assert row["cosine"] >= 1 - tol, row
            assert abs(row["loss"] - row["ref_loss"]) <= tol * abs(row["ref_loss"]), row
            checked.add((row["algorithm"], row["dtype"]))
        elif row["sweep"] == "agreement":
            assert row["algorithm"] == "tbptt" and dict(row["settings"]) == {"k1": 4}
            assert row["rel_err"] > 1e-3 and row["cosine"] < 1 - 1e-6, row
    assert checked == {(a, d) for a in ("bptt", "rtrl") for d in ("float32", "float64")}
    # One invocation is one run: every row carries the same, non-empty run id.
    assert len({row["run_id"] for row in rows}) == 1 and rows[0]["run_id"]
    assert (tmp_path / "REPORT.md").exists()
    for name in FIGURES:
        assert (tmp_path / name).stat().st_size > 0
    # A second run measures nothing again.
    assert main([*args, "--no-report"]) == 0
    assert len(load_rows(tmp_path / "results.jsonl")) == len(rows)


@pytest.mark.parametrize("cell", ["ctrnn", "stack", "function"])
def test_recipe_cells_measure_exact_gradients(cell: str) -> None:
    """The cells built by a recipe (no hidden_size argument) run through the harness, and an
    exact algorithm agrees with the float64 reference to round-off."""
    from gradalgos.bench.case import make_cell
    from gradalgos.bench.measure import measure

    built = make_cell(cell, 6)
    assert (built.input_size, built.output_size) == (8, 8)
    row = measure(BenchConfig("agreement", "hybrid", cell, 6, 7, 2, "float64", repeats=1))
    assert row["rel_err"] < 1e-10
    assert row["S"] == built.state_size and row["P"] == built.num_params
    # The readout of the (last) layer never reaches the state: W_out (o×n) and b_out, except
    # the function recipe's y = C·h (no bias).
    readout = 8 * 6 + (0 if cell == "function" else 8)
    assert row["P_state"] == built.num_params - readout


def test_compare_matches_numpy_on_whole_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slice-by-slice comparison gives the norms of the concatenated vectors, across leaves
    and across slices of one leaf, and a mismatch in size is an error."""
    from gradalgos.bench import agreement

    monkeypatch.setattr(agreement, "CHUNK", 7)  # several slices per leaf
    rng = np.random.default_rng(0)
    ref = {"a": rng.normal(size=(5, 6)), "b": rng.normal(size=(17,))}
    got = {k: (v + 1e-3 * rng.normal(size=v.shape)).astype(np.float32) for k, v in ref.items()}
    g = np.concatenate([got["a"].ravel(), got["b"]]).astype(np.float64)
    r = np.concatenate([ref["a"].ravel(), ref["b"]])
    out = agreement.compare(got, ref)
    assert out["rel_err"] == pytest.approx(np.linalg.norm(g - r) / np.linalg.norm(r), rel=1e-12)
    cosine = g @ r / (np.linalg.norm(g) * np.linalg.norm(r))
    assert out["cosine"] == pytest.approx(cosine, rel=1e-12)
    assert out["max_abs_err"] == pytest.approx(np.max(np.abs(g - r)), rel=1e-12)
    assert agreement.compare(ref, list(ref.values()))["rel_err"] == 0.0
    with pytest.raises(ValueError, match="entries"):
        agreement.compare({"a": ref["a"]}, ref)


def test_rtrl_flops_count_the_steps_that_propagate() -> None:
    """RTRL's loop body (one propagating step, counted once by XLA's ``cost_analysis()``) runs
    T − 1 times per call, and its J·M product (2·S²·P_s FLOPs) dominates it. Checked as ratios
    with margins, not XLA's exact counts: executed FLOPs grow as T − 1 (T = 2 → 5: ×4; crediting
    T runs would give ×2.5) and as S²·P_s (n = 32 → 64: ×14.2, log-log slope 1 against that
    count; measured 0.98), and are that hand count within a factor in [0.75, 1.75) (the step's
    other work, O(S·P_s + S³), is a few /S of J·M however XLA accounts for it: measured 1.13 at
    n = 32, 1.06 at 64; J·M counted twice or not at all fails)."""
    from gradalgos.bench.measure import measure

    executed, hand = {}, {}
    for n, T in ((32, 2), (32, 5), (64, 5)):
        row = measure(BenchConfig("n", "rtrl", "elman", n, T, repeats=1))
        if row["flops_per_step"] is None:  # pragma: no cover - backend dependent
            pytest.skip("this backend reports no FLOP count")
        S, P_s = row["S"], row["P_state"]
        executed[n, T] = row["flops_per_step"] * T
        hand[n, T] = (T - 1) * 2.0 * S * S * P_s
        assert row["gflops"] == pytest.approx(executed[n, T] / row["time_median_s"] / 1e9)
        assert 0.75 <= executed[n, T] / hand[n, T] < 1.75, (n, T, executed[n, T] / hand[n, T])
    assert executed[32, 5] / executed[32, 2] == pytest.approx(4.0, rel=0.1)
    slope = np.log(executed[64, 5] / executed[32, 5]) / np.log(hand[64, 5] / hand[32, 5])
    assert 0.9 <= slope <= 1.1, slope
