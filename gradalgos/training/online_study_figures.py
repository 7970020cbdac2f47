"""Figures (``reports/train_online_*.png``) and the report section of the online-learning
study (:mod:`gradalgos.training.online_study`), from its results alone."""

from __future__ import annotations

import pathlib
import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["online_study_report"]


def _arr(values: Any) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], float)


def _spread(ax: Any, x: Any, per_seed: Any, label: str, color: Any) -> None:
    """Median over seeds (line) and min–max band."""
    y = _arr(per_seed)
    if not np.isfinite(y).any():
        return
    with warnings.catch_warnings():  # all-NaN columns (a diverged run) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mid, lo, hi = np.nanmedian(y, 0), np.nanmin(y, 0), np.nanmax(y, 0)
    ax.plot(x, mid, color=color, label=label, lw=1.3)
    ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)


def _figure(name: str, res: dict, path: pathlib.Path) -> pathlib.Path:
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    shadow = any(run.get("cosine") for run in res["runs"].values())
    for i, (label, run) in enumerate(res["runs"].items()):
        color = plt.cm.tab10(i % 10)
        _spread(a, run["step"], run["metric"], label, color)
        if shadow:
            _spread(b, run["step"][1:], run["cosine"], label, color)
        else:
            _spread(b, run["wall_time"], run["metric"], label, color)
    a.axhline(res["baseline"], color="grey", ls=":", lw=1, label="baseline")
    a.set_xlabel("stream time step")
    a.set_ylabel(f"test {res['metric']}")
    if shadow:
        b.set_xlabel("stream time step")
        b.set_ylabel("cos(g_t, exact-RTRL shadow's g_t), mean per record")
        b.axhline(0, color="grey", lw=0.5)
    else:
        b.set_xlabel("training time [s] (compilation and evaluation excluded; seeds vmapped)")
        b.set_ylabel(f"test {res['metric']}")
        b.axvline(res["equal_time_seconds"], color="grey", ls="--", lw=1,
                  label="equal time (final metric)")  # fmt: skip
        b.legend(fontsize=7)
    for ax in (a,) if shadow else (a, b):
        if res["metric"] == "mse":
            ax.set_yscale("log")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    a.legend(fontsize=7, ncol=2)
    fig.suptitle(f"online learning, {name}: {res['task']}, {res['cell']} (median, min–max of "
                 f"{len(next(iter(res['runs'].values()))['final_metric'])} seeds)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cell(values: list, digits: int = 3) -> str:
    """Median [min, max] over the finite seeds, and how many diverged (NaN)."""
    v = np.array([np.nan if x is None else x for x in values], float)
    ok = v[np.isfinite(v)]
    bad = f" ({v.size - ok.size}/{v.size} NaN)" if ok.size < v.size else ""
    if not ok.size:
        return f"NaN{bad}"
    return f"{np.median(ok):.{digits}g} [{ok.min():.{digits}g}, {ok.max():.{digits}g}]{bad}"


def _tables(tasks: dict) -> list[str]:
    names = list(tasks)
    methods = list(next(iter(tasks.values()))["runs"])
    head = " | ".join(f"{n} ({tasks[n]['metric']}{'↑' if tasks[n]['higher_is_better'] else '↓'})"
                      for n in names)  # fmt: skip
    lines = ["Final test metric, median [min, max] over seeds:", "",
             f"| method | {head} |", "|---|" + "---|" * len(names)]  # fmt: skip
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(_cell(tasks[n]["runs"][m]["final_metric"])
                                              for n in names) + " |")  # fmt: skip
    shadowed = [n for n in names if any(r.get("cosine") for r in tasks[n]["runs"].values())]
    lines += ["", "Mean cosine with the exact-RTRL shadow over the run, median [min, max] over "
              "seeds; training seconds of the vmapped seeds (all tasks); µs per step (all seeds):",
              "", "| method | " + " | ".join(shadowed) + " | seconds | µs/step, char-LM |",
              "|---|" + "---|" * (len(shadowed) + 2)]  # fmt: skip
    for m in methods:
        secs = sum(tasks[n]["runs"][m]["seconds"] for n in names)
        last = tasks[names[-1]]["runs"][m]
        us = 1e6 * last["seconds"] / max(last["steps"], 1)
        lines.append(
            f"| {m} | "
            + " | ".join(_cell(tasks[n]["runs"][m]["mean_cosine"]) for n in shadowed)
            + f" | {secs:.1f} | {us:.0f} |"
        )
    return [*lines, ""]


def _equal_time(tasks: dict) -> str:
    t = tasks.get("char-lm", {}).get("equal_time_seconds")
    return "—" if t is None else f"{t:.2f}"


def online_study_report(res: dict, out_dir: pathlib.Path) -> tuple[list[pathlib.Path], list[str]]:
    """Draw one learning-curve figure per task; return the paths and the markdown section."""
    s = res["settings"]
    paths, figs = [], []
    for name, task_res in res["tasks"].items():
        fig = f"train_online_{name}.png"
        paths.append(_figure(name, task_res, out_dir / fig))
        figs.append(f"![]({fig})")
    md = [
        "### Online learning: every online method, TBPTT(k) and its replay variant", "",
        f"One never-reset stream per seed, {s['seeds']} seeds (vmapped), Elman n = "
        f"{s['hidden']}, {s['optimizer']} lr {s['learning_rate']}, clip {s['clip']}, the same "
        f"for every method; k = {s['k']} for TBPTT(k) (update every k steps) and TBPTT replay "
        f"(every step, back-propagating the last k inputs re-run under the current weights); "
        f"RFLO with leak 1 (Elman has no leak), hybrid blocks of n steps. The copy, adding, "
        f"aⁿbⁿ and Mackey-Glass runs see {s['steps']} stream steps each, with an exact-RTRL "
        f"shadow on the learner's weights giving the per-update cosine of its gradient with "
        f"the exact one; char-LM runs get {s['char_lm_seconds']} s of training each (at most "
        f"{s['char_lm_max_steps']} steps; no shadow) and report test bits per character at "
        f"{_equal_time(res['tasks'])} s, the shortest run's training time. aⁿbⁿ is scored on "
        "fresh strings in the training range. Test metrics on fresh episodes from the initial "
        "state; NaN marks a seed that diverged. From the same stream, the per-step methods make "
        "k times as many Adam updates as TBPTT(k) and n times as many as the hybrid.", "",
        *_tables(res["tasks"]), *figs, "",
    ]  # fmt: skip
    return paths, md
