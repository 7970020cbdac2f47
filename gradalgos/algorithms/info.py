"""What the harness, the plots, the training CLI and the tests read about an algorithm."""

from __future__ import annotations

import dataclasses

__all__ = ["AlgorithmInfo"]


@dataclasses.dataclass(frozen=True)
class AlgorithmInfo:
    """An algorithm's metadata, declared once on its class (``cls.info``).

    Attributes:
        name: the short name used in configs, result files and the CLI (``"rtrl"``).
        label: the display name (``"RTRL"``).
        exact: the gradient equals ∂L/∂θ up to round-off.
        online: it runs forward in time with ``init``/``step`` (weights may change between
            steps).
        stochastic: it samples noise (an instance may still need no key, e.g. RFLO with
            symmetric feedback: see ``needs_key``).
        time_exponent: theory: time per step ∝ n^k for a fully connected cell (P ≈ n²).
        memory_exponent: theory: memory ∝ n^k (its carry for online methods; ``None`` where no
            single exponent holds, e.g. BPTT's T·n states plus an n² gradient).
        memory_vs_T: theory: memory ∝ T^k at fixed n.
        reference: where the method comes from.
        cells: the registered names of the only cells it applies to (``()``: any cell).
    """

    name: str
    label: str
    exact: bool
    online: bool
    stochastic: bool
    time_exponent: float
    memory_exponent: float | None
    memory_vs_T: float
    reference: str
    cells: tuple[str, ...] = ()
