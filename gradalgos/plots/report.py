"""``REPORT.md`` and every figure, from ``results.jsonl`` alone."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from gradalgos.plots import headline, tables
from gradalgos.plots.batch import figure_batch
from gradalgos.plots.crossover import figure_crossover
from gradalgos.plots.fit import FIT_OCTAVES
from gradalgos.plots.hybrid_block import figure_hybrid_block
from gradalgos.plots.online_step import FIGURE as ONLINE_STEP_FIGURE
from gradalgos.plots.online_step import SWEEP as ONLINE_STEP_SWEEP
from gradalgos.plots.online_step import figure_online_step, online_step_section
from gradalgos.plots.page_faults import figure_page_faults, page_fault_section
from gradalgos.plots.parallel import figure_parallel, parallel_section
from gradalgos.plots.rate import figure_rate_vs_n
from gradalgos.plots.repeats import RunSpread, run_spread, spread_table
from gradalgos.plots.results import Row, comparable, latest, load_rows, on_gpu, run_of, select
from gradalgos.plots.scaling import figure_memory_vs_n, figure_memory_vs_T, figure_time_vs_n
from gradalgos.plots.tbptt import figure_tbptt_bias

__all__ = ["CPU_ONLY_FIGURES", "FIGURES", "make_report"]

#: Every figure file a report can embed, with its caption (a GPU report: all but
#: :data:`CPU_ONLY_FIGURES`).
FIGURES: dict[str, str] = {
    "time_vs_n.png": "Time per step vs n, fitted slopes beside the theory",
    "parallel.png": "RTRL and the hybrid on one CPU and on all: time per step and speed-up vs n",
    "rate_vs_n.png": "Achieved rate of RTRL's and the hybrid's dominant products vs n",
    "memory_vs_T.png": "XLA temporary memory vs T",
    "memory_vs_n.png": "XLA temporary memory vs n",
    "tbptt_bias.png": "TBPTT bias and cost vs truncation k",
    "hybrid_block.png": "Hybrid cost vs block length h",
    "crossover.png": "Crossovers: hybrid vs RTRL time, BPTT vs RTRL memory",
    "batch.png": "Batch-size effect, BPTT vs RTRL",
    "page_faults.png": "Page faults on fresh scratch memory: system share of CPU time, "
    "faulted share of the scratch",
    ONLINE_STEP_FIGURE: "Online methods: XLA FLOPs and time of one step vs n, BPTT's step beside",
}

#: The figures of :data:`FIGURES` that only a CPU's rows can fill (the one-CPU sweep, host page
#: faults): a report of GPU rows neither draws nor embeds them.
CPU_ONLY_FIGURES = frozenset({"parallel.png", "page_faults.png"})


def _figures(every: Sequence[Row], out: Path) -> dict[str, str]:
    """The figures this report embeds: all of :data:`FIGURES`, less :data:`CPU_ONLY_FIGURES`
    where the rows were measured on a GPU (their files, left by an earlier report in ``out``,
    are removed so that no stale figure sits beside the report)."""
    if not on_gpu(every):
        return dict(FIGURES)
    for name in CPU_ONLY_FIGURES:
        (out / name).unlink(missing_ok=True)
    return {name: caption for name, caption in FIGURES.items() if name not in CPU_ONLY_FIGURES}


def _distinct(rows: Sequence[Row], field: str) -> str:
    values = sorted({str(r.get(field)) for r in rows if r.get(field) is not None})
    return ", ".join(values) if values else "—"


def _allocator_line(rows: Sequence[Row]) -> str:
    """The memory-allocator environment of the run (it changes CPU timings)."""
    if not any("allocator_env" in r for r in rows):
        return "- memory allocator environment: not recorded"
    settings = sorted(
        {
            ", ".join(f"{k}={v}" for k, v in sorted(env.items()))
            for r in rows
            if (env := r.get("allocator_env"))
        }
    )
    if not settings:
        return (
            "- memory allocator: the system's defaults (no GLIBC_TUNABLES, LD_PRELOAD or "
            "MALLOC_ARENA_MAX set)"
        )
    return "- memory allocator environment: " + "; ".join(f"`{s}`" for s in settings)


def _runs_line(rows: Sequence[Row]) -> str:
    """How many runs (bench invocations) wrote ``rows``, by their ``run_id``."""
    ids = sorted({r["run_id"] for r in rows if r.get("run_id")})
    if not ids:
        return "- runs: no run ids recorded (older rows: a run is one commit and command)"
    missing = " and rows without a run id" if any(not r.get("run_id") for r in rows) else ""
    return f"- runs: {len(ids)} (run ids {', '.join(f'`{i}`' for i in ids)}{missing})"


def _load_line(rows: Sequence[Row]) -> str:
    loads = sorted(r["load_avg_1m"] for r in rows if r.get("load_avg_1m") is not None)
    if not loads:
        return "- host load while measuring: not recorded"
    cpus = _distinct(rows, "host_cpus")
    if on_gpu(rows):
        meaning = (
            "XLA's GPU compiler runs on several host threads, and compiles take most of the "
            "wall time of RTRL's and the hybrid's sweeps, so a load of several does not by "
            "itself mean that other processes shared the host"
        )
    else:
        meaning = (
            "the benchmark itself adds about 1–2; more means other processes shared the CPUs "
            "and timings are noisier"
        )
    return (
        f"- host 1-minute load average while measuring: median {loads[len(loads) // 2]:.2f}, "
        f"max {loads[-1]:.2f} on {cpus} CPUs ({meaning})"
    )


def _header(rows: Sequence[Row], version: str | None, results: Path) -> str:
    """Provenance of ``rows`` (every row of the reported code version, all runs)."""
    commands = sorted({r.get("command", "?") for r in rows})
    dates = sorted(r["date"] for r in rows if "date" in r)
    lines = [
        "# gradalgos benchmark report",
        "",
        "Generated by `gradalgos.plots` from `results.jsonl` alone (no algorithm is run to make "
        f"it). Regenerate with `python -m gradalgos.plots {_shown(results)}`.",
        "",
        f"- code version (hash of the measured gradalgos sources): `{version}`; git commit: "
        f"`{_distinct(rows, 'git_commit')}`",
        f"- measured: {dates[0] if dates else '—'} … {dates[-1] if dates else '—'}",
        f"- machine: {_distinct(rows, 'host_cpu')}, {_distinct(rows, 'host_cpus')} CPUs; "
        f"device: {_distinct(rows, 'device')} ({_distinct(rows, 'device_kind')})",
        f"- jax {_distinct(rows, 'jax_version')}, jaxlib {_distinct(rows, 'jaxlib_version')}, "
        f"Python {_distinct(rows, 'python')}; matmul precision: {_distinct(rows, 'precision')}",
        "- command(s): " + "; ".join(f"`{c}`" for c in commands),
        _runs_line(rows),
        _load_line(rows),
        _allocator_line(rows),
        "",
        "**Method.** Each config is jitted, lowered and compiled once (compile time recorded "
        "apart), called once to warm up, then timed over at least `repeats` (5) calls "
        "ended by `block_until_ready` (fast configs: more calls, up to 0.2 s in all); "
        "figures use the median, time per step = median / T. Memory is "
        "XLA's own accounting (`compiled.memory_analysis()`): `temp_size_in_bytes` is the "
        "scratch memory the algorithm needs beyond its inputs and outputs. Gradients are "
        "compared with BPTT run in float64 on the same values. Exponents are least-squares "
        f"slopes in log-log over the top {FIT_OCTAVES} octaves of each measured range (at least "
        "3 points), where per-step overheads no longer dominate; the local slopes between "
        "consecutive points are listed so the approach to the asymptote can be judged. "
        "Configs run one at a time in a worker process; other load on the machine adds noise "
        "(compare the median and minimum columns of the last table).",
        "",
        "**Reading the exponents.** A local slope jumps where a working set leaves a cache level "
        "(BPTT: W_rec and its gradient, 8·n² bytes in float32; RTRL and the hybrid: M, 4·S·P "
        "bytes) or where XLA switches kernels, so a fit is meaningful only within one regime; "
        "the fit range is stated with each exponent. Temp bytes also hold copies of the inputs "
        "(O(T·(m + o)), m = o = 8 here), which set a floor under the flat (O(1) in T) curves. "
        "A time exponent is the operation-count exponent plus the change in time per "
        "operation: while the achieved FLOP rate still rises with n (RTRL's and the hybrid's "
        "GEMMs on a CPU until they near its peak), the fitted time exponent sits below the "
        "theory by log(rate ratio)/log(n ratio). On several cores part of that rise is "
        "parallel efficiency (a small product leaves cores idle): section *One CPU vs all "
        "CPUs* times RTRL and the hybrid again on one core (sweep `n-1cpu`), without that "
        "part, and gives the speed-up's slope. The figure *Achieved rate* shows this rate "
        "for RTRL and the hybrid, with FLOPs counted from the theory's dominant products "
        "(not from XLA): the gap between a fitted time exponent and the theory is the slope of "
        "this curve over the same range (`benchmarks/hybrid_breakdown.py` times the hybrid's "
        "block part by part beside plain products of the same arithmetic, to show which part's "
        "rate rises; `benchmarks/README.md` has a CPU run). XLA's own FLOP count and rate, "
        "where it has one, are in the last table. On a CPU, XLA allocates its scratch memory "
        "afresh on every call, and the OS faults fresh pages in at a cost that grows with "
        "the scratch (O(n³) per call for RTRL and the hybrid), one power of n slower than "
        "their arithmetic: section "
        "*Page faults and CPU time* measures this system time per call and fits the user and "
        "system CPU times apart. Below 32 MiB of scratch, whether the C allocator hands back "
        "pages already mapped or new ones depends on what the worker process allocated "
        "before, so times near the bottom of RTRL's and the hybrid's fit ranges can differ "
        "between runs by far more than the spread of their own repeats; "
        "`benchmarks/README.md` gives measured cases. Judge their exponents over several runs "
        "(section *Run-to-run spread*). The `--full` range (n up to 1024) fits above that "
        "boundary, but where its largest configs fill most of the machine's memory, each "
        "page fault costs more and its top point measures that pressure too (section *Page "
        "faults and CPU time*).",
        "",
        "**Hybrid vs h.** Per step the hybrid costs O(S·cost(step) + S·P + S²·P/h) and stores "
        "O(S·P + h·S²): its time falls with h at every h (no interior minimum), its memory "
        "grows, and time × memory is least near h = S, where each h-dependent term equals its "
        "h-independent partner; the table below gives the measured h of both. Its times are "
        "the median of every timed call of each h over all runs of this code version, and a "
        "rise in time from one h to the next is called one only where the interquartile "
        "ranges of the calls do not overlap (the figure's bars).",
        "",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _optional(path: Path, heading: str, text: str | None = None) -> list[str]:
    """``[heading, text]`` (default text: the file's contents) when ``path`` exists, else
    nothing."""
    if not path.exists():
        return []
    return [heading, path.read_text() if text is None else text]


def _core_targets(path: Path, version: str | None) -> str:
    """The issue-2 performance targets from ``core_targets.json`` (benchmarks/core_targets.py),
    and whether they were measured at ``version``, the code version of the report's rows."""
    command = f"`python benchmarks/core_targets.py --out {path.as_posix()}`"
    if not path.exists():
        return f"Not measured: run {command}.\n"
    c = json.loads(path.read_text())
    b, r, h = c["bptt_vs_hand_written"], c["rtrl_memory_and_gemm"], c["hybrid_vs_rtrl"]
    rows = [
        (b["case"], "time / hand-written jax.grad(scan) ≤ 1.05", f"{b['ratio']:.3f}"),
        (r["case"], "XLA temp bytes / (3·S·P·4) ≤ 1", f"{r['temp_over_budget']:.3f}"),
        (
            r["case"],
            "J·M GFLOP/s / 1024³ matmul ≥ 0.6 (product alone)",
            f"{r['jm_fraction_alone']:.2f}",
        ),
        (
            r["case"],
            "same, whole RTRL step (only J·M flops credited)",
            f"{r['jm_fraction_whole_step']:.2f}",
        ),
        (h["case"], "RTRL time / hybrid time ≥ 20", f"{h['speedup']:.1f}"),
    ]
    lines = ["| case | criterion | measured |", "|---|---|---|"]
    lines += [f"| {a} | {k} | {v} |" for a, k, v in rows]
    m, measured = c["machine"], c.get("code_version")
    when = f", code version `{measured}`, {c['date']}" if measured else ""
    lines.append(
        f"\nMeasured on {m['device']} ({m['platform']}), jax {m['jax']}{when}, by {command}."
    )
    if measured is None:
        lines.append(
            "The file does not record the code version it measured (written before it did): "
            f"these figures may be of older code than the results above; rerun {command}."
        )
    elif version is not None and measured != version:
        lines.append(
            f"**Stale:** the results above are of code version `{version}`, these of "
            f"`{measured}`; rerun {command}."
        )
    return "\n".join(lines) + "\n"


def _spread_section(spread: dict[str, RunSpread], one_cpu: dict[str, RunSpread]) -> str:
    """Each run's time exponent and the pooled one (all CPUs, then one CPU where measured),
    or how to measure more runs."""
    runs = max((s.runs for s in spread.values()), default=0)
    how = (
        "`nox -s bench -- --force` (or the command above with `--force`) appends another run of "
        "this code version to the results file; a partial rerun such as "
        "`--sweeps n --algorithms rtrl hybrid --force` adds runs of the configs it covers."
    )
    if runs < 2:
        return (
            "One run of this code version, so the tables above are all there is. " + how + " "
            "This section then fits each run apart and fits the per-config median time over "
            "the runs.\n"
        )
    text = (
        f"Up to {runs} runs of this code version's n sweep (a run is one bench invocation, "
        "told apart by the rows' `run_id`; rows without one: run r = the r-th measurement of "
        "each config; *runs* counts them per algorithm). "
        "The tables above use the last measurement of each config; here each run is fitted "
        "apart (same fit rule), and *exponent of the per-config medians* fits the median "
        "time of each config over all its runs. " + how + "\n\n" + spread_table(spread)
    )
    if one_cpu:
        text += "\nThe same for the one-CPU sweep (`n-1cpu`, section *One CPU vs all CPUs*):\n\n"
        text += spread_table(one_cpu)
    return text


def _provenance(rows: Sequence[Row], version: str | None) -> str:
    """One sentence: what was run where, how often, when, and at which code version."""
    dates = sorted(r["date"] for r in rows if "date" in r)
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
    """Write the figures of :data:`FIGURES`, ``REPORT.md`` (headline, then the details a
    reader needs) and ``DETAILS.md`` (provenance, method, acceptance list, run spreads, CPU
    diagnostics, failures, every measurement) into ``out`` (on GPU rows, all but
    :data:`CPU_ONLY_FIGURES`).

    Arguments:
        results: the ``results.jsonl`` file.
        out: output folder (default: the results file's folder).
        code_version: the code version to report (default: that of the last row); one row per
            config, the last measured, of the machine that measured the last row of that
            version (:func:`~gradalgos.plots.results.comparable`).

    Returns:
        The path of ``REPORT.md``.
    """
    results = Path(results)
    out = Path(out) if out is not None else results.parent
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_rows(results)
    every = comparable(loaded, code_version)
    all_rows = latest(every)
    version = every[-1]["code_version"] if every else code_version
    rows = [r for r in all_rows if r.get("status") == "ok"]
    spread = run_spread(every)
    spread_one_cpu = run_spread(every, "n-1cpu")
    fits = {
        "time/step vs n": figure_time_vs_n(rows, out),
        "temp bytes vs T": figure_memory_vs_T(rows, out),
        "temp bytes vs n": figure_memory_vs_n(rows, out),
    }
    figures = _figures(every, out)
    parallel = figure_parallel(rows, out, every) if "parallel.png" in figures else {}
    fits["time/step vs n, one CPU"] = {alg: f.one_cpu for alg, f in parallel.items()}
    figure_rate_vs_n(rows, out)
    figure_tbptt_bias(rows, out)
    block_info = figure_hybrid_block(rows, out, every)
    cross = figure_crossover(rows, out, every)
    figure_batch(rows, out)
    if "page_faults.png" in figures:
        figure_page_faults(rows, out)
    figure_online_step(rows, out)
    if not select(rows, sweep=ONLINE_STEP_SWEEP):  # drawn (empty) but not linked
        figures.pop(ONLINE_STEP_FIGURE, None)
    failed = len(all_rows) - len(rows)
    online = [
        "## Online methods: cost per step\n",
        "One step of each online method's `update` beside BPTT's step, FLOP exponents and the "
        "targets: [DETAILS.md](DETAILS.md#online-methods-cost-per-step) and [the figure]"
        f"({ONLINE_STEP_FIGURE}).\n",
    ]
    if ONLINE_STEP_FIGURE not in figures:
        online = []
    time_caption = FIGURES["time_vs_n.png"]
    found = headline.findings(rows, fits["time/step vs n"])
    main = [
        "# gradalgos benchmark report\n",
        _provenance(every, version) + "\n",
        "Time, memory and FLOPs per step (n = hidden units, T = sequence length of the config); "
        "memory is XLA's scratch (`temp_size_in_bytes`):\n",
        headline.headline_table(rows),
        f"![{time_caption}](time_vs_n.png)\n",
        "**Findings.**\n",
        *(f"- {f}" for f in found),
        "",
        f"{len(all_rows)} configs: {len(rows)} measured, {failed} failed. Provenance, method, "
        "acceptance list, run-to-run spreads, CPU diagnostics, failures and every measurement: "
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
        *online,
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
        "## Core performance targets\n",
        _core_targets(out / "core_targets.json", version),
        *_optional(
            out / "TRAINING.md",
            "## Training\n",
            "Learning curves, gradient-free baselines and paper reproductions: "
            "[TRAINING.md](TRAINING.md) (`nox -s compare`).\n",
        ),
    ]
    details = [
        "# gradalgos benchmark report: details\n",
        "The long tables behind [REPORT.md](REPORT.md), from the same rows.\n",
        _header(every, version, results).replace("# gradalgos benchmark report\n", "", 1),
        "## Acceptance figures\n",
        tables.acceptance_table(rows, fits, cross, block_info, spread, spread_one_cpu),
        "## Run-to-run spread of the time exponents vs n\n",
        _spread_section(spread, spread_one_cpu),
        *(["## Online methods: cost per step\n", online_step_section(rows)] if online else []),
        "## One CPU vs all CPUs: RTRL and the hybrid\n",
        parallel_section(parallel, every),
        "## Page faults and CPU time (CPU)\n",
        page_fault_section(rows),
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
