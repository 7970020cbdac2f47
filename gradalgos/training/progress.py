"""The training loop's clock, evaluation schedule and progress bar (shared by both trainers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
from tqdm.auto import tqdm

from gradalgos.training.history import History, Recorder

__all__ = ["Loop"]


class Loop:
    """Times training work, evaluates on a schedule and shows a tqdm bar.

    ``evaluate()`` returns ``(loss, metric)``; its time is not counted as training time.
    Training stops after ``max_time`` seconds, or once an evaluation's metric is better than
    ``stop_at`` (below it, or above it when ``higher_is_better``).
    """

    def __init__(
        self,
        total: int,
        evaluate: Callable[[], tuple[float, float]],
        *,
        max_time: float | None,
        progress: bool,
        desc: str,
        stop_at: float | None = None,
        higher_is_better: bool = False,
    ) -> None:
        self.recorder = Recorder()
        self.elapsed = 0.0
        self._evaluate = evaluate
        self._max_time = max_time
        self._stop_at = stop_at
        self._sign = -1.0 if higher_is_better else 1.0
        self.reached = False
        self._bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)

    def timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, blocked until ready; its time is added to the training time."""
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        self.elapsed += time.perf_counter() - t0
        return out

    def record(
        self, step: int, loss: float, grad_norm: float, advance: int,
        shadow_cosine: float | None = None,
    ) -> None:  # fmt: skip
        self.recorder.train(step, loss, self.elapsed, grad_norm, shadow_cosine)
        self._bar.update(advance)

    def evaluate(self, step: int) -> None:
        loss, metric = self._evaluate()
        self.recorder.eval(step, self.elapsed, loss, metric)
        if self._stop_at is not None and self._sign * (metric - self._stop_at) < 0:
            self.reached = True
        self._bar.set_postfix(loss=f"{loss:.4g}", metric=f"{metric:.4g}")

    def done(self) -> bool:
        """Out of time (``max_time``) or the metric passed ``stop_at``."""
        return self.reached or (self._max_time is not None and self.elapsed >= self._max_time)

    def close(self) -> History:
        self._bar.close()
        return self.recorder.history()
