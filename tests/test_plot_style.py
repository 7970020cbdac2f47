"""Figures and tables read names, colours, markers and theory from the algorithm registry."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

import gradalgos as ga
from gradalgos.algorithms import registry


def test_a_method_added_to_the_registry_is_labelled_and_coloured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing in plots/ lists the online methods: one more in the registry is labelled and
    coloured."""

    @dataclasses.dataclass(frozen=True)
    class Late(ga.Immediate):
        info: ClassVar[ga.AlgorithmInfo] = dataclasses.replace(
            ga.Immediate.info, name="late", label="Late-1"
        )

    monkeypatch.setattr(registry, "ALGORITHMS", (*registry.ALGORITHMS, Late))
    from gradalgos.plots import style

    assert style.label("late") == "Late-1"
    index = registry.names().index("late")
    assert style.color("late") == style.PALETTE[index % len(style.PALETTE)]
    assert style.marker("late") == style.MARKERS[index % len(style.MARKERS)]


def test_existing_colours_names_and_theory_are_unchanged() -> None:
    """The registry-driven style and theory give the existing algorithms what they had."""
    from gradalgos.plots import style, theory
    from gradalgos.plots.tables import EXACT

    assert {a: style.color(a) for a in ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")} == {
        "bptt": "C0",
        "checkpointed": "C1",
        "tbptt": "C2",
        "rtrl": "C3",
        "hybrid": "C4",
    }
    assert (style.color("jax-scan"), style.color("torch")) == ("C7", "C5")
    assert [style.marker(a) for a in ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")] == [
        "o",
        "s",
        "^",
        "D",
        "v",
    ]
    assert style.NAMES["hybrid"] == "hybrid (h = S)"
    assert style.NAMES["jax-scan"] == "jax.grad(scan) baseline"
    assert EXACT == ("bptt", "checkpointed", "rtrl", "hybrid")
    old = {"bptt": 2, "checkpointed": 2, "tbptt": 2, "jax-scan": 2, "torch": 2, "rtrl": 4}
    assert {k: theory.TIME_VS_N[k] for k in old} == old and theory.TIME_VS_N["hybrid"] == 3
    assert theory.MEMORY_VS_N["rtrl"] == theory.MEMORY_VS_N["hybrid"] == 3
    assert "bptt" not in theory.MEMORY_VS_N
    assert theory.MEMORY_VS_T["checkpointed"] == 0.5 and theory.MEMORY_VS_T["jax-scan"] == 1
