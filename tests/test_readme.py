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

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README's examples go on in this page (the sharding example).
SCALING_OUT = ROOT / "docs" / "scaling_out.md"
REPORT = ROOT / "reports" / "REPORT.md"


def python_blocks() -> list[str]:
    """The fenced ```python blocks of the README, then of docs/scaling_out.md, dedented."""
    text = README.read_text(encoding="utf-8") + SCALING_OUT.read_text(encoding="utf-8")
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs: blank-line separated, fenced code and tables left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [b for b in blocks if not b.lstrip().startswith("|")]


def test_readme_is_one_screen_with_results():
    """A results table within the first 60 lines; no paragraph over 120 words."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("| algorithm |") for line in lines[:60])
    longest = max(_paragraphs("\n".join(lines)), key=lambda p: len(p.split()))
    assert len(longest.split()) <= 120, longest[:200]


def test_readme_results_are_the_committed_reports():
    """The README's results table is the committed report's headline table, row for row (a
    re-rendered report whose numbers moved must be copied again)."""

    def table(path: pathlib.Path) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| algorithm |"))
        end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), None)
        return lines[start:end]

    assert table(README) == table(REPORT)


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
