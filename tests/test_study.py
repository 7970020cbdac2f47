"""The alignment study: a tiny sweep end to end, and the page with and without training results."""

import json

import numpy as np
import pytest

from gradalgos.study import cli, figures, page
from gradalgos.study.sweep import Plan, run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    plan = Plan(
        {"Elman": (4,), "IndRNN": (4,)},
        (6,),
        seeds=2,
        samples=3,
        repeats=1,
        long_cell="Elman",
        pairwise=("Elman", 4),
        methods=("UORO", "SnAp-1", "immediate"),
    )
    return run(plan, out, progress=False), out


def test_tiny_sweep_rows_and_json(tiny):
    result, out = tiny
    assert json.loads((out / "alignment.json").read_text()) == json.loads(json.dumps(result))
    keys = {(r["method"], r["cell"], r["n"], r["T"]) for r in result["rows"]}
    assert ("SnAp-1", "Elman", 4, 6) in keys and ("UORO", "IndRNN", 4, 6) in keys
    assert ("SnAp-1", "IndRNN", 4, 6) in keys
    for r in result["rows"]:
        assert len(r["cosine"]) == 2 and r["time_per_step_s"] > 0 and r["carry_bytes"] > 0
        assert r["scan_time_per_step_s"] > 0 and r["bptt_time_per_step_s"] > 0
        assert r["flops_per_step"] > 0 and r["bptt_flops_per_step"] > 0
        if r["method"] == "SnAp-1" and r["cell"] == "IndRNN":
            np.testing.assert_allclose(r["cosine"], 1, atol=1e-5)  # float32
        assert (r["variance"][0] is not None) == (r["method"] == "UORO")
    for cell in ("Elman", "IndRNN"):  # BPTT is measured once per (cell, n, T)
        assert len({r["bptt_time_per_step_s"] for r in result["rows"] if r["cell"] == cell}) == 1
    pw = result["pairwise"]
    assert pw["labels"] == ["UORO", "SnAp-1", "immediate"]
    np.testing.assert_allclose(np.diag(pw["matrix"]), 1, atol=1e-5)


def _train_fixture():
    runs = {
        "SnAp-1": {"final_metric": [0.5, 0.6, 0.7], "seconds": 3.0},
        "TBPTT(k=8)": {"final_metric": [0.2, 0.3, 0.25], "seconds": 2.0},
    }
    return {"tasks": {"copy": {"metric": "accuracy", "higher_is_better": True, "runs": runs}}}


def test_page_renders_with_and_without_training_columns(tiny, tmp_path):
    result, _ = tiny
    plain = page.render(result)
    assert "accuracy" not in plain and "| UORO |" in plain and "## Findings" in plain
    trained = page.render(result, _train_fixture())
    assert "copy: accuracy ↑" in trained
    snap = next(line for line in trained.splitlines() if line.startswith("| SnAp-1 |"))
    assert snap.endswith("| 0.600 [0.50, 0.70] |")
    assert any(line.startswith("| TBPTT(k=8) |") for line in trained.splitlines())
    paths = figures.draw_all(result, tmp_path)
    assert all(p.stat().st_size > 10_000 for p in paths)
    (tmp_path / "train.json").write_text(json.dumps({"online_study": _train_fixture()}))
    assert "copy: accuracy" in page.write(result, tmp_path, tmp_path / "train.json").read_text()
    assert "copy: accuracy" not in page.write(result, tmp_path, tmp_path / "none.json").read_text()


def test_cli_usage_errors(tmp_path, capsys):
    for argv in (["--workers", "0"], ["--replot", "--out", str(tmp_path)], ["--cells", "nope"]):
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
    assert "--replot needs" in capsys.readouterr().err
