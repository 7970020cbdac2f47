"""REPORT.md reads in one minute: its first screen holds the provenance sentence, one results
table, the time-vs-n figure and findings computed from the numbers; long tables go to
DETAILS.md. Synthetic rows (no algorithm runs); the committed reports are checked as files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradalgos.plots import make_report
from gradalgos.plots.headline import summary_lines
from gradalgos.plots.results import load_rows
from tests.rows import n_sweep_row

ROOT = Path(__file__).resolve().parents[1]
_NS = (16, 32, 64)
_TS = (64, 128, 256)


def _time_bptt(n: int) -> float:
    return 1e-9 * n**2


def _time_rtrl(n: int) -> float:
    return 1e-10 * n**4


def _time_hybrid(n: int) -> float:
    return 1e-9 * n**3


def _mem_T(alg: str, T: int) -> float:
    return {"bptt": 100.0 * T, "checkpointed": 40.0 * T**0.5, "rtrl": 5000.0, "hybrid": 6000.0}[alg]


_ERR = {("bptt", "float32"): 1e-7, ("rtrl", "float32"): 3e-7, ("hybrid", "float32"): 2e-7}


def _rows() -> list[dict]:
    meta = {"code_version": "v", "date": "2026-12-01T00:00:00+00:00", "run_id": "r1"}
    rows = []
    for n in (*_NS, 128, 256):
        rows.append(n_sweep_row("bptt", n, T=8, time_per_step_s=_time_bptt(n), **meta))
    for n in _NS:
        rows.append(n_sweep_row("rtrl", n, T=2, time_per_step_s=_time_rtrl(n), **meta))
        rows.append(n_sweep_row("hybrid", n, T=2 * n, time_per_step_s=_time_hybrid(n), **meta))
    for alg in ("bptt", "checkpointed", "rtrl", "hybrid"):
        for T in _TS:
            rows.append(
                n_sweep_row(
                    alg,
                    16,
                    sweep="T",
                    T=T,
                    key=f"T-{alg}-{T}",
                    mem_temp_size_in_bytes=_mem_T(alg, T),
                )
                | meta
            )
    for (alg, dtype), err in _ERR.items():
        for cell in ("elman", "gru"):
            rows.append(
                n_sweep_row(
                    alg,
                    16,
                    sweep="agreement",
                    cell=cell,
                    dtype=dtype,
                    T=64,
                    rel_err=err,
                    cosine=1.0,
                    key=f"a-{alg}-{cell}-{dtype}",
                    label=f"agreement: {alg} {cell}",
                )
                | meta
            )
    return rows


def _study(method: str, cell: str, n: int, T: int, cosine: list, ratio: float = 2.0) -> dict:
    """A row of the alignment study's JSON: BPTT's step 1 µs, the method's scanned ``ratio``×."""
    cost = {"scan_time_per_step_s": ratio * 1e-6, "bptt_time_per_step_s": 1e-6}
    cost |= {"xla_temp_bytes": 2048, "flops_per_step": 1e5}
    return {"method": method, "cell": cell, "n": n, "T": T, "cosine": cosine, **cost}


def _study_rows() -> list[dict]:
    return [
        _study("SnAp-1", "Elman", 64, 50, [0.7, 0.9, 0.8], 2.0),
        _study("SnAp-1", "Elman", 64, 200, [0.1, 0.1, 0.1]),  # the longer T: not the headline's
        _study("SnAp-1", "Elman", 32, 50, [0.0, 0.0, 0.0]),  # a smaller n
        _study("SnAp-1", "LSTM", 256, 50, [0.2, 0.2, 0.2]),  # another cell: not while on Elman
        _study("UORO", "Elman", 32, 50, [0.05, None, 0.01], 4.0),
        _study("RFLO", "CTRNN (leaky)", 16, 50, [0.3, 0.3, 0.3], 3.0),  # never on Elman
    ]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("report")
    results = out / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    (out / "study").mkdir()
    (out / "study" / "alignment.json").write_text(json.dumps({"rows": _study_rows()}))
    report = make_report(results)
    return report.read_text(), (out / "DETAILS.md").read_text()


def _check_structure(text: str) -> None:
    lines = text.splitlines()
    assert len(lines) < 200
    assert max(len(line) for line in lines) <= 200
    first = lines[:40]
    assert any(line.startswith("| algorithm |") for line in first), "no table in 40 lines"
    assert any("](time_vs_n.png)" in line for line in first), "no figure in 40 lines"
    assert lines[2].startswith("Measured on "), "no provenance sentence"


def test_report_first_screen_has_table_figure_and_findings(rendered: tuple[str, str]) -> None:
    text, details = rendered
    _check_structure(text)
    # Findings computed from the rows: at n = 64 the hybrid is faster than RTRL by this ratio.
    ratio = _time_rtrl(64) / _time_hybrid(64)
    assert "At n = 64, hybrid (h = S) is the fastest exact online method" in text
    assert f"{ratio:.3g}× faster than RTRL" in text
    # Memory: at the largest T every exact method reached, checkpointed BPTT needs least.
    less = _mem_T("bptt", 256) / _mem_T("checkpointed", 256)
    assert "At T = 256 and n = 16, checkpointed BPTT needs the least" in text
    assert f"{less:.0f}× less than BPTT's" in text
    assert "at most 3e-07 in float32" in text
    assert "like BPTT's, costs 2× (SnAp-1) to 4× (UORO) a BPTT step" in text
    assert (
        "| SnAp-1 | 64 / 50 | 2 µs (2× BPTT's) | 2 KiB | 1e+05 | approximate, cosine 0.80 vs RTRL |"
        in text
    )
    assert "| RFLO | 16 / 50 (CTRNN (leaky)) | 3 µs (3× BPTT's) |" in text
    # RTRL's and the hybrid's n stop at 64 and T at 256: no exponent is fitted or judged there.
    assert "| time/step vs n | RTRL | — | 4 | — | too small to fit |" in text
    assert "| temp bytes vs T | BPTT | — | 1 | — | too small to fit |" in text
    # The long tables live in DETAILS.md, once.
    assert "## All measurements" in details and "## All measurements" not in text
    assert "## Acceptance checks" in details and "## Acceptance checks" not in text


def test_summary_lines_name_the_winners() -> None:
    lines = summary_lines(_rows())
    assert len(lines) == 3
    assert lines[0].startswith("At n = 64, hybrid (h = S) is the fastest exact online method")
    assert lines[1].startswith("At T = 256 and n = 16, checkpointed BPTT needs the least")
    assert "at most 3e-07 in float32" in lines[2]


@pytest.mark.parametrize("folder", ["reports", "reports/gpu", "reports/full"])
def test_committed_reports_read_in_one_minute(folder: str) -> None:
    path = ROOT / folder / "REPORT.md"
    if not path.exists():
        pytest.skip(f"{folder} has no report")
    _check_structure(path.read_text())
    assert (ROOT / folder / "DETAILS.md").exists()
    assert load_rows(ROOT / folder / "results.jsonl")


def test_study_rows_take_the_median_at_the_largest_n_on_elman(tmp_path: Path) -> None:
    """The headline's approximate methods come from the alignment study's JSON: on Elman (else
    the first cell the method ran on), the largest n, the shorter T, the median over seeds."""
    from gradalgos.plots.headline import study_rows

    path = tmp_path / "alignment.json"
    path.write_text(json.dumps({"rows": _study_rows()}))
    got = study_rows(path)
    assert set(got) == {"snap", "uoro", "rflo"}
    assert (got["snap"]["n"], got["snap"]["T"], got["snap"]["cosine"]) == (
        64,
        50,
        pytest.approx(0.8),
    )
    assert got["uoro"]["cosine"] == pytest.approx(0.03)
    assert got["rflo"]["cell"] == "CTRNN (leaky)"
    assert study_rows(tmp_path / "missing.json") == {} and study_rows(None) == {}
