"""One benchmark configuration: what is measured, and the key that identifies its result."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gradalgos.bench.schema import MACHINE_FIELDS

__all__ = ["BenchConfig", "config_key"]


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """One measurement: an algorithm with its settings on one cell, size and sequence length.

    Attributes:
        sweep: the sweep it belongs to (``"n"``, ``"T"``, ``"tbptt-k"``, ``"hybrid-h"``,
            ``"batch"``, ``"agreement"``, ``"online-step"``, …: ``sweeps.SWEEPS``); figures
            select rows by sweep.
        algorithm: a name of :mod:`gradalgos.algorithms.registry` (``"bptt"``, ``"rtrl"``,
            ``"snap"``, …), or a baseline ``"jax-scan"`` (hand-written ``jax.grad`` through
            ``lax.scan``), ``"torch"``.
        settings: the algorithm's settings (``registry.make``'s keywords) as sorted
            ``(name, value)`` pairs, e.g. ``(("k1", 16),)``; a value ``"n"`` for the hybrid's
            block means h = S.
        cell: registered cell name (``gradalgos.cells.registry``), e.g. ``"elman"``.
        n: hidden units; T: sequence length; batch: sequences per batch B.
        dtype: ``"float32"`` or ``"float64"``; device: ``"cpu"`` or ``"gpu"``.
        repeats: timed calls after one warm-up call (≥ 5 for reported medians).
        seed: seeds the parameters and the data.
        precision: ``jax.default_matmul_precision`` while tracing (``"highest"``: float32
            products in full float32; ``"default"`` lets a GPU use TF32, ~1e-3 relative error).
        cpus: pin the worker process to this many CPUs (Linux; the first ``cpus`` of those
            the benchmark may use), or ``None`` for all of them. XLA sizes its thread pool
            from the CPUs it may use, so ``cpus=1`` times the config on one core.
    """

    sweep: str
    algorithm: str
    cell: str
    n: int
    T: int
    batch: int = 1
    dtype: str = "float32"
    device: str = "cpu"
    repeats: int = 5
    settings: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    precision: str = "highest"
    cpus: int | None = None

    @property
    def settings_dict(self) -> dict[str, Any]:
        """The settings as a dict."""
        return dict(self.settings)

    @property
    def label(self) -> str:
        """Short human-readable name, e.g. ``"n: tbptt(k1=16) elman n=64 T=128 B=1 float32"``
        (and `` cpus=1`` where the worker is pinned)."""
        s = ",".join(f"{k}={v}" for k, v in self.settings)
        alg = f"{self.algorithm}({s})" if s else self.algorithm
        pinned = "" if self.cpus is None else f" cpus={self.cpus}"
        return (
            f"{self.sweep}: {alg} {self.cell} n={self.n} T={self.T} B={self.batch} "
            f"{self.dtype}{pinned}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (settings as a dict)."""
        d = dataclasses.asdict(self)
        d["settings"] = self.settings_dict
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchConfig:
        """Inverse of :meth:`to_dict`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["settings"] = tuple(sorted(dict(d.get("settings") or {}).items()))
        return cls(**kw)


def config_key(
    config: BenchConfig, code_version: str, machine: Mapping[str, Any] | None = None
) -> str:
    """Identifier of a measurement (16 hex): the config, the code version it ran with and the
    machine it ran on (the :data:`~gradalgos.bench.schema.MACHINE_FIELDS` of ``machine``, a
    run's metadata), so a rerun skips only configs measured by this code on this machine."""
    where = [machine.get(field) for field in MACHINE_FIELDS] if machine is not None else None
    payload = json.dumps([config.to_dict(), code_version, where], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
