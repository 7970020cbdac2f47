"""STUDY.md from ``alignment.json`` (and the online-training results, when present).

Headline first: one table, method × time per step × memory × median cosine × final metric per
task; then the figures; then findings, each one sentence computed from the numbers.
The training columns come from ``train_results.json``'s ``"online_study"`` key::

    {"tasks": {task: {"metric": str, "higher_is_better": bool, "runs":
        {method_label: {"final_metric": [float per seed], "seconds": float}}}}}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from gradalgos.plots.fit import fit_loglog
from gradalgos.study.cost import scan_ratio
from gradalgos.study.figures import FIGURES, ORDER, rows_of, seed_stats

__all__ = ["cost_findings", "findings", "headline", "render", "scan_ratio"]

HEADLINE_CELL = "Elman"
#: A step of an approximate method of BPTT's order (O(n²)) costs at most this many BPTT steps.
RATIO_TARGET = 4.0
#: A FLOP exponent agrees with its theory within this distance.
SLOPE_TOLERANCE = 0.2
#: The time exponents are fitted to the fastest of the timed calls (the least disturbed by
#: other jobs on the CPUs); the table shows the median.
_TIME_FIT = "time_per_step_min_s"


def _key(label: str) -> str:
    return re.sub(r"[^a-z0-9]", "", label.lower().split("(")[0])


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "—" if x is None or not np.isfinite(x) else format(x, fmt)


def _stat(values: list[Any]) -> str:
    med, lo, hi = seed_stats(values)
    return "—" if not np.isfinite(med) else f"{med:.3f} [{lo:.2f}, {hi:.2f}]"


def _fit(rows: list[dict], field: str) -> float | None:
    pts = [(r["n"], r[field]) for r in rows if r.get(field)]
    fit = fit_loglog(*zip(*pts, strict=True)) if len(pts) >= 2 else None
    return None if fit is None else fit.slope


def _get(row: dict, field: str) -> float:
    value = row.get(field)
    return float("nan") if value is None else value


def _headline_n(rows: list[dict]) -> int:
    """The largest n at which every method of the headline cell ran."""
    methods = {r["method"] for r in rows}
    ns = sorted({r["n"] for r in rows}, reverse=True)
    return next((n for n in ns if {r["method"] for r in rows if r["n"] == n} == methods), ns[-1])


def _training(train: dict | None) -> tuple[list[tuple[str, dict]], dict[str, dict[str, str]]]:
    """Task columns and ``{method key: {task: cell text}}`` from the online-study results."""
    if not train:
        return [], {}
    tasks = list(train.get("tasks", {}).items())
    cells: dict[str, dict[str, str]] = {}
    for name, task in tasks:
        for label, run in task.get("runs", {}).items():
            cells.setdefault(_key(label), {"label": label})[name] = _stat(run["final_metric"])
    return tasks, cells


def headline(result: dict, train: dict | None = None) -> str:
    rows = rows_of(result, cell=HEADLINE_CELL)
    if not rows:
        return f"(no {HEADLINE_CELL} rows measured)\n"
    n = _headline_n(rows)
    theory = result["meta"]["theory"]
    tasks, trained = _training(train)
    head = ["method", "time/step [µs] median (min)", "scanned / BPTT step", "FLOPs/step"]
    head += ["carry [KiB]", "XLA memory [KiB]", "median cosine [seed range]", "cos(Σg, BPTT)"]
    head += ["FLOP exp. fit (theory)", "time exp. fit (theory)", "carry exp. fit (theory)"]
    head += [f"{name}: {t['metric']} {'↑' if t['higher_is_better'] else '↓'}" for name, t in tasks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    seen = set()
    for r in (r for r in rows if r["n"] == n):
        m = r["method"]
        mine = [x for x in rows if x["method"] == m]
        th = theory.get(m, {})
        time_th = _num(th.get("time_exponent"), "g")
        cols = [
            m,
            f"{_num(r['time_per_step_s'] * 1e6, '.0f')} ({_num(_get(r, _TIME_FIT) * 1e6, '.0f')})",
            _num(scan_ratio(r), ".2f"),
            _num(r.get("flops_per_step"), ".3g"),
            _num(r["carry_bytes"] / 1024, ".1f"),
            _num(r["xla_bytes"] / 1024, ".0f"),
            _stat(r["cosine"]),
            _num(seed_stats(r["summed_cosine"])[0]),
            f"{_num(_fit(mine, 'flops_per_step'), '.2f')} ({time_th})",
            f"{_num(_fit(mine, _TIME_FIT), '.2f')} ({time_th})",
            f"{_num(_fit(mine, 'carry_bytes'), '.2f')} ({_num(th.get('memory_exponent'), 'g')})",
        ]
        seen.add(_key(m))
        cols += [trained.get(_key(m), {}).get(name, "—") for name, _ in tasks]
        lines.append("| " + " | ".join(cols) + " |")
    blank = len(head) - len(tasks) - 1
    for key, cells in trained.items():  # trained methods without an alignment row (TBPTT, …)
        if key not in seen:
            lines.append(
                "| "
                + " | ".join(
                    [cells["label"]] + ["—"] * blank + [cells.get(t, "—") for t, _ in tasks]
                )
                + " |"
            )
    bptt = next((r for r in rows if r["n"] == n and r.get("bptt_time_per_step_s")), {})
    caption = (
        f"{HEADLINE_CELL}, n = {n}, T = {rows[0]['T']}, {result['meta']['seeds']} seeds, "
        f"{result['meta']['samples']} keys per stochastic method; exponents fitted over the "
        f"{HEADLINE_CELL} sizes measured (top two octaves)."
    )
    if bptt:
        caption += (
            f" BPTT's step here: {bptt['bptt_time_per_step_s'] * 1e6:.1f} µs and "
            f"{_num(bptt.get('bptt_flops_per_step'), '.3g')} FLOPs (its T-step call / T); "
            "*scanned*: the method's step scanned over T in one call, as BPTT's call runs."
        )
    if tasks:
        caption += " Training columns: median final metric over seeds [range] (online study)."
    caption += (
        " Time exponents are fitted to the fastest timed call per size; small n is "
        "overhead-bound on a CPU, so they sit below theory."
    )
    return caption + "\n\n" + "\n".join(lines) + "\n"


def _median_cos(result: dict, method: str, cell: str, n: int | None = None, T: int | None = None):
    rs = [r for r in rows_of(result, cell=cell, T=T) if r["method"] == method]
    rs = [r for r in rs if n is None or r["n"] == n]
    return seed_stats(rs[-1]["cosine"])[0] if rs else None


def cost_findings(result: dict) -> list[str]:
    """The step's cost on the headline cell: the O(n²) methods' scanned time vs BPTT's step at
    the largest n they all reached, against :data:`RATIO_TARGET`, and the FLOP exponents vs
    theory (within :data:`SLOPE_TOLERANCE`)."""
    rows = rows_of(result, cell=HEADLINE_CELL)
    if not rows:
        return []
    out, theory = [], result["meta"]["theory"]
    quadratic = [r for r in rows if (theory.get(r["method"], {}).get("time_exponent") or 9) <= 2]
    # a step that loops (TBPTT replay re-runs its window each step) is k steps, not judged
    looped = sorted({r["method"] for r in quadratic if r.get("flops_per_step") is None})
    quadratic = [r for r in quadratic if r["method"] not in looped]
    n = _headline_n(quadratic) if quadratic else None  # the largest n all of them reached
    order_p = [
        (ratio, r["method"])
        for r in quadratic
        if r["n"] == n and (ratio := scan_ratio(r)) is not None
    ]
    if order_p:
        order_p.sort()
        over = [f"{m} {x:.1f}×" for x, m in order_p if x > RATIO_TARGET]
        out.append(
            f"At n = {n} on {HEADLINE_CELL}, a step of the O(n²) methods, scanned over T in one "
            f"call, costs {order_p[0][0]:.2f}× ({order_p[0][1]}) to {order_p[-1][0]:.2f}× "
            f"({order_p[-1][1]}) BPTT's step: {len(order_p) - len(over)} of {len(order_p)} within "
            f"{RATIO_TARGET:g}×"
            + (f" (over: {', '.join(over)})" if over else "")
            + (
                f"; not judged, its step loops over a window: {', '.join(looped)}."
                if looped
                else "."
            )
        )
    fits = []
    for m in dict.fromkeys(r["method"] for r in rows):
        th = theory.get(m, {}).get("time_exponent")
        slope = _fit([r for r in rows if r["method"] == m], "flops_per_step")
        if th is not None and slope is not None:
            fits.append((m, slope, th))
    if fits:
        bad = [f"{m} {k:.2f} vs {th:g}" for m, k, th in fits if abs(k - th) > SLOPE_TOLERANCE]
        out.append(
            f"XLA FLOPs per step grow with n as the theory says (within ±{SLOPE_TOLERANCE:g}, top "
            f"two octaves of {HEADLINE_CELL}) for {len(fits) - len(bad)} of {len(fits)} methods"
            + (f"; not: {'; '.join(bad)}." if bad else ".")
        )
    return out


def findings(result: dict) -> list[str]:
    out = cost_findings(result)
    rows = rows_of(result, cell=HEADLINE_CELL)
    by = {(r["method"], r["n"]): r for r in rows}
    ns = sorted({r["n"] for r in rows})
    # SnAp-1 vs UORO at comparable cost
    both = [n for n in ns if ("SnAp-1", n) in by and ("UORO", n) in by]
    if both:
        wins = [
            n
            for n in both
            if seed_stats(by[("SnAp-1", n)]["cosine"])[0] > seed_stats(by[("UORO", n)]["cosine"])[0]
        ]
        n = both[-1]
        s, u = by[("SnAp-1", n)], by[("UORO", n)]
        verdict = "reproduces" if len(wins) == len(both) else "does not reproduce everywhere"
        out.append(
            f"SnAp-1 beats UORO on {HEADLINE_CELL} at {len(wins)} of {len(both)} sizes "
            f"(n = {n}: cosine "
            f"{seed_stats(s['cosine'])[0]:.2f} vs {seed_stats(u['cosine'])[0]:.2f} at "
            f"{_get(s, _TIME_FIT) * 1e6:.0f} vs {_get(u, _TIME_FIT) * 1e6:.0f} µs per step, "
            "fastest call): "
            f"Menick et al.'s claim {verdict}."
        )
    # KF-RTRL variance vs UORO
    ratios = [
        (
            n,
            seed_stats(by[("UORO", n)]["variance"])[0]
            / seed_stats(by[("KF-RTRL", n)]["variance"])[0],
        )
        for n in ns
        if ("UORO", n) in by and ("KF-RTRL", n) in by
    ]
    if ratios:
        lo, hi = min(r for _, r in ratios), max(r for _, r in ratios)
        verdict = "reproduces" if lo > 1 else "does not reproduce"
        out.append(
            f"KF-RTRL's variance over keys is {lo:.0f}–{hi:.0f}× below UORO's on {HEADLINE_CELL} "
            f"for n = {ratios[0][0]}–{ratios[-1][0]} (×{ratios[-1][1]:.0f} at the largest): "
            f"Mujika et al.'s claim {verdict}."
        )
    slopes = {}
    for m in ("UORO", "KF-RTRL"):
        pts = [(n, seed_stats(by[(m, n)]["variance"])[0]) for n in ns if (m, n) in by]
        fit = fit_loglog(*zip(*pts, strict=True), octaves=None) if len(pts) >= 2 else None
        slopes[m] = None if fit is None else fit.slope
    if all(v is not None for v in slopes.values()):
        out.append(
            f"UORO's relative variance grows as n^{slopes['UORO']:.2f} on {HEADLINE_CELL}, "
            f"KF-RTRL's as n^{slopes['KF-RTRL']:.2f}: the gap widens with n."
        )
    pw = result.get("pairwise")
    if pw and len(pw["labels"]) > 2:
        m, labels = np.asarray(pw["matrix"]), pw["labels"]
        pairs = [(m[i, j], labels[i], labels[j]) for i in range(len(labels)) for j in range(i)]
        # leave out RTRL and identical twins (e-prop with symmetric feedback is SnAp-1)
        pairs = [p for p in pairs if "RTRL" not in (p[1], p[2]) and p[0] < 0.9999]
        if pairs:
            c, a, b = max(pairs)
            out.append(
                f"In the alignment matrix ({pw['cell']}, n = {pw['n']}), the closest two "
                f"approximations are {b} and {a} (mean cosine {c:.2f}), the farthest from "
                f"exact RTRL is {labels[int(np.argmin(m[labels.index('RTRL')]))]}."
                if "RTRL" in labels
                else f"In the alignment matrix, the closest two methods are {b} and {a} ({c:.2f})."
            )
    # element-wise RTRL exact at O(P)
    for cell in ("IndRNN", "LRU", "element-wise LSTM"):
        rs = [r for r in rows_of(result, cell=cell) if r["method"] in ("SnAp-1", "RTRL")]
        if rs:
            worst = min(min(x for x in r["cosine"] if x is not None) for r in rs)
            rtrl = [r for r in rs if r["method"] == "RTRL"]
            slope, flops = _fit(rtrl, "carry_bytes"), _fit(rtrl, "flops_per_step")
            out.append(
                f"On {cell}, RTRL and SnAp-1 agree with the exact gradient (lowest per-seed median "
                f"cosine {worst:.6f}, float32); RTRL's carry grows as n^{_num(slope, '.2f')} and "
                f"its FLOPs per step as n^{_num(flops, '.2f')}, i.e. O(P): "
                "element-wise RTRL is exact at O(P) (Zucchet et al.; Irie et al.)."
            )
    # immediate as the floor
    cells = sorted({r["cell"] for r in result["rows"]})
    below: dict[str, list[str]] = {}
    for cell in cells:
        floor = _median_cos(result, "immediate", cell)
        if floor is None:
            continue
        for r in rows_of(result, cell=cell):
            top = max(x["n"] for x in rows_of(result, cell=cell) if x["method"] == r["method"])
            if r["n"] == top and r["method"] != "immediate" and seed_stats(r["cosine"])[0] < floor:
                below.setdefault(r["method"], []).append(cell)
    if cells:
        parts = [f"{m} on {len(c)} of {len(cells)} cells" for m, c in below.items()]
        out.append(
            "Against the immediate-only floor (Marschall et al.), at each method's largest n: "
            f"below it are {', '.join(parts) or 'none'}; every other method–cell pair is above it."
        )
    # SnAp-2 on sparse Elman
    for cell in ("Elman d=1/16", "Elman d=1/4"):
        s1, s2 = _median_cos(result, "SnAp-1", cell), _median_cos(result, "SnAp-2", cell)
        if s1 is not None and s2 is not None:
            out.append(
                f"On {cell}, SnAp-2 moves the median cosine from {s1:.2f} (SnAp-1) to "
                f"{s2:.2f} at the largest n."
            )
    # dependence on T
    lengths = result["meta"]["lengths"]
    if len(lengths) > 1:
        ts = [r for r in result["rows"] if r["cell"] == HEADLINE_CELL and r["T"] == lengths[-1]]
        parts = []
        for r in ts:
            short = _median_cos(result, r["method"], HEADLINE_CELL, r["n"], lengths[0])
            parts.append(f"{r['method']} {_num(short, '.2f')}→{seed_stats(r['cosine'])[0]:.2f}")
        if ts:
            out.append(
                f"From T = {lengths[0]} to {lengths[-1]} ({HEADLINE_CELL}, n = {ts[0]['n']}), "
                f"median cosine: {', '.join(parts)}."
            )
    return out


def _busy(meta: dict) -> bool:
    return (meta.get("load_average") or 0) > 2.5


def by_cell(result: dict) -> str:
    """Median cosine per method (rows) and cell (columns) at one n: "×" where the method
    refuses the cell, blank where it was not run at that n (a cap)."""
    rows = rows_of(result)
    cells = list(result["meta"]["sizes"])
    n = _headline_n(rows_of(result, cell=HEADLINE_CELL)) if rows else 0
    refused = {(s["method"], s["cell"]) for s in result["skipped"]}
    methods = sorted({r["method"] for r in rows}, key=lambda m: ORDER.index(m))
    at = {(r["method"], r["cell"]): r for r in rows if r["n"] == n}
    lines = ["| method | " + " | ".join(cells) + " |", "|" + "---|" * (len(cells) + 1)]
    for m in methods:
        vals = []
        for c in cells:
            r = at.get((m, c))
            vals.append("×" if (m, c) in refused else _num(r and seed_stats(r["cosine"])[0], ".2f"))
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    head = f"Median per-step cosine with exact RTRL by cell, n = {n} (× = refused by the method):"
    return head + "\n\n" + "\n".join(lines) + "\n"


def _cpu(meta: dict) -> str:
    cpu = meta.get("cpu_seconds")
    return "—" if cpu is None else f"{cpu / 60:.1f} min"


def render(result: dict, train: dict | None = None) -> str:
    meta = result["meta"]
    parts = [
        "# Gradient alignment study",
        "",
        "How close is each online method's per-step gradient to the exact one, at what cost? "
        "Every method runs on the same sequence and weights as exact RTRL "
        "(`ga.alignment`; Marschall, Cho & Savin 2020).",
        "",
        "## Headline",
        "",
        headline(result, train),
        by_cell(result),
        "## Figures",
        "",
    ]
    parts += [f"![{cap}]({name})\n\n*{cap}.*\n" for name, cap in FIGURES.items()]
    parts += ["## Findings", ""] + [f"- {s}" for s in findings(result)] + [""]
    sizes = ", ".join(f"{c}: {list(s)}" for c, s in meta["sizes"].items())
    refused = {(s["method"], s["cell"]) for s in result["skipped"]}
    grouped: dict[tuple[str, int], list[str]] = {}
    for k, v in meta["caps"].items():
        m, c = k.split("|")
        if v < max(max(s) for s in meta["sizes"].values()) and (m, c) not in refused:
            grouped.setdefault((m, v), []).append(c)
    caps = "; ".join(f"{m} n ≤ {v} on {', '.join(cs)}" for (m, v), cs in grouped.items())
    parts += [
        "## Setup",
        "",
        f"- Task: {meta['task']}; weights at each cell's initialisation, new per seed; "
        f"{meta['dtype']}.",
        f"- Reference: {meta['reference']}; per-step cosine over the parameters the state "
        "depends on (the readout's gradient is exact for every method).",
        f"- Sizes: {sizes}; T = {meta['lengths']} (the longer T at one size of {HEADLINE_CELL}).",
        f"- Caps on 2 CPUs: {caps or 'none'}. SnAp-2 runs only on the sparse cells (on a dense "
        "cell it is RTRL); e-prop (symmetric feedback, = SnAp-1, tests/test_approx.py) only on "
        "Elman and CTRNN.",
        "- Time: median of the compiled online step (carry donated) after a warm-up call, compile "
        "apart; *scanned*: the method's offline `value_and_grad` over the T steps in one call / T, "
        "beside BPTT's T-step call / T (same worker, same sequence). Memory: the carry's bytes and "
        "XLA's `memory_analysis()` of the step (arguments + outputs + temp − aliased). FLOPs: "
        "XLA's `cost_analysis()` of the step, exact (no loop in it); BPTT's counts each loop body "
        "once, i.e. one step.",
        f"- Sweep took {meta['seconds'] / 60:.1f} min ({_cpu(meta)} of CPU) on {meta['machine']} "
        f"({meta['backend']}, {meta.get('workers', 1)} worker(s)); load average at the end "
        f"{_num(meta.get('load_average'), '.1f')}"
        + (" (other jobs shared the CPUs: times are noisy)." if _busy(meta) else "."),
        "",
        "Skipped pairs (the error each method raises):",
        "",
    ]
    parts += [
        f"- {s['method']} × {s['cell']}: {s['reason'].splitlines()[0][:200]}"
        for s in result["skipped"]
    ]
    return "\n".join(parts) + "\n"


def write(result: dict, out: Path, train_path: Path | None) -> Path:
    """Write ``out/STUDY.md``; training columns from ``train_path`` if it holds them."""
    import json

    train = None
    if train_path is not None and train_path.exists():
        train = json.loads(train_path.read_text()).get("online_study")
    path = out / "STUDY.md"
    path.write_text(render(result, train))
    return path
