"""Fastest exact gradient vs memory budget: what ``ga.plan`` chooses, and why (issue 32).

    python benchmarks/planner_budget.py [--n 128 512] [--T 1000 100000] [--budgets 80]
        [--measure-repeats 5] [--out reports/planner_budget.json] [--png reports/planner_budget.png]

For Elman cells (m = o = 4 inputs and outputs, batch 1, float32, offline, exact) and each
(n, T), every candidate of ``ga.plan`` (BPTT, checkpointed BPTT, the hybrid for every block
length, RTRL) is compiled, not run, and its footprint read from ``memory_analysis()``. Then
``ga.plan`` is called at budgets on a log grid: its choice and its time per step against the
budget, with each method's own curve beneath (the fastest of that method that fits).

**The times are the planner's own estimate**: FLOPs per step from ``cost_analysis()`` of one
step (see ``gradalgos/planner/costs.py``), divided by BPTT's, i.e. "time per step in BPTT
steps". They are not measured. To show how far FLOPs are from seconds, a few candidates of the
smallest problem (n = 128, T = 10³ by default) are also *run* and timed (medians of
interleaved repeats, compile excluded): their measured time over measured BPTT's is drawn as
markers on the same axis.
"""

from __future__ import annotations

import argparse
import json
import math

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from core_targets import interleaved, script_meta

import gradalgos as ga
from gradalgos.planner.costs import estimate_flops, measure
from gradalgos.planner.plan import candidates, plan_problem
from gradalgos.planner.problem import make_problem

FAMILIES = {  # method family → colour
    "BPTT": "tab:blue",
    "CheckpointedBPTT": "tab:orange",
    "Hybrid": "tab:green",
    "RTRL": "tab:red",
}
M_IN = O_OUT = 4


def elman(n: int):
    cell = ga.cells.Elman(input_size=M_IN, hidden_size=n, output_size=O_OUT)
    params = cell.init(jax.random.key(0), jnp.float32)
    return cell, params, cell.initial_state(jnp.float32)


def sweep(n: int, T: int, num_budgets: int) -> dict:
    """Every candidate's measured bytes and estimated cost, and the plan over a budget grid."""
    cell, params, state0 = elman(n)
    problem = make_problem(cell, params, state0, (T, M_IN), loss=ga.losses.mse)
    bptt_flops = estimate_flops(ga.BPTT(), problem)
    rows = []
    for algorithm in candidates(problem, online=False, exact=True):
        measured = measure(algorithm, problem)
        rows.append(
            {
                "algorithm": repr(algorithm),
                "family": type(algorithm).__name__,
                "bytes": None if measured is None else measured.bytes,
                "flops_per_step": estimate_flops(algorithm, problem),
            }
        )
    sizes = [r["bytes"] for r in rows if r["bytes"] is not None]
    low, high = math.log(min(sizes) / 1.5), math.log(max(sizes) * 1.5)
    steps = range(num_budgets)
    budgets = [round(math.exp(low + (high - low) * i / (num_budgets - 1))) for i in steps]
    chosen = {"offline": [], "online": []}
    for budget in budgets:
        for mode, plans in chosen.items():
            try:
                plan = plan_problem(problem, budget, online=mode == "online", exact=True)
            except ValueError:  # below the smallest candidate
                plans.append(None)
                continue
            plans.append(
                {
                    "algorithm": repr(plan.algorithm),
                    "bytes": plan.bytes,
                    "flops_per_step": plan.flops_per_step,
                    "time_vs_bptt": plan.time_vs_bptt,
                }
            )
    return {
        "n": n,
        "T": T,
        "S": problem.S,
        "P": problem.P,
        "problem": problem.describe(),
        "bptt_flops_per_step": bptt_flops,
        "candidates": rows,
        "budgets": budgets,
        "chosen": chosen,
    }


def measured_times(n: int, T: int, repeats: int) -> dict:
    """Measured seconds per call of a few candidates (run, medians of interleaved repeats)."""
    cell, params, state0 = elman(n)
    k1, k2 = jax.random.split(jax.random.key(1))
    xs = jax.random.normal(k1, (T, M_IN), jnp.float32)
    targets = jax.random.normal(k2, (T, O_OUT), jnp.float32)
    c = round(math.sqrt(T))
    algorithms = [ga.BPTT(), ga.CheckpointedBPTT(segment=c)]
    algorithms += [ga.Hybrid(block=h) for h in (8, 64, 512) if h < T]
    algorithms.append(ga.RTRL())
    fns = {}
    for algorithm in algorithms:
        fn = (
            jax.jit(lambda p, s, x, t, a=algorithm: ga.value_and_grad(a, cell, p, s, x, t))
            .lower(params, state0, xs, targets)
            .compile()
        )
        fns[repr(algorithm)] = lambda fn=fn: fn(params, state0, xs, targets)
    seconds = interleaved(fns, repeats)
    return {"n": n, "T": T, "repeats": repeats, "seconds_per_call": seconds}


def _family_curve(rows: list[dict], family: str, budgets: list[int], bptt: float) -> list:
    out = []
    for budget in budgets:
        fits = [
            r["flops_per_step"]
            for r in rows
            if r["family"] == family and r["bytes"] is not None and r["bytes"] <= budget
        ]
        out.append(min(fits) / bptt if fits else math.nan)
    return out


def _annotate_changes(ax, gib: list[float], plans: list) -> None:
    """Name the choice where its method changes, and the last choice (the hybrid's largest
    block that fits, online) where it first appears."""
    named = [(x, c) for x, c in zip(gib, plans, strict=True) if c is not None]
    last = named[-1][1]["algorithm"] if named else None
    for i, (x, c) in enumerate(named):
        name = c["algorithm"]
        before = named[i - 1][1]["algorithm"] if i else None
        starts = before is None or before.split("(")[0] != name.split("(")[0]
        final = name == last and name != before and not starts
        if starts or final:
            ax.annotate(
                name.replace("CheckpointedBPTT", "Ckpt"),
                (x, c["time_vs_bptt"]),
                textcoords="offset points",
                xytext=(3, -12) if final else (3, 4),
                fontsize=7,
                rotation=0 if final else 25,
            )


def figure(sweeps: list[dict], timed: dict | None, path: str) -> None:
    ns = sorted({s["n"] for s in sweeps})
    Ts = sorted({s["T"] for s in sweeps})
    fig, axes = plt.subplots(
        len(ns), len(Ts), figsize=(6.2 * len(Ts), 4.4 * len(ns)), squeeze=False
    )
    for s in sweeps:
        ax = axes[ns.index(s["n"])][Ts.index(s["T"])]
        gib = [b / 2**30 for b in s["budgets"]]
        bptt = s["bptt_flops_per_step"]
        for family, colour in FAMILIES.items():
            curve = _family_curve(s["candidates"], family, s["budgets"], bptt)
            ax.step(gib, curve, where="post", color=colour, lw=1.2, alpha=0.55, label=family)
            pts = [r for r in s["candidates"] if r["family"] == family and r["bytes"]]
            ax.scatter(
                [r["bytes"] / 2**30 for r in pts],
                [r["flops_per_step"] / bptt for r in pts],
                color=colour,
                s=10,
                alpha=0.7,
            )
        for mode, style, label in (
            ("offline", "-", "ga.plan's choice"),
            ("online", "--", "ga.plan(online=True)'s choice"),
        ):
            plans = s["chosen"][mode]
            best = [math.nan if c is None else c["time_vs_bptt"] for c in plans]
            ax.step(gib, best, style, where="post", color="black", lw=2.2, alpha=0.8, label=label)
            _annotate_changes(ax, gib, plans)
        if timed and timed["n"] == s["n"] and timed["T"] == s["T"]:
            secs = timed["seconds_per_call"]
            by_name = {r["algorithm"]: r for r in s["candidates"]}
            names = [k for k in secs if k in by_name and by_name[k]["bytes"]]
            ax.scatter(
                [by_name[k]["bytes"] / 2**30 for k in names],
                [secs[k] / secs["BPTT()"] for k in names],
                marker="x",
                color="black",
                s=40,
                zorder=5,
                label="measured time (run, CPU)",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"Elman n = {s['n']}, T = {s['T']:,}, B = 1, float32", fontsize=10)
        ax.set_xlabel("memory budget (GiB; candidates' footprints measured by XLA)")
        ax.set_ylabel("time per step, in BPTT steps\n(estimated from FLOPs)")
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle(
        "Fastest exact gradient vs memory budget (ga.plan). Memory: compiled programs' "
        "memory_analysis().\nTime: the planner's FLOP estimate (cost_analysis of one step) over "
        "BPTT's — not measured; × marks: measured CPU times over measured BPTT's.",
        fontsize=10,
    )
    labels = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labels.setdefault(label, handle)
    fig.legend(labels.values(), labels.keys(), loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--T", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--budgets", type=int, default=80, help="points of the budget grid")
    parser.add_argument(
        "--measure-repeats", type=int, default=5, help="0: time nothing, estimates only"
    )
    parser.add_argument("--out", default="reports/planner_budget.json")
    parser.add_argument("--png", default="reports/planner_budget.png")
    parser.add_argument(
        "--replot", action="store_true", help="only redraw --png from the numbers in --out"
    )
    args = parser.parse_args()
    if args.replot:
        with open(args.out) as f:
            saved = json.load(f)
        figure(saved["sweeps"], saved["measured"], args.png)
        return
    if args.budgets < 2:
        parser.error("--budgets must be at least 2")
    sweeps = [sweep(n, T, args.budgets) for n in args.n for T in args.T]
    for s in sweeps:
        print(s["problem"], "bptt FLOPs/step", f"{s['bptt_flops_per_step']:.3g}")
        for r in s["candidates"]:
            print(f"  {r['algorithm']:<28} {r['bytes']!s:>14} B  {r['flops_per_step']:.3g}")
    timed = None
    if args.measure_repeats > 0:
        timed = measured_times(min(args.n), min(args.T), args.measure_repeats)
        print(json.dumps(timed, indent=1))
    with open(args.out, "w") as f:
        json.dump(
            {
                "meta": script_meta("planner_budget.py", args.measure_repeats),
                "sweeps": sweeps,
                "measured": timed,
            },
            f,
            indent=1,
        )
        f.write("\n")
    figure(sweeps, timed, args.png)
    print("wrote", args.out, args.png)


if __name__ == "__main__":
    main()
