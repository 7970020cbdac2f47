"""Run as a script by ``tests/test_sharding.py``, in a process of its own with 4 host CPU
devices (``XLA_FLAGS`` must be set before JAX starts, so not inside the pytest process).

It shards the online carry's sensitivity M over its parameter axes (``DESIGN.md``, *Scaling
out*), runs ``RTRL.step`` and ``Hybrid.step`` with nothing else changed, and prints one JSON
object per case: the largest deviation from an unsharded float64 BPTT gradient, whether M
came back with the sharding it went in with, and the size of every array the compiled step
communicates between devices (its collectives), beside the size of one device's shard of M.
"""

from __future__ import annotations

import json
import os
import re
import sys

DEVICES = 4
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}"
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

import gradalgos as ga  # noqa: E402
from gradalgos.algorithms.online import _step_compiled  # noqa: E402

jax.config.update("jax_enable_x64", True)

#: A collective's opcode, synchronous or the start of an asynchronous one (``all-gather-start``).
#: HLO opcode names are stable across XLA versions; the list covers every op that moves array
#: data between devices.
COLLECTIVE = re.compile(
    r"\b(all-gather|all-reduce|all-to-all|ragged-all-to-all|collective-permute|"
    r"collective-broadcast|reduce-scatter)(-start)?\("
)
#: An array type in HLO text: element type (``f64``, ``pred``, ``bf16``, …) and dimensions,
#: static (``32``) or bounded dynamic (``<=32``); the layout ``{…}`` that may follow is ignored.
ARRAY_TYPE = re.compile(r"\b[a-z][a-z0-9]*\[((?:<=)?\d+(?:,(?:<=)?\d+)*)?\]")


def parameter_axis_sharding(mesh: Mesh, leaf: jax.Array) -> NamedSharding:
    """Split the last axis of an M leaf ``(S, *param.shape)`` (a parameter axis) over the mesh."""
    return NamedSharding(mesh, PartitionSpec(*([None] * (leaf.ndim - 1)), "p"))


def collective_sizes(hlo_text: str) -> list[int]:
    """Elements of each array that a collective in this optimized HLO returns."""
    sizes = []
    for line in hlo_text.splitlines():
        match = COLLECTIVE.search(line)
        if not match or "=" not in line[: match.start()]:
            continue
        result_type = line[line.index("=") + 1 : match.start()]
        for dims in ARRAY_TYPE.findall(result_type):
            count = 1
            for d in filter(None, dims.split(",")):
                count *= int(d.removeprefix("<="))
            sizes.append(count)
    return sizes


def optimized_hlo(compiled: jax.stages.Compiled) -> str | None:
    """The compiled program's optimized HLO text (public ``Compiled.as_text()``), or ``None``
    where this JAX/backend does not provide it (the test then skips)."""
    try:
        text = compiled.as_text()
    except (NotImplementedError, AttributeError):  # pragma: no cover - backend dependent
        return None
    return text or None


def run_case(algorithm: ga.RTRL | ga.Hybrid, block: int) -> dict:
    n, m, o, T = 32, 4, 3, 8
    cell = ga.cells.Elman(input_size=m, hidden_size=n, output_size=o)
    params = cell.init(jax.random.key(0), jnp.float64)
    state0 = cell.initial_state(jnp.float64)
    xs = jax.random.normal(jax.random.key(1), (T, m), jnp.float64)
    targets = jax.random.normal(jax.random.key(2), (T, o), jnp.float64)
    _, reference, _ = ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets)

    mesh = Mesh(jax.devices(), ("p",))
    carry = algorithm.init(cell, params, state0)
    # None leaves (readouts, no M) are empty subtrees: tree_map and device_put pass them by.
    shardings = jax.tree_util.tree_map(
        lambda leaf: parameter_axis_sharding(mesh, leaf), carry.sensitivity
    )
    carry = carry._replace(sensitivity=jax.device_put(carry.sensitivity, shardings))
    first = carry

    def call_inputs(a: jax.Array, t: int) -> jax.Array:
        """One ``step`` call's slice of ``a`` from step t: one step (RTRL) or one block."""
        return a[t] if block == 1 else a[t : t + block]

    grads = jax.tree_util.tree_map(jnp.zeros_like, params)
    for t in range(0, T, block):
        x, y = call_inputs(xs, t), call_inputs(targets, t)
        carry, _, g = algorithm.step(cell, params, carry, x, y)
        grads = jax.tree_util.tree_map(jnp.add, grads, g)

    error = max(
        float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
        for a, b in zip(
            jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(reference), strict=True
        )
    )
    kept = all(
        leaf.sharding.is_equivalent_to(s, leaf.ndim)
        for leaf, s in zip(
            jax.tree_util.tree_leaves(carry.sensitivity),
            jax.tree_util.tree_leaves(shardings),
            strict=True,
        )
    )
    compiled = _step_compiled.lower(
        algorithm,
        cell,
        ga.losses.mse,
        params,
        first,
        call_inputs(xs, 0),
        call_inputs(targets, 0),
        None,
    ).compile()
    hlo = optimized_hlo(compiled)
    m_elements = sum(leaf.size for leaf in jax.tree_util.tree_leaves(first.sensitivity))
    return {
        "algorithm": type(algorithm).__name__,
        "S": n,
        "P_s": m_elements // n,
        "max_rel_error": error,
        "sharding_kept": kept,
        "m_shard_elements": m_elements // DEVICES,
        "collective_elements": None if hlo is None else collective_sizes(hlo),
    }


def main() -> None:
    if jax.device_count() != DEVICES:
        sys.exit(f"expected {DEVICES} devices, got {jax.device_count()}")
    for algorithm, block in ((ga.RTRL(), 1), (ga.Hybrid(block=4), 4)):
        print(json.dumps(run_case(algorithm, block)))


if __name__ == "__main__":
    main()
