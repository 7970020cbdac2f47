"""Cost of online learning from Python: a loop of ``step`` calls vs the same steps offline.

    python benchmarks/online_step.py [--n 16 64 128] [--repeats 7] [--out reports/online_step.json]

For Elman cells (float32, m = 4 inputs, o = 2 outputs) and each n, times per time step:

- ``RTRL.step`` called from a Python loop, one call per step (input checks included);
- the same with ``donate_carry=True`` (each step writes the new carry into the old one's buffers);
- ``Hybrid(block=n).step`` from a Python loop, one call per block of n steps, and the same
  with ``donate_carry=True``;
- ``ga.value_and_grad`` with the same algorithm over the same T = 4n steps (one compiled call).

The ratio loop / offline is the price of calling from Python: dispatch and the input checks
of every call (``step`` itself is compiled once per cell, loss and shapes). Medians over
``repeats`` after a warm-up, ``block_until_ready``, compile time excluded, all in one process.
Each way also records the process's minor page faults and user and system CPU time per time
step (``getrusage``, over the timed calls): a ``step`` call returns a new S·P_s sensitivity M,
which XLA:CPU allocates afresh unless the carry is donated, where the offline scan reuses its
buffers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import jax
from core_targets import median_time, script_meta
from cpu_page_faults import counters_per_call, cpu_counters

import gradalgos as ga

#: The ways of computing the same gradients, in the order they are timed and printed.
WAYS = (
    "rtrl_step_loop",
    "rtrl_step_loop_donating",
    "rtrl_offline",
    "hybrid_step_loop",
    "hybrid_step_loop_donating",
    "hybrid_offline",
)


def loop(
    algorithm: ga.RTRL | ga.Hybrid,
    cell,
    params,
    state0,
    xs,
    targets,
    block: int,
    *,
    donate: bool = False,
):
    """A function running ``algorithm.step`` over ``xs`` from Python, ``block`` steps a call
    (with ``donate``: ``step(..., donate_carry=True)``). The inputs are cut into per-call
    arrays beforehand, as a stream would deliver them, so that the timed loop is ``step``
    calls alone (slicing a JAX array in Python is a dispatch of its own)."""
    chunks = [
        (xs[start], targets[start])
        if block == 1
        else (xs[start : start + block], targets[start : start + block])
        for start in range(0, xs.shape[0], block)
    ]

    def run() -> object:
        carry = algorithm.init(cell, params, state0)
        for x, t in chunks:
            carry, _, grads = algorithm.step(cell, params, carry, x, t, donate_carry=donate)
        return grads

    return run


def measure(n: int, repeats: int) -> dict[str, float]:
    """Seconds per time step of the :data:`WAYS`, and counters per step, for one n."""
    T = 4 * n
    cell = ga.cells.Elman(input_size=4, hidden_size=n, output_size=2)
    k = jax.random.split(jax.random.key(0), 3)
    params = cell.init(k[0])
    state0 = cell.initial_state()
    xs = jax.random.normal(k[1], (T, 4))
    targets = jax.random.normal(k[2], (T, 2))
    ways: dict[str, Callable[[], object]] = {
        "rtrl_step_loop": loop(ga.RTRL(), cell, params, state0, xs, targets, 1),
        "rtrl_step_loop_donating": loop(
            ga.RTRL(), cell, params, state0, xs, targets, 1, donate=True
        ),
        "rtrl_offline": lambda: ga.value_and_grad(ga.RTRL(), cell, params, state0, xs, targets),
        "hybrid_step_loop": loop(ga.Hybrid(block=n), cell, params, state0, xs, targets, n),
        "hybrid_step_loop_donating": loop(
            ga.Hybrid(block=n), cell, params, state0, xs, targets, n, donate=True
        ),
        "hybrid_offline": lambda: ga.value_and_grad(
            ga.Hybrid(block=n), cell, params, state0, xs, targets
        ),
    }
    assert tuple(ways) == WAYS
    out = {"n": n, "T": T}
    for name, fn in ways.items():
        jax.block_until_ready(fn())  # compile
        before = cpu_counters()
        out[f"{name}_s_per_step"] = median_time(fn, repeats) / T
        # median_time makes repeats + 1 calls (one warm-up); counters per time step
        for field, value in counters_per_call(before, repeats + 1).items():
            per_step = field.replace("_per_call", "_per_step")
            out[f"{name}_{per_step}"] = None if value is None else value / T
    for alg in ("rtrl", "hybrid"):
        for loop_way in ("step_loop", "step_loop_donating"):
            out[f"{alg}_{loop_way.replace('step_', '')}_over_offline"] = (
                out[f"{alg}_{loop_way}_s_per_step"] / out[f"{alg}_offline_s_per_step"]
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default="reports/online_step.json")
    args = parser.parse_args()
    rows = [measure(n, args.repeats) for n in args.n]
    print(
        f"{'n':>5} {'way':>25} {'s/step':>10} {'/offline':>8} {'faults/step':>11} "
        f"{'user s/step':>11} {'sys s/step':>10}"
    )
    for r in rows:
        for way in WAYS:
            offline = r[f"{way.split('_')[0]}_offline_s_per_step"]
            wall, faults, user, sys_ = (
                r[f"{way}_{k}_per_step"] for k in ("s", "page_faults", "cpu_user_s", "cpu_sys_s")
            )
            counters = "" if faults is None else f" {faults:>11.1f} {user:>11.3e} {sys_:>10.3e}"
            print(f"{r['n']:>5} {way:>25} {wall:>10.3e} {wall / offline:>8.2f}{counters}")
    meta = script_meta("online_step.py", args.repeats)
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
