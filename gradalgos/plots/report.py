"""``REPORT.md`` and every figure, from ``results.jsonl`` alone."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from gradalgos.plots import headline, tables
from gradalgos.plots.crossover import figure_crossover
from gradalgos.plots.hybrid_block import figure_hybrid_block
from gradalgos.plots.results import Row, comparable, latest, load_rows, run_of
from gradalgos.plots.scaling import (
    figure_memory_vs_n,
    figure_memory_vs_T,
    figure_time_vs_n,
)
from gradalgos.plots.settings import figure_batch, figure_tbptt_bias

__all__ = ["FIGURES", "make_report"]

#: Every figure file a report embeds, with its caption. The CPU diagnostics (run-to-run spread,
#: achieved rate, one CPU vs all, page faults) are ``benchmarks/cpu_noise.py``'s.
FIGURES: dict[str, str] = {
    "time_vs_n.png": "Time per step vs n, fitted slopes beside the theory",
    "memory_vs_T.png": "XLA temporary memory vs T",
    "memory_vs_n.png": "XLA temporary memory vs n",
    "tbptt_bias.png": "TBPTT bias and cost vs truncation k",
    "hybrid_block.png": "Hybrid cost vs block length h",
    "crossover.png": "Crossovers: hybrid vs RTRL time, BPTT vs RTRL memory",
    "batch.png": "Batch-size effect, BPTT vs RTRL",
}

#: The CPU diagnostics, for the reader who wants them (not run by the benchmark).
CPU_NOISE = "CPU diagnostics (run-to-run spread of the exponents, achieved GFLOP/s, one core vs "
CPU_NOISE += "all, page faults): `python benchmarks/cpu_noise.py RESULTS OUT`."


def _distinct(rows: Sequence[Row], field: str) -> str:
    values = sorted({str(r.get(field)) for r in rows if r.get(field) is not None})
    return ", ".join(values) if values else "—"


def _runs_line(rows: Sequence[Row]) -> str:
    """How many runs (bench invocations) wrote ``rows``, by their ``run_id``."""
    ids = sorted({r["run_id"] for r in rows if r.get("run_id")})
    if not ids:
        return "- runs: no run ids recorded (older rows: a run is one commit and command)"
    missing = " and rows without a run id" if any(not r.get("run_id") for r in rows) else ""
    return f"- runs: {len(ids)} (run ids {', '.join(f'`{i}`' for i in ids)}{missing})"


def _header(rows: Sequence[Row], version: str | None, results: Path) -> str:
    """DETAILS.md's provenance of ``rows`` (every row of the reported code version, all runs)."""
    commands = "; ".join(f"`{c}`" for c in sorted({str(r.get("command") or "?") for r in rows}))
    return "\n".join(
        [
            _provenance(rows, version),
            "",
            f"- jaxlib {_distinct(rows, 'jaxlib_version')}, Python {_distinct(rows, 'python')}, "
            f"matmul precision {_distinct(rows, 'precision')}",
            f"- git commit(s): `{_distinct(rows, 'git_commit')}`",
            f"- command(s): {commands}",
            _runs_line(rows),
            "",
            "How each number is measured, and how to read the exponents: `docs/benchmark.md`. "
            f"Regenerate with `python -m gradalgos.plots {_shown(results)}`.",
            "",
        ]
    )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _optional(path: Path, heading: str, text: str | None = None) -> list[str]:
    """``[heading, text]`` when ``path`` exists, else nothing."""
    return [heading, text] if path.exists() else []


def _core_targets(out: Path, version: str | None) -> list[str]:
    """A link to ``core_targets.md`` (``benchmarks/core_targets.py``), said stale where it was
    measured at another code version than the rows'; nothing where it is absent."""
    page, data = out / "core_targets.md", out / "core_targets.json"
    if not page.exists():
        return []
    measured = json.loads(data.read_text()).get("code_version") if data.exists() else None
    text = "BPTT vs hand-written `jax.grad(scan)`, RTRL's memory and J·M rate, the hybrid's "
    text += "speed-up over RTRL: [core_targets.md](core_targets.md)."
    if measured != version:
        text += f" **Stale:** measured at code version `{measured}`, the results above at "
        text += f"`{version}`: rerun `python benchmarks/core_targets.py --out {data.as_posix()}`."
    return ["## Core performance targets\n", text + "\n"]


def _provenance(rows: Sequence[Row], version: str | None) -> str:
    """One sentence: what was run where, how often, when, and at which code version."""
    dates = sorted(r["date"] for r in rows if r.get("date"))
    runs = len({run_of(r) for r in rows})
    commits = sorted({str(r["git_commit"])[:10] for r in rows if r.get("git_commit")})
    when = f"{dates[0][:16]} … {dates[-1][:16]} UTC" if dates else "an unrecorded date"
    return (
        f"Measured on {_distinct(rows, 'host_cpu')} ({_distinct(rows, 'host_cpus')} CPUs, "
        f"device {_distinct(rows, 'device_kind')}), {runs} run{'s' if runs > 1 else ''}, "
        f"{when}, code version `{version}` (git {', '.join(commits) or '—'}), "
        f"jax {_distinct(rows, 'jax_version')}, {len(rows)} rows."
    )


def _wrap(text: str, width: int = 110) -> str:
    """Hard-wrap prose lines over 200 characters (tables, headings and links stay whole)."""
    lines = []
    for line in text.split("\n"):
        if len(line) <= 200 or line.startswith(("|", "#", "!", "<")):
            lines.append(line)
        else:
            lines.append(textwrap.fill(line, width, break_long_words=False))
    return "\n".join(lines)


def make_report(
    results: str | Path, out: str | Path | None = None, *, code_version: str | None = None
) -> Path:
    """Write the figures of :data:`FIGURES`, ``REPORT.md`` (headline first) and ``DETAILS.md``
    (provenance, acceptance checks, failures, every measurement) into ``out`` (default: the
    results file's folder), from the rows of ``code_version`` (default: the last row's) on one
    machine (:func:`~gradalgos.plots.results.comparable`); returns ``REPORT.md``'s path."""
    results = Path(results)
    out = Path(out) if out is not None else results.parent
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_rows(results)
    every = comparable(loaded, code_version)
    all_rows = latest(every)
    version = every[-1]["code_version"] if every else code_version
    rows = [r for r in all_rows if r.get("status") == "ok"]
    fits = {
        "time/step vs n": figure_time_vs_n(rows, out),
        "temp bytes vs T": figure_memory_vs_T(rows, out),
        "temp bytes vs n": figure_memory_vs_n(rows, out),
    }
    figures = dict(FIGURES)
    figure_tbptt_bias(rows, out)
    block_info = figure_hybrid_block(rows, out)
    cross = figure_crossover(rows, out, every)
    figure_batch(rows, out)
    failed = len(all_rows) - len(rows)
    time_caption = FIGURES["time_vs_n.png"]
    study = out / "study" / "alignment.json"
    found = headline.findings(rows, fits["time/step vs n"], study)
    main = [
        "# gradalgos benchmark report\n",
        _provenance(every, version) + "\n",
        "Time, memory and FLOPs per step (n = hidden units, T = sequence length of the config; "
        "approximate methods: from the alignment study, [study/STUDY.md](study/STUDY.md), their "
        "step scanned over T in one call beside BPTT's); memory is XLA's scratch "
        "(`temp_size_in_bytes`):\n",
        headline.headline_table(rows, study),
        f"![{time_caption}](time_vs_n.png)\n",
        "**Findings.**\n",
        *(f"- {f}" for f in found),
        "",
        f"{len(all_rows)} configs: {len(rows)} measured, {failed} failed. Provenance, method, "
        "acceptance checks, crossovers, failures and every measurement: "
        "[DETAILS.md](DETAILS.md). Regenerate with "
        f"`python -m gradalgos.plots {_shown(results)}`.\n",
        *_optional(
            out / "NOTES.md",
            "## Notes on this run (written by hand)\n",
            "Notes beside the generated figures: [NOTES.md](NOTES.md).\n",
        ),
        "## Scaling exponents vs theory\n",
        "Each exponent is a least-squares slope in log-log over the top octaves of its sweep; "
        "the local slopes show where a regime changes.\n",
        tables.exponent_table(rows, fits),
        "## Gradient agreement\n",
        "Worst relative L2 error vs float64 BPTT, algorithm × cell (with 1 − cosine: DETAILS.md). "
        "TBPTT's error is its truncation bias; float64 BPTT is the reference (0 by "
        "construction).\n",
        tables.agreement_table(rows, cosine=False),
        "## Baselines\n",
        "Our time / hand-written `jax.jit(jax.value_and_grad(loss over lax.scan))` in the n "
        "sweep (T = 8), each ratio from one run:\n",
        tables.baseline_table(every),
        "## Figures\n",
        *(f"- [{caption}]({name})" for name, caption in figures.items() if name != "time_vs_n.png"),
        "",
        *_core_targets(out, version),
        *_optional(
            out / "TRAINING.md",
            "## Training\n",
            "Learning curves, gradient-free baselines and paper reproductions: "
            "[TRAINING.md](TRAINING.md) (`nox -s compare`).\n",
        ),
        *_optional(
            out / "study" / "STUDY.md",
            "## Approximate methods: alignment with the exact gradient\n",
            "Per-step cosine with exact RTRL by method, cell and n, its cost, and online learning: "
            "[study/STUDY.md](study/STUDY.md) (`nox -s study`).\n",
        ),
    ]
    details = [
        "# gradalgos benchmark report: details\n",
        "The long tables behind [REPORT.md](REPORT.md), from the same rows.\n",
        _header(every, version, results),
        "## Acceptance checks\n",
        "The time and memory exponents' checks are in the exponent table of REPORT.md.\n",
        tables.acceptance_table(rows, fits, cross, block_info),
        "## CPU diagnostics\n",
        CPU_NOISE
        + "".join(_optional(out / "CPU_NOISE.md", " Here: [CPU_NOISE.md](CPU_NOISE.md).", ""))
        + "\n",
        "## Gradient agreement (relative L2 error / 1 − cosine vs float64 BPTT)\n",
        tables.agreement_table(rows),
        "## Failed configs\n",
        tables.failed_table(all_rows),
        "## All measurements\n",
        tables.measurements_table(rows),
    ]
    (out / "DETAILS.md").write_text("\n".join(details))
    report = out / "REPORT.md"
    report.write_text(_wrap("\n".join(main)))
    return report
