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

    ``sweep`` is one of ``sweeps.SWEEPS`` (figures select rows by it); ``algorithm`` a name of
    :mod:`gradalgos.algorithms.registry` or a baseline (``"jax-scan"``, ``"torch"``);
    ``settings`` the keywords of ``registry.make`` as sorted pairs (``(("k1", 16),)``; the
    hybrid's ``block="n"`` means h = S); ``repeats`` the timed calls after a warm-up;
    ``precision`` the ``jax.default_matmul_precision`` while tracing (``"default"`` lets a
    GPU use TF32). The row schema (``schema.py``) documents every field.
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

    @property
    def settings_dict(self) -> dict[str, Any]:
        """The settings as a dict."""
        return dict(self.settings)

    @property
    def label(self) -> str:
        """Short name, e.g. ``"n: tbptt(k1=16) elman n=64 T=128 B=1 float32"``."""
        s = ",".join(f"{k}={v}" for k, v in self.settings)
        alg = f"{self.algorithm}({s})" if s else self.algorithm
        return f"{self.sweep}: {alg} {self.cell} n={self.n} T={self.T} B={self.batch} {self.dtype}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (settings as a dict)."""
        return {**dataclasses.asdict(self), "settings": self.settings_dict}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchConfig:
        """Inverse of :meth:`to_dict` (fields it does not know, as older rows carry, ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["settings"] = tuple(sorted(dict(d.get("settings") or {}).items()))
        return cls(**kw)


def config_key(
    config: BenchConfig, code_version: str, machine: Mapping[str, Any] | None = None
) -> str:
    """Identifier of a measurement (16 hex): the config, the code version and the machine (the
    :data:`~gradalgos.bench.schema.MACHINE_FIELDS` of ``machine``), so that a rerun skips only
    configs measured by this code on this machine."""
    where = [machine.get(field) for field in MACHINE_FIELDS] if machine is not None else None
    payload = json.dumps([config.to_dict(), code_version, where], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
