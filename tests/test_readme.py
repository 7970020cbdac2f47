"""The README's Python examples run as written (in order, one namespace), and what they
compute is right: the first user contact with the library must not be a broken snippet."""

from __future__ import annotations

import pathlib
import re
import textwrap

import jax
import numpy as np
import pytest

import gradalgos as ga

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    """The README's fenced ```python blocks, dedented (some sit inside list items)."""
    text = README.read_text(encoding="utf-8")
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


def test_readme_has_the_usage_online_and_sharding_examples():
    blocks = python_blocks()
    assert len(blocks) == 3
    assert "ga.value_and_grad(" in blocks[0]
    assert "rtrl.step(" in blocks[1]
    assert "NamedSharding" in blocks[2]


@pytest.fixture(scope="module")
def namespace() -> dict:
    """Run the examples in order in one namespace; the online loop's ``stream`` and
    ``update`` are the user's, so the test supplies them (3 steps of plain SGD)."""
    blocks = python_blocks()
    ns: dict = {}
    exec(compile(blocks[0], "README usage", "exec"), ns)
    ns["stream"] = [(ns["xs"][0, t], ns["targets"][0, t]) for t in range(3)]
    ns["update"] = lambda p, g: jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, p, g)
    ns["params_before_online"] = ns["params"]
    exec(compile(blocks[1], "README online", "exec"), ns)
    exec(compile(blocks[2], "README sharding", "exec"), ns)
    return ns


def test_usage_example_gives_the_bptt_gradient(namespace):
    ns = namespace
    cell, params = ns["cell"], ns["params_before_online"]
    want_loss, want_grads, want_state = ga.value_and_grad(
        ga.BPTT(), cell, params, ns["state0"], ns["xs"], ns["targets"]
    )
    assert np.allclose(ns["loss"], want_loss, rtol=1e-10)
    for got, want in zip(
        jax.tree_util.tree_leaves(ns["grads"]), jax.tree_util.tree_leaves(want_grads), strict=True
    ):
        assert np.allclose(got, want, rtol=1e-8, atol=1e-12)
    assert ns["state_T"].shape == (32, 64)
    assert np.allclose(ns["state_T"], want_state)


def test_online_and_sharding_examples_leave_a_carry_that_still_steps(namespace):
    ns = namespace
    rtrl, cell, params, carry = ns["rtrl"], ns["cell"], ns["params"], ns["carry"]
    changed = jax.tree_util.tree_map(
        lambda a, b: not np.array_equal(a, b), params, ns["params_before_online"]
    )
    assert all(jax.tree_util.tree_leaves(changed))  # `update` ran on every leaf
    sharded = jax.tree_util.tree_leaves(carry.sensitivity)
    assert sharded and all(m.sharding.spec[-1] == "p" for m in sharded)
    carry, loss_t, grads_t = rtrl.step(cell, params, carry, ns["xs"][0, 3], ns["targets"][0, 3])
    assert np.isfinite(loss_t)
    assert jax.tree_util.tree_structure(grads_t) == jax.tree_util.tree_structure(params)
