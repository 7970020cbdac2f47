"""Performance targets of the core (issue 2), measured in one run on one machine.

    python benchmarks/core_targets.py [--repeats 21] [--out reports/core_targets.json]

With ``--out``, also ``core_targets.md`` beside it, which REPORT.md links (``--render JSON``
writes that page again from a JSON, measuring nothing).

1. BPTT vs a hand-written ``jax.jit(jax.value_and_grad(loss over lax.scan))``, Elman n=128,
   T=1000, batch 32, float32: time ratio (target ≤ 1.05).
2. RTRL, Elman n=128, T=200, float32: XLA temp bytes (``memory_analysis()``) vs 3·S·P·4 bytes
   (target ≤ 1), and the J·M GEMM's achieved GFLOP/s vs a jitted 1024³ matmul (target ≥ 60 %):
   counted once for the whole RTRL step (only the 2·S²·P flops of J·M credited) and once for the
   product alone at the same shapes.
3. Hybrid(h=n) vs RTRL, n=128, T=256: speed-up (target ≥ 20×) and gradient agreement.

Times are medians over repeats after a warm-up call, with ``block_until_ready``; compile time is
excluded. Ratios compare runs made in the same process, interleaved. 21 repeats by default:
with 7, the BPTT ratio moved by ±3 % between back-to-back runs on a 2-core VM (0.995…1.058),
more than the 5 % margin of its target.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

import gradalgos as ga
from gradalgos.bench.version import code_version, git_commit

# float32 products in float32 on every backend (a GPU would otherwise use TF32, ~1e-3 error).
jax.config.update("jax_default_matmul_precision", "highest")


def script_meta(script: str, repeats: int) -> dict:
    """Provenance of a benchmark script's results file: the command as run, versions, machine,
    the measured code's version and commit, and the date."""
    return {
        "command": shlex.join(["python", f"benchmarks/{script}", *sys.argv[1:]]),
        "jax": jax.__version__,
        "device": jax.devices()[0].device_kind,
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "dtype": "float32",
        "repeats": repeats,
        "code_version": code_version(),
        "git_commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def median_time(fn: Callable[[], object], repeats: int) -> float:
    jax.block_until_ready(fn())  # warm-up (after compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median times of several functions, measured in alternation (fair under drifting load).

    Every other round runs them in reverse order, so that none always runs in the same position:
    a position effect (caches, clock boost) would otherwise bias the ratios taken from them."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns.items())
    for round_ in range(repeats):
        for name, fn in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def elman_case(n: int, T: int, batch: int, m: int = 4, o: int = 2, dtype=jnp.float32):
    cell = ga.cells.Elman(input_size=m, hidden_size=n, output_size=o)
    k = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k[0], dtype)
    xs = jax.random.normal(k[1], (batch, T, m), dtype)
    targets = jax.random.normal(k[2], (batch, T, o), dtype)
    state0 = jnp.zeros((batch, n), dtype)
    mask = jnp.ones((batch, T), dtype)
    return cell, params, state0, xs, targets, mask


def max_rel_diff(a, b) -> float:
    """Max over leaves of max|a - b| / max|b|."""
    return max(
        float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def compiled(alg, cell, params, state0, xs, targets, mask):
    """A jitted, compiled ``alg.batched_value_and_grad`` and its arguments."""
    fn = jax.jit(
        lambda p, s, x, t, msk: alg.batched_value_and_grad(cell, p, s, x, t, msk, ga.losses.mse)
    )
    return fn.lower(params, state0, xs, targets, mask).compile()


def hand_written(B: int):
    """``(params, xs, targets, h0) -> ((loss, h_T), grads)`` of an Elman network (tanh), jitted,
    as a user would write it: for one sequence (``B = 1``) ``W @ h`` on ``(T, m)`` inputs, for
    a batch ``h @ Wᵀ`` on ``(B, T, m)`` inputs scanned time-major; loss Σ_t mean((y − target)²),
    mean over the batch."""

    def one_sequence(p, xs, targets, h0):
        def body(h, inputs):
            x, target = inputs
            h = jnp.tanh(p["W_rec"] @ h + p["W_in"] @ x + p["b"])
            y = p["W_out"] @ h + p["b_out"]
            return h, jnp.mean((y - target) ** 2)

        h_T, losses = jax.lax.scan(body, h0, (xs, targets))
        return jnp.sum(losses), h_T

    def batch(p, xs, targets, h0):
        def body(h, inputs):
            x, target = inputs
            h = jnp.tanh(h @ p["W_rec"].T + x @ p["W_in"].T + p["b"])
            y = h @ p["W_out"].T + p["b_out"]
            return h, jnp.sum(jnp.mean((y - target) ** 2, axis=-1))

        h_T, losses = jax.lax.scan(body, h0, (xs.swapaxes(0, 1), targets.swapaxes(0, 1)))
        return jnp.sum(losses) / xs.shape[0], h_T

    return jax.jit(jax.value_and_grad(one_sequence if B == 1 else batch, has_aux=True))


def bptt_vs_hand_written(repeats: int) -> dict:
    cell, params, state0, xs, targets, mask = elman_case(128, 1000, 32)
    hand = hand_written(32).lower(params, xs, targets, state0).compile()
    ours = compiled(ga.BPTT(), cell, params, state0, xs, targets, mask)
    t = interleaved(
        {
            "hand_written": lambda: hand(params, xs, targets, state0),
            "gradalgos_bptt": lambda: ours(params, state0, xs, targets, mask),
        },
        repeats,
    )
    want = hand(params, xs, targets, state0)[1]
    rel = max_rel_diff(ours(params, state0, xs, targets, mask)[1], want)
    return {
        "case": "Elman n=128 T=1000 B=32 float32",
        "hand_written_s": t["hand_written"],
        "bptt_s": t["gradalgos_bptt"],
        "ratio": t["gradalgos_bptt"] / t["hand_written"],
        "target": "<= 1.05",
        "max_rel_grad_diff": rel,
    }


def rtrl_memory_and_gemm(repeats: int) -> dict:
    n, T = 128, 200
    cell, params, state0, xs, targets, mask = elman_case(n, T, 1)
    S, P = cell.state_size, cell.num_params
    fn = compiled(ga.RTRL(), cell, params, state0, xs, targets, mask)
    mem = fn.memory_analysis()
    J = jax.random.normal(jax.random.key(2), (S, S), jnp.float32)
    M = jax.random.normal(jax.random.key(3), (S, P), jnp.float32)
    A = jax.random.normal(jax.random.key(1), (1024, 1024), jnp.float32)
    gemm = jax.jit(lambda a, b: jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST))
    gemm_jm = gemm.lower(J, M).compile()
    gemm_1024 = gemm.lower(A, A).compile()
    t = interleaved(
        {
            "matmul_1024": lambda: gemm_1024(A, A),
            "jm_alone": lambda: gemm_jm(J, M),
            "rtrl": lambda: fn(params, state0, xs, targets, mask),
        },
        repeats,
    )
    peak = 2 * 1024**3 / t["matmul_1024"] / 1e9
    jm_flops = 2 * S * S * P
    per_step = t["rtrl"] / T
    budget = 3 * S * P * 4
    return {
        "case": "RTRL Elman n=128 T=200 B=1 float32",
        "S": S,
        "P": P,
        "temp_bytes": mem.temp_size_in_bytes,
        "argument_bytes": mem.argument_size_in_bytes,
        "output_bytes": mem.output_size_in_bytes,
        "budget_3SP4_bytes": budget,
        "temp_over_budget": mem.temp_size_in_bytes / budget,
        "time_per_step_s": per_step,
        "matmul_1024_gflops": peak,
        "jm_gflops_alone": jm_flops / t["jm_alone"] / 1e9,
        "jm_fraction_alone": jm_flops / t["jm_alone"] / 1e9 / peak,
        "jm_gflops_whole_step": jm_flops / per_step / 1e9,
        "jm_fraction_whole_step": jm_flops / per_step / 1e9 / peak,
        "target": "temp <= 3*S*P*4 bytes; J·M >= 60% of 1024^3 matmul GFLOP/s",
    }


def hybrid_vs_rtrl(repeats: int) -> dict:
    n, T = 128, 256
    cell, params, state0, xs, targets, mask = elman_case(n, T, 1)
    rtrl = compiled(ga.RTRL(), cell, params, state0, xs, targets, mask)
    hybrid = compiled(ga.Hybrid(block=n), cell, params, state0, xs, targets, mask)
    t = interleaved(
        {
            "rtrl": lambda: rtrl(params, state0, xs, targets, mask),
            "hybrid": lambda: hybrid(params, state0, xs, targets, mask),
        },
        max(3, repeats // 2),
    )
    args = (params, state0, xs, targets, mask)
    rel = max_rel_diff(hybrid(*args)[1], rtrl(*args)[1])
    return {
        "case": "Elman n=128 T=256 B=1 float32, Hybrid(block=128) vs RTRL",
        "rtrl_s": t["rtrl"],
        "hybrid_s": t["hybrid"],
        "speedup": t["rtrl"] / t["hybrid"],
        "target": ">= 20",
        "max_rel_grad_diff_float32": rel,
    }


def render(c: dict, json_path: str) -> str:
    """``core_targets.md``: the targets as a table, where and at which code version measured."""
    b, r, h = c["bptt_vs_hand_written"], c["rtrl_memory_and_gemm"], c["hybrid_vs_rtrl"]
    jm = "J·M GFLOP/s / 1024³ matmul ≥ 0.6"
    rows = [
        (b["case"], "time / hand-written jax.grad(scan) ≤ 1.05", f"{b['ratio']:.3f}"),
        (r["case"], "XLA temp bytes / (3·S·P·4) ≤ 1", f"{r['temp_over_budget']:.3f}"),
        (r["case"], f"{jm} (product alone)", f"{r['jm_fraction_alone']:.2f}"),
        (
            r["case"],
            "same, whole RTRL step (only J·M flops credited)",
            f"{r['jm_fraction_whole_step']:.2f}",
        ),
        (h["case"], "RTRL time / hybrid time ≥ 20", f"{h['speedup']:.1f}"),
    ]
    m, version = c["machine"], c.get("code_version")
    when = f", code version `{version}`, {c['date']}" if version else " (code version not recorded)"
    return "\n".join(
        [
            "# Core performance targets\n",
            "| case | criterion | measured |",
            "|---|---|---|",
            *(f"| {case} | {criterion} | {value} |" for case, criterion, value in rows),
            "",
            f"Measured on {m['device']} ({m['platform']}), jax {m['jax']}{when}, by "
            f"`python benchmarks/core_targets.py --out {json_path}`.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--out", default=None, help="write the results as JSON here, and .md")
    parser.add_argument(
        "--render", metavar="JSON", help="only write JSON's .md page, measuring nothing"
    )
    args = parser.parse_args()
    if args.render:
        with open(args.render) as f:
            page = render(json.load(f), args.render)
        with open(args.render.removesuffix(".json") + ".md", "w") as f:
            f.write(page)
        return
    results = {
        "machine": {
            "platform": platform.platform(),
            "device": str(jax.devices()[0]),
            "jax": jax.__version__,
        },
        # The report compares it with its results' code version (the measured sources' hash).
        "code_version": code_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "bptt_vs_hand_written": bptt_vs_hand_written(args.repeats),
        "rtrl_memory_and_gemm": rtrl_memory_and_gemm(args.repeats),
        "hybrid_vs_rtrl": hybrid_vs_rtrl(args.repeats),
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        with open(args.out.removesuffix(".json") + ".md", "w") as f:
            f.write(render(results, args.out))


if __name__ == "__main__":
    main()
