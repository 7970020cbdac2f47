"""Where the hybrid's time goes: one propagating block (h = S) split into its parts, each set
beside a plain GEMM of the same shape class, vs n.

    python benchmarks/hybrid_breakdown.py [--n 64 128 192 256 384 512] [--repeats 5]
                                          [--out reports/hybrid_breakdown.json]

Interrupted (Ctrl-C, or a time box's SIGINT), it writes the sizes it finished, marked
``"complete": false``.

For an Elman cell (float32, m = o = 8 as in the bench's n sweep) with h = S = n, the parts of
:func:`gradalgos.algorithms.sensitivity.advance_block` with ``propagate=True``:

- ``block``: the whole propagating block, ``(s, M) → (s', M', L, g)``;
- ``pullback``: :func:`~gradalgos.algorithms.sensitivity.block_pullback` alone (forward and
  reverse scans, then D and the in-block gradient);
- ``scans``: the same with only ``J`` and ``λ`` returned, so XLA drops D and the gradient;
  ``pullback − scans`` is then the time of D and g (one time-contracted pull-back each);
- ``products``: ``J·M`` and ``λ·M``, leaf by leaf, as the block computes them.

References time what the same arithmetic costs on this machine as plain products:
``gemm_loop``, a ``lax.scan`` of h products ``(S×n)·(n×n)`` (the reverse scan's arithmetic,
2·h·S·n² FLOPs, with no pull-back around it); ``gemm_big``, one ``(S×S)·(S×P)`` product
(J·M's arithmetic, 2·S²·P FLOPs); and D's main contraction ``Σ_t δ_t ⊗ s_{t-1}`` over the h
stacked per-step cotangents ``(h, S·n)``, which the reverse scan writes time-major: ``d_tn``
contracts over that major axis into D's layout ``(S·n, n)`` (what the pull-back asks XLA for),
``d_nn`` computes the same sums laid out ``(n, S·n)``, where time is the inner dimension of a
plain product (2·h·S·n² FLOPs each). Rates count the theory's dominant products: 2·h·S·n² for
the scans, 2·h·S·P for D, 2·S²·P for J·M (P: the state's parameters, n² + n·m + n).

All parts are timed in alternation (one call of each per round, so a change of load touches
all alike), medians over ``repeats`` rounds after a warm-up, compile time excluded.
Exponents vs n are least-squares slopes over the n given from 128 up (the default report's
fit range is n = 128…512). The report's *Achieved rate* figure shows the whole block's rate;
this script says which part holds it back.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import jax
import jax.numpy as jnp
from core_targets import interleaved, script_meta
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.algorithms.sensitivity import (
    _times,  # the block's own J·M and λ·M, leaf by leaf
    advance_block,
    block_pullback,
    initial_sensitivity,
)
from gradalgos.plots.fit import fit_loglog

#: The parts and references, in the order they are timed and printed.
PARTS = ("block", "pullback", "scans", "products", "gemm_loop", "gemm_big", "d_tn", "d_nn")
M_IN = O_OUT = 8
_HIGHEST = jax.lax.Precision.HIGHEST


def state_params(n: int) -> int:
    """P: the parameters an Elman state depends on (W_rec, W_in, b)."""
    return n * n + n * M_IN + n


def flops(n: int) -> dict[str, float]:
    """The theory's dominant products per propagating block, h = S = n."""
    P = state_params(n)
    return {"scans": 2.0 * n * n * n * n, "D": 2.0 * n * n * P, "JM": 2.0 * n * n * P}


def parts(n: int) -> dict[str, Callable[[], object]]:
    """Zero-argument callables (jitted, arguments bound) of :data:`PARTS` for one n."""
    cell = ga.cells.Elman(input_size=M_IN, hidden_size=n, output_size=O_OUT)
    k = jax.random.split(jax.random.key(0), 6)
    params = cell.init(k[0])
    state0 = cell.initial_state()
    s, unravel = ravel_pytree(state0)
    xs = jax.random.normal(k[1], (n, M_IN))
    targets = jax.random.normal(k[2], (n, O_OUT))
    mask = jnp.ones((n,))
    # a non-zero M, as the carry holds after the first block
    M = jax.tree_util.tree_map(
        lambda m: 1e-2 * jax.random.normal(k[3], m.shape), initial_sensitivity(cell, params, state0)
    )
    J = jax.random.normal(k[4], (n, n)) / n
    lam = jax.random.normal(k[5], (n,))
    big = jax.random.normal(k[3], (n, state_params(n)))
    loss = ga.losses.mse

    def block(params, s, M):
        return advance_block(
            cell, loss, unravel, params, s, M, xs, targets, mask, single_step=False, propagate=True
        )

    def pullback(params, s):
        return block_pullback(cell, loss, unravel, params, s, xs, targets, mask)

    def scans(params, s):
        b = block_pullback(cell, loss, unravel, params, s, xs, targets, mask)
        return b.J, b.lam

    def products(J, lam, M):
        return _times(J, M), _times(lam, M)

    def gemm_loop(J, W, d):
        def body(rows, d_t):
            return jnp.dot(rows * d_t, W, precision=_HIGHEST), None

        return jax.lax.scan(body, J, jnp.broadcast_to(d, (n, n)))[0]

    def gemm_big(J, big):
        return jnp.dot(J, big, precision=_HIGHEST)

    def d_tn(stacked, s_prevs):  # Σ_t δ_t ⊗ s_{t-1} as D's W_rec leaf needs it: (S·n, n)
        return jnp.dot(stacked.T, s_prevs, precision=_HIGHEST)

    def d_nn(stacked, s_prevs_t):  # the same sums, laid out (n, S·n); s_prevs_t: (n, h)
        return jnp.dot(s_prevs_t, stacked, precision=_HIGHEST)

    d = jnp.tanh(lam)
    stacked = jax.random.normal(k[4], (n, n * n))  # h per-step cotangents (S·n each), t-major
    s_prevs = jax.random.normal(k[5], (n, n))  # the h states entering the steps
    bound = {
        "block": (block, (params, s, M)),
        "pullback": (pullback, (params, s)),
        "scans": (scans, (params, s)),
        "products": (products, (J, lam, M)),
        "gemm_loop": (gemm_loop, (J, params["W_rec"], d)),
        "gemm_big": (gemm_big, (J, big)),
        "d_tn": (d_tn, (stacked, s_prevs)),
        # s_prevs transposed eagerly, outside the program: inside it, XLA folds the transpose
        # into the product, which then contracts over the small operand's major axis
        "d_nn": (d_nn, (stacked, s_prevs.T)),
    }
    assert tuple(bound) == PARTS
    out = {}
    for name, (fn, args) in bound.items():
        compiled = jax.jit(fn).lower(*args).compile()
        out[name] = lambda compiled=compiled, args=args: compiled(*args)
    return out


def measure(n: int, repeats: int) -> dict[str, float]:
    """Median seconds of each part for one n, their rates [GFLOP/s] and shares of the block."""
    times = interleaved(parts(n), repeats)
    f = flops(n)
    row: dict[str, float] = {"n": n, **{f"{k}_s": v for k, v in times.items()}}
    row["d_and_grad_s"] = times["pullback"] - times["scans"]
    # separately compiled programs: each pays its own call overhead and misses the fusions
    # across part boundaries, so their sum is not exactly the block (> 1 at small n)
    row["parts_over_block"] = (times["pullback"] + times["products"]) / times["block"]
    row["scans_gflops"] = f["scans"] / times["scans"] / 1e9
    row["d_and_grad_gflops"] = f["D"] / row["d_and_grad_s"] / 1e9
    row["products_gflops"] = f["JM"] / times["products"] / 1e9
    row["block_gflops"] = sum(f.values()) / times["block"] / 1e9
    row["gemm_loop_gflops"] = f["scans"] / times["gemm_loop"] / 1e9
    row["gemm_big_gflops"] = f["JM"] / times["gemm_big"] / 1e9
    for layout in ("d_tn", "d_nn"):
        row[f"{layout}_gflops"] = f["scans"] / times[layout] / 1e9
    for part in ("scans", "d_and_grad", "products"):
        row[f"{part}_share"] = row[f"{part}_s"] / times["block"]
    return row


def slope(rows: list[dict[str, float]], key: str, n_min: int = 128) -> float | None:
    """Least-squares slope of log(row[key]) vs log(n) over the rows with n ≥ n_min (the
    report's :func:`~gradalgos.plots.fit.fit_loglog`, over all of them)."""
    chosen = [r for r in rows if r["n"] >= n_min]
    fit = fit_loglog([r["n"] for r in chosen], [r[key] for r in chosen], octaves=None)
    return None if fit is None else fit.slope


def _line(n: int, r: dict) -> str:
    """One size's row of the printed table: shares of the block's time, then rates."""
    shares = ("scans_share", "d_and_grad_share", "products_share", "parts_over_block")
    rates = ("block", "scans", "d_and_grad", "products", "gemm_loop", "gemm_big", "d_tn", "d_nn")
    return (
        f"{n:>4} {r['block_s']:>9.3e} "
        + " ".join(f"{r[k]:>6.0%}" for k in shares)
        + " " * 12
        + " ".join(f"{r[f'{k}_gflops']:>6.1f}" for k in rates)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[64, 128, 192, 256, 384, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="reports/hybrid_breakdown.json")
    args = parser.parse_args()
    rows = []
    header = (
        f"{'n':>4} {'block s':>9} {'scans':>6} {'D+g':>6} {'J·M':>6} {'sum':>6}   GFLOP/s: "
        f"{'block':>6} {'scans':>6} {'D+g':>6} {'J·M':>6} {'loop':>6} {'GEMM':>6} {'D tn':>6} "
        f"{'D nn':>6}"
    )
    print(header, flush=True)
    complete = True
    try:  # a time box (SIGINT) keeps the sizes already measured
        for n in args.n:
            r = measure(n, args.repeats)
            rows.append(r)
            print(_line(n, r), flush=True)
    except KeyboardInterrupt:
        complete = False
        print(f"interrupted: keeping the {len(rows)} sizes measured", flush=True)
    keys = tuple(f"{k}_s" for k in ("block", "scans", "d_and_grad", "products", *PARTS[4:]))
    exponents = {k.removesuffix("_s"): slope(rows, k) for k in keys}
    print("exponents vs n from n = 128 (theory 4 per block, 3 per step):")
    fitted = [f"{k} {v:.2f}" for k, v in exponents.items() if v is not None]
    print("  " + (", ".join(fitted) if fitted else "none: too few sizes from n = 128"))
    meta = script_meta("hybrid_breakdown.py", args.repeats)
    with open(args.out, "w") as f:
        json.dump(
            {"meta": meta, "complete": complete, "rows": rows, "exponents_from_n128": exponents},
            f,
            indent=1,
        )
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
