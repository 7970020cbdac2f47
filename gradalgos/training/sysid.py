"""The system-identification experiment (``compare --only sysid``): one IIR-MLP identifies Back
& Tsoi's plant online, trained by CRBP at two depths, Back–Tsoi (CRBP with Q = 0), RTRL and
TBPTT(k); learning curves and time per step (figure and report: :mod:`.sysid_report`)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from gradalgos import algorithms, cells
from gradalgos.tasks.sysid import SystemIdentification
from gradalgos.training.online import train_online

__all__ = ["SYSID_CELL", "exp_sysid", "max_pole"]

#: The identifying network: 1 input, 10 hidden tanh neurons, 1 linear output, IIR synapses
#: with L = 2 zeros and I = 2 poles.
SYSID_CELL = cells.IIRMLP((1, 10, 1), ff_order=2, fb_order=2)
STEPS = 20_000


def _runs() -> dict[str, Any]:
    return {
        "Back–Tsoi (CRBP Q=0)": algorithms.CRBP(0),
        "CRBP Q=3": algorithms.CRBP(3),
        "CRBP Q=10": algorithms.CRBP(10),
        "RTRL": algorithms.RTRL(),
        "TBPTT(10)": algorithms.TBPTT(10),
    }


def max_pole(params: Any) -> float:
    """The largest |pole| over every IIR synapse (≥ 1: an unstable filter; NaN if non-finite)."""
    feedback = [np.asarray(layer["v"], float) for layer in params if "v" in layer]
    if not all(np.all(np.isfinite(v)) for v in feedback):
        return float("nan")
    moduli = [np.abs(np.roots(np.r_[1.0, -v[:, i, j]])).max(initial=0.0)
              for v in feedback for i in range(v.shape[1]) for j in range(v.shape[2])]  # fmt: skip
    return float(max(moduli, default=0.0))


def exp_sysid(budget: float, key: jax.Array) -> dict:
    """Each run: one stream of :data:`STEPS` samples, Adam lr 1e-3, clip 1, weights updated
    after every step (every 10 for TBPTT(10)), same initial weights; stops early at
    ``2 × budget`` training seconds."""
    task = SystemIdentification(length=1000)
    settings = dict(optimizer="adam", learning_rate=1e-3, clip=1.0)
    runs = {}
    for label, alg in _runs().items():
        r = train_online(task, SYSID_CELL, alg, steps=STEPS, key=key, log_every=500,
                         eval_batch_size=16, max_time=2 * budget, progress=False,
                         **settings)  # fmt: skip
        h = r.history
        runs[label] = {"kind": "online", "algorithm": repr(alg), "settings": settings,
                       "history": h.to_dict(), "final_metric": h.final_metric,
                       "baseline": task.baseline, "max_pole": max_pole(r.params)}  # fmt: skip
    return {"task": repr(task), "cell": repr(SYSID_CELL), "metric": task.metric_name,
            "steps": STEPS, "runs": runs}  # fmt: skip
