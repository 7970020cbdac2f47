"""Learning curves: what a training run records, as plain arrays (JSON-serialisable)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["History", "Recorder"]


@dataclasses.dataclass(frozen=True)
class History:
    """One run's learning curve.

    Attributes (all 1-d float arrays; the ``eval_*`` ones share their own length E):
        step: update number (offline: batches; online: time steps of the stream) ``(K,)``.
        loss: training loss at that step (offline: mean per scored step of the batch; online:
            mean per scored step since the previous record, i.e. the prequential loss, NaN
            where no step since the previous record was scored).
        wall_time: seconds of training so far (compilation and evaluation excluded).
        grad_norm: global norm of the gradient before clipping.
        eval_step, eval_wall_time, eval_loss, eval_metric: evaluation on a fixed test batch.
        shadow_cosine: online runs with ``shadow=True``: per training record, the mean cosine
            of the learner's gradient against exact RTRL's on the same weights ``(K,)``; else
            empty.
    """

    step: np.ndarray
    loss: np.ndarray
    wall_time: np.ndarray
    grad_norm: np.ndarray
    eval_step: np.ndarray
    eval_wall_time: np.ndarray
    eval_loss: np.ndarray
    eval_metric: np.ndarray
    shadow_cosine: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists (NaN/inf become None) for JSON."""
        return {
            f.name: [None if not np.isfinite(v) else float(v) for v in getattr(self, f.name)]
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict` (None → NaN; a missing ``shadow_cosine`` → empty)."""
        return cls(**{
            f.name: np.array([np.nan if v is None else v for v in d.get(f.name, [])], float)
            for f in dataclasses.fields(cls)
        })  # fmt: skip

    @property
    def final_metric(self) -> float:
        """The last evaluation metric (NaN if none)."""
        return float(self.eval_metric[-1]) if len(self.eval_metric) else float("nan")


class Recorder:
    """Collects a :class:`History` row by row during training."""

    def __init__(self) -> None:
        self._rows: dict[str, list[float]] = {f.name: [] for f in dataclasses.fields(History)}

    def train(
        self, step: int, loss: float, wall_time: float, grad_norm: float,
        shadow_cosine: float | None = None,
    ) -> None:  # fmt: skip
        for name, v in (("step", step), ("loss", loss), ("wall_time", wall_time),
                        ("grad_norm", grad_norm)):  # fmt: skip
            self._rows[name].append(float(v))
        if shadow_cosine is not None:
            self._rows["shadow_cosine"].append(float(shadow_cosine))

    def eval(self, step: int, wall_time: float, loss: float, metric: float) -> None:
        for name, v in (("eval_step", step), ("eval_wall_time", wall_time),
                        ("eval_loss", loss), ("eval_metric", metric)):  # fmt: skip
            self._rows[name].append(float(v))

    def history(self) -> History:
        return History(**{k: np.asarray(v, float) for k, v in self._rows.items()})
