"""The ``bidirectional`` comparison: a bidirectional RNN (Schuster & Paliwal 1997) against a
unidirectional one on a task where the future matters (:class:`~gradalgos.tasks.MiddleLabel`).

:func:`exp_bidirectional` trains (registered in ``EXPERIMENTS``); :func:`figure` and
:func:`section` draw its figure and its part of ``TRAINING.md`` from the results alone.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from gradalgos import algorithms, cells
from gradalgos.tasks import MiddleLabel
from gradalgos.training.evaluate import predict
from gradalgos.training.figures import _arr, _fmt, _save, _table, _verdict
from gradalgos.training.offline import train

__all__ = ["TARGET", "exp_bidirectional", "figure", "section"]

TARGET = 0.95  # the stated test accuracy the bidirectional network must reach


def exp_bidirectional(budget: float, key: jax.Array) -> dict:
    """Middle label (T = 20, K = 4): a BRNN of two 8-unit Elman cells (outputs summed) vs an
    Elman of 16 units, BPTT, Adam; per-position test accuracy after training."""
    from gradalgos.training.experiments import _record  # experiments imports this module

    task = MiddleLabel(length=20, symbols=4)
    m, o = task.input_size, task.output_size
    runs_cells = {
        "bidirectional 2×8": cells.Bidirectional(cells.Elman(m, 8, o), cells.Elman(m, 8, o)),
        "unidirectional 16": cells.Elman(m, 16, o),
    }
    settings = dict(optimizer="adam", learning_rate=1e-2, clip=1.0, batch_size=32)
    test = task.sample(jax.random.fold_in(key, 5), 1024)
    runs = {}
    for label, cell in runs_cells.items():
        r = train(task, cell, algorithms.BPTT(), steps=2000, key=key, eval_every=50,
                  eval_batch_size=256, max_time=2 * budget, stop_at=0.99, progress=False,
                  **settings)  # fmt: skip
        run = _record(r, task, {"kind": "offline", "cell": repr(cell),
                                "params": cell.num_params, **settings})  # fmt: skip
        ys = predict(cell, r.params, test.xs)
        correct = (jnp.argmax(ys, -1) == test.targets).astype(float)
        run["per_position"] = np.asarray(jnp.mean(correct, axis=0)).tolist()
        runs[label] = run
    return {"task": repr(task), "metric": task.metric_name, "target": TARGET,
            "middle": task.middle, "causal_ceiling": task.causal_ceiling, "runs": runs}  # fmt: skip


def figure(res: dict, path: pathlib.Path) -> pathlib.Path:
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, run in res["runs"].items():
        h = run["history"]
        a.plot(_arr(h["eval_step"]), _arr(h["eval_metric"]), label=label)
        b.plot(np.arange(len(run["per_position"])), run["per_position"], "o-", label=label)
    baseline, mid = next(iter(res["runs"].values()))["baseline"], res["middle"]
    T = len(next(iter(res["runs"].values()))["per_position"])
    a.axhline(res["target"], color="k", ls="--", lw=1, label=f"target {res['target']}")
    a.axhline(res["causal_ceiling"], color="C3", ls=":", lw=1,
              label=f"causal ceiling {res['causal_ceiling']:.3f}")  # fmt: skip
    a.axhline(baseline, color="grey", ls=":", lw=1, label="chance")
    a.set_xlabel("update (batch of 32)")
    a.set_ylabel("test accuracy (all steps)")
    ceiling = np.where(np.arange(T) < mid, baseline, 1.0)
    b.step(np.arange(T), ceiling, where="mid", color="C3", ls=":", label="causal ceiling")
    b.axvline(mid, color="grey", lw=1, label=f"middle step t = {mid}")
    b.set_xlabel("step t")
    b.set_ylabel("test accuracy at step t (1024 sequences)")
    for ax in (a, b):
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{res['task']}: the label is the symbol at the middle step", fontsize=9)
    return _save(fig, path)


def _first_reaching(run: dict, target: float) -> tuple:
    h = run["history"]
    for s, t, m in zip(h["eval_step"], h["eval_wall_time"], h["eval_metric"], strict=True):
        if m is not None and m >= target:
            return s, t
    return None, None


def section(res: dict, fig: str) -> list[str]:
    (bl, bi), (ul, uni) = res["runs"].items()
    target, ceiling = res["target"], res["causal_ceiling"]
    step, seconds = _first_reaching(bi, target)
    ok = bi["final_metric"] >= target and uni["final_metric"] < target
    s = bi["settings"]
    return [
        "### Bidirectional RNN on the middle-label task (Schuster & Paliwal 1997)", "",
        f"![]({fig})", "",
        f"`{res['task']}`: every step's label is the symbol at step {res['middle']}, so a "
        f"causal network is at chance before it (expected accuracy ≤ {ceiling:.3f} over all "
        f"steps). BPTT, {s['optimizer']} lr {s['learning_rate']}, clip {s['clip']}, batch "
        f"{s['batch_size']}, float32. {bl} ({bi['settings']['params']} parameters): test "
        f"accuracy {_fmt(bi['final_metric'])}, ≥ {target} first at update {_fmt(step, 6)} "
        f"({_fmt(seconds, 3)} s of training). {ul} ({uni['settings']['params']} parameters, "
        f"the same hidden units): {_fmt(uni['final_metric'])}. The bidirectional network "
        f"reaching {target} while the unidirectional one cannot {_verdict(ok)} (criterion: "
        f"bidirectional ≥ {target}, unidirectional < {target}).", "", *_table(res), "",
    ]  # fmt: skip
