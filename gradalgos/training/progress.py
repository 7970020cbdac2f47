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
    """

    def __init__(
        self,
        total: int,
        evaluate: Callable[[], tuple[float, float]],
        *,
        max_time: float | None,
        progress: bool,
        desc: str,
    ) -> None:
        self.recorder = Recorder()
        self.elapsed = 0.0
        self._evaluate = evaluate
        self._max_time = max_time
        self._bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)

    def timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, blocked until ready; its time is added to the training time."""
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        self.elapsed += time.perf_counter() - t0
        return out

    def record(self, step: int, loss: float, grad_norm: float, advance: int) -> None:
        self.recorder.train(step, loss, self.elapsed, grad_norm)
        self._bar.update(advance)

    def evaluate(self, step: int) -> None:
        loss, metric = self._evaluate()
        self.recorder.eval(step, self.elapsed, loss, metric)
        self._bar.set_postfix(loss=f"{loss:.4g}", metric=f"{metric:.4g}")

    def out_of_time(self) -> bool:
        return self._max_time is not None and self.elapsed >= self._max_time

    def close(self) -> History:
        self._bar.close()
        return self.recorder.history()
