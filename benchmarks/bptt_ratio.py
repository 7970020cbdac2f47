"""BPTT vs a hand-written scan, n × B (issue 30): ``ga.value_and_grad(ga.BPTT(), ...)`` under
``jax.jit`` against ``jax.jit(jax.value_and_grad(loss over lax.scan))`` of the same network.

    python benchmarks/bptt_ratio.py [--n 64 128 256 512 1024] [--batch 1 32] [--T 200]
        [--repeats 15] [--out reports/bptt_ratio.json]

Elman (tanh, m = 4 inputs, o = 2 outputs), float32, loss Σ_t mean((y_t − target_t)²), mean
over the batch; both return the loss, the gradient and the final state. The hand-written
program is what a user would write: for one sequence ``W @ h`` on ``(T, m)`` inputs, for a
batch ``h @ Wᵀ`` on time-major ``(T, B, m)`` inputs. Times are medians of interleaved
repeats (alternating order) after a warm-up, compile excluded, in one process; the ratio is
the median of the per-round ratios (robust to a loaded machine's drift), target ≤ 1.05.
The script prints a Markdown table of the ratios (benchmarks/README.md holds the last one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
from core_targets import hand_written, max_rel_diff, script_meta

import gradalgos as ga

M_IN, O_OUT = 4, 2


def paired(hand, ours, repeats: int) -> dict:
    """Median times and the median of per-round ratios: each round times both back to back,
    alternating which goes first, so that a ratio of two adjacent calls cancels the load
    drift of a shared machine better than a ratio of medians does."""
    jax.block_until_ready(hand())
    jax.block_until_ready(ours())
    t_hand, t_ours = [], []
    for round_ in range(repeats):
        for fn, times in ((hand, t_hand), (ours, t_ours))[:: 1 if round_ % 2 == 0 else -1]:
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(time.perf_counter() - start)
    return {
        "hand_written_s": statistics.median(t_hand),
        "bptt_s": statistics.median(t_ours),
        "ratio": statistics.median(o / h for o, h in zip(t_ours, t_hand, strict=True)),
    }


def case(n: int, B: int, T: int, repeats: int) -> dict:
    cell = ga.cells.Elman(input_size=M_IN, hidden_size=n, output_size=O_OUT)
    k = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k[0], jnp.float32)
    lead = () if B == 1 else (B,)
    xs = jax.random.normal(k[1], (*lead, T, M_IN), jnp.float32)
    targets = jax.random.normal(k[2], (*lead, T, O_OUT), jnp.float32)
    h0 = jnp.zeros((*lead, n), jnp.float32)
    hand = hand_written(B).lower(params, xs, targets, h0).compile()
    ours = (
        jax.jit(lambda p, s, x, t: ga.value_and_grad(ga.BPTT(), cell, p, s, x, t))
        .lower(params, h0, xs, targets)
        .compile()
    )
    times = paired(
        lambda: hand(params, xs, targets, h0), lambda: ours(params, h0, xs, targets), repeats
    )
    (_, h_hand), g_hand = hand(params, xs, targets, h0)
    _, g_ours, h_ours = ours(params, h0, xs, targets)
    return {
        "n": n,
        "B": B,
        "T": T,
        **times,
        "ratio_of_medians": times["bptt_s"] / times["hand_written_s"],
        "max_rel_grad_diff": max_rel_diff(g_ours, g_hand),
        "max_rel_state_diff": max_rel_diff(h_ours, h_hand),
    }


def markdown(rows: list[dict]) -> str:
    ns = sorted({r["n"] for r in rows})
    Bs = sorted({r["B"] for r in rows})
    ratio = {(r["n"], r["B"]): r["ratio"] for r in rows}
    lines = ["| B \\ n | " + " | ".join(str(n) for n in ns) + " |"]
    lines.append("|---|" + "---:|" * len(ns))
    for B in Bs:
        cells = [f"{ratio[n, B]:.3f}" if (n, B) in ratio else "—" for n in ns]
        lines.append(f"| {B} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--T", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--out",
        default=None,
        help="write the results as JSON here (and a Markdown page beside it)",
    )
    args = parser.parse_args()
    if min(args.n + args.batch + [args.T, args.repeats]) < 1:
        parser.error("--n, --batch, --T and --repeats must be positive")
    rows = []
    for B in args.batch:
        for n in args.n:
            rows.append(case(n, B, args.T, args.repeats))
            print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            meta = script_meta("bptt_ratio.py", args.repeats)
            json.dump({"meta": meta, "rows": rows, "markdown": table}, f, indent=1)
            f.write("\n")
        page = (
            "# BPTT vs a hand-written scan\n\n"
            "Time of `ga.value_and_grad(ga.BPTT(), ...)` over a hand-written "
            "`jax.jit(jax.value_and_grad(loss of lax.scan))`, Elman, T = "
            f"{args.T}, float32; median of {args.repeats} interleaved per-round ratios "
            f"(target ≤ 1.05). Written by `python benchmarks/bptt_ratio.py --out {args.out}` "
            f"on {meta['machine']} ({meta['cpu_count']} CPUs), {meta['date']}.\n\n{table}\n"
        )
        Path(args.out).with_suffix(".md").write_text(page)


if __name__ == "__main__":
    main()
