"""Figures (``reports/train_*.png``) and ``reports/TRAINING.md`` from the comparison results.

Reads the results dictionary only (as written to ``reports/train_results.json``); never trains.
"""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gradalgos.training.online_study_figures import online_study_report
from gradalgos.training.sysid_report import figure_sysid, section_sysid

__all__ = ["write_report"]

# The experiments of the default comparison run (keys of the results file).
DEFAULT = (
    "sine",
    "parity",
    "w1000",
    "clipping",
    "irnn",
    "anbn",
    "bidirectional",
    "sysid",
    "online_study",
)

_UNIT = {"offline": "updates", "online": "time steps", "evolve": "generations", "esn": "fit"}


def _arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], float)


def _curves(ax_step: Any, ax_time: Any, runs: dict, ylabel: str, log_y: bool) -> None:
    """Test metric vs step and vs training seconds; evolutionary methods show their training
    MSE per generation (dashed) and their final test MSE (marker)."""
    for label, run in runs.items():
        h, kind = run["history"], run["kind"]
        if kind in ("offline", "online"):
            x, t, y = _arr(h["eval_step"]), _arr(h["eval_wall_time"]), _arr(h["eval_metric"])
            x = np.maximum(x, 1)
            (line,) = ax_step.plot(x, y, label=f"{label} ({_UNIT[kind]})")
            ax_time.plot(np.maximum(t, 1e-3), y, color=line.get_color(), label=label)
        elif kind == "evolve":
            x, t, y = _arr(h["step"]), _arr(h["wall_time"]), _arr(h["loss"])
            (line,) = ax_step.plot(x, y, "--", label=f"{label} (generations; train MSE)")
            ax_time.plot(t, y, "--", color=line.get_color(), label=f"{label} (train)")
            ax_time.plot(t[-1:], [run["final_metric"]], "o", color=line.get_color())
        else:
            t = _arr(h["wall_time"])
            ax_time.plot(t, [run["final_metric"]], "*", ms=12, label=f"{label} (test)")
    baseline = next(iter(runs.values()))["baseline"]
    for ax in (ax_step, ax_time):
        ax.axhline(baseline, color="grey", ls=":", lw=1, label="baseline")
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    ax_step.set_xlabel("step (unit in legend)")
    ax_time.set_xlabel("training time [s] (compilation and evaluation excluded)")
    ax_step.legend(fontsize=7)


def _label(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)


def _save(fig: Any, path: pathlib.Path) -> pathlib.Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fig_curves(res: dict, title: str, path: pathlib.Path) -> pathlib.Path:
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    regression = res["metric"] == "mse"
    _curves(a, b, res["runs"], f"test {res['metric']}", log_y=regression)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _fig_w1000(res: dict, path: pathlib.Path) -> pathlib.Path:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    w = np.array(res["w"])
    ax.semilogy(w, _arr(res["loss"]), label="loss L(w)")
    ax.semilogy(w, _arr(res["grad"]), label="|∂L/∂w|")
    ax.axvline(res["w_star"], color="grey", ls=":", label=f"w* = {res['w_star']:.5f}")
    _label(ax, "recurrent weight w", "", f"w¹⁰⁰⁰ toy: {res['task']}")
    return _save(fig, path)


def _fig_clipping(res: dict, path: pathlib.Path) -> pathlib.Path:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for label, run in res["runs"].items():
        h = run["history"]
        w = run["settings"]["final_w"]
        ax.semilogy(_arr(h["step"]), _arr(h["loss"]), label=f"{label} (final w = {_fmt(w, 5)})")
    ax.axhline(next(iter(res["runs"].values()))["baseline"], color="grey", ls=":", lw=1,
               label="predict 0")  # fmt: skip
    title = f"clipping, start w = {res['w_start']}, w* = {res['w_star']:.5f}"
    _label(ax, "SGD update", "training loss (MSE)", title)
    return _save(fig, path)


def _fig_anbn(res: dict, path: pathlib.Path) -> pathlib.Path:
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (label, run) in enumerate(res["runs"].items()):
        per_n = run["per_n"]
        a.step(per_n["n"], np.array(per_n["correct"]) + 0.04 * i, where="mid", label=label)
        h = run["history"]
        b.plot(_arr(h["eval_step"]), _arr(h["eval_metric"]), label=label)
    max_n = int(res["task"].split("max_n=")[1].split(",")[0])
    a.axvspan(0.5, max_n + 0.5, color="grey", alpha=0.15, label="training range")
    a.set_xlabel("n")
    a.set_ylabel("string correct (1) / wrong (0)")
    a.set_yticks([0, 1])
    a.legend()
    b.set_xlabel("update")
    b.set_ylabel("test string accuracy (n beyond training range)")
    b.legend()
    fig.suptitle(res["task"], fontsize=9)
    return _save(fig, path)


def _fmt(x: Any, digits: int = 4) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}g}"


def _table(res: dict) -> list[str]:
    lines = [
        f"| run | kind | steps | training s | final test {res['metric']} | baseline |",
        "|---|---|---|---|---|---|",
    ]
    for label, run in res["runs"].items():
        h = run["history"]
        steps = h["step"][-1] if h["step"] else None
        lines.append(
            f"| {label} | {run['kind']} ({_UNIT[run['kind']]}) | {_fmt(steps, 7)} | "
            f"{_fmt(h['wall_time'][-1], 3)} | {_fmt(run['final_metric'])} | "
            f"{_fmt(run['baseline'])} |"
        )
    return lines


def _first_below(run: dict, threshold: float) -> tuple[Any, Any]:
    """(step, training seconds) of the first evaluation with metric < threshold."""
    h = run["history"]
    for s, t, m in zip(h["eval_step"], h["eval_wall_time"], h["eval_metric"], strict=True):
        if m is not None and m < threshold:
            return s, t
    return None, None


def _verdict(ok: bool) -> str:
    return "**reproduces**" if ok else "**does not reproduce**"


def _section_curves(res: dict, name: str, fig: str) -> list[str]:
    return [f"### {name}: {res['task']}", "", f"Cell: `{res.get('cell', '')}`. ![]({fig})", "",
            *_table(res), ""]  # fmt: skip


def _section_w1000(res: dict, fig: str) -> list[str]:
    w, loss, grad = np.array(res["w"]), _arr(res["loss"]), _arr(res["grad"])
    lo, hi = np.argmin(np.abs(w - 0.95)), np.argmin(np.abs(w - 1.05))
    ok = grad[hi] > 1e6 * grad[lo]
    return [
        "### w¹⁰⁰⁰ toy: loss surface and gradient (Pascanu et al. 2013)", "", f"![]({fig})", "",
        f"`{res['task']}`, float64, BPTT. |∂L/∂w| = {grad[lo]:.3g} at w = {w[lo]:.3f} and "
        f"{grad[hi]:.3g} at w = {w[hi]:.3f} (loss {loss[lo]:.3g} → {loss[hi]:.3g}): the cliff "
        f"at w ≈ 1 {_verdict(ok)} (criterion: gradient ratio > 10⁶ between w = 0.95 and 1.05).",
        "",
    ]  # fmt: skip


def _section_clipping(res: dict, fig: str) -> list[str]:
    runs = res["runs"]
    c, n = runs["clip 1"], runs["no clip"]
    lc, ln = c["history"]["loss"][-1], n["history"]["loss"][-1]
    ok = lc is not None and lc < 0.1 * c["baseline"] and (ln is None or ln > c["baseline"])
    s = c["settings"]
    finite = [v is not None for v in n["history"]["loss"]]
    blown = f", non-finite from update {finite.index(False) + 1}" if False in finite else ""
    return [
        "### Clipping on vs off on an exploding case", "", f"![]({fig})", "",
        f"`{res['task']}`, start w = {res['w_start']}, optimum w* = {res['w_star']:.5f}; "
        f"SGD lr {s['learning_rate']}, batch {s['batch_size']}, BPTT, float64. Final training "
        f"loss with clipping at 1: {_fmt(lc)} (w = {_fmt(c['settings']['final_w'], 6)}, "
        f"{len(c['history']['step'])} updates); without: {_fmt(ln)} "
        f"(w = {_fmt(n['settings']['final_w'], 6)}{blown}). Clipping rescues training "
        f"{_verdict(ok)} (criterion: clipped loss < 0.1× the predict-zero loss "
        f"{_fmt(c['baseline'])}, unclipped loss above it or non-finite).", "",
        *_table(res), "",
    ]  # fmt: skip


def _section_irnn(res: dict, fig: str) -> list[str]:
    i, t = res["runs"]["IRNN"], res["runs"]["tanh RNN"]
    base = i["baseline"]
    ok = i["final_metric"] < 0.1 * base and t["final_metric"] > 0.5 * base
    si = _first_below(i, 0.1 * base)
    st = _first_below(t, 0.1 * base)
    return [
        "### IRNN vs tanh RNN on the adding problem (Le et al. 2015)", "", f"![]({fig})", "",
        f"`{res['task']}`, 32 units, BPTT, {i['settings']['optimizer']} lr "
        f"{i['settings']['learning_rate']}, clip {i['settings']['clip']}, batch "
        f"{i['settings']['batch_size']}. Final test MSE: IRNN {_fmt(i['final_metric'])}, tanh "
        f"{_fmt(t['final_metric'])} (baseline {base:.3f}). First below 0.1× baseline: IRNN at "
        f"update {_fmt(si[0], 6)} ({_fmt(si[1], 3)} s), tanh at update {_fmt(st[0], 6)} "
        f"({_fmt(st[1], 3)} s). Le et al.'s claim (IRNN learns, tanh RNN stays near the "
        f"baseline) {_verdict(ok)} at this T and budget (criterion: IRNN < 0.1× baseline, "
        "tanh > 0.5× baseline). Le et al. used T ≥ 150 and ~10⁶ updates; this run is far "
        "shorter.", "", *_table(res), "",
    ]  # fmt: skip


def _section_anbn(res: dict, fig: str) -> list[str]:
    lines = ["### LSTM vs GRU on aⁿbⁿ beyond the training range (Weiss et al. 2018)", "",
             f"![]({fig})", "", f"`{res['task']}`; hidden 10, BPTT, Adam lr 1e-2, clip 1.",
             ""]  # fmt: skip
    max_n = int(res["task"].split("max_n=")[1].split(",")[0])
    reach = {}
    for label, run in res["runs"].items():
        n, ok = np.array(run["per_n"]["n"]), np.array(run["per_n"]["correct"], bool)
        wrong = n[~ok]
        reach[label] = int(wrong.min() - 1) if wrong.size else int(n.max())
        lines.append(
            f"- {label}: correct for every n ≤ {reach[label]} (trained on n ≤ {max_n}); "
            f"{int(ok.sum())}/{len(n)} of n = 1…{int(n.max())} correct; test string accuracy "
            f"(n ~ U{{{max_n + 1}…}}) {_fmt(run['final_metric'])}."
        )
    ok = reach.get("LSTM", 0) > max_n and reach.get("LSTM", 0) > reach.get("GRU", 0)
    lines += ["", f"Weiss et al.'s finding (the LSTM counts beyond the training range, the GRU "
              f"does not) {_verdict(ok)} here (criterion: the LSTM's first error lies beyond "
              "n = max_n and later than the GRU's).", "", *_table(res), ""]  # fmt: skip
    return lines


def _section_acceptance(res: dict) -> list[str]:
    lines = ["### Acceptance: adding T = 50, LSTM 16 units, BPTT and RTRL", "",
             f"`{res['task']}`, `{res['cell']}`; Adam lr 1e-2, clip 1, batch 32, float32, "
             "offline (exact gradients from both), test MSE on 512 fresh sequences every 50 "
             "updates, stop at test MSE < 0.01 or 15 min. Reproduce: "
             "`python -m gradalgos.training compare --only acceptance`.", ""]  # fmt: skip
    for label, run in res["runs"].items():
        s, t = _first_below(run, 0.01)
        lines.append(
            f"- {label}: test MSE {_fmt(run['final_metric'])} after {_fmt(s, 6)} updates, "
            f"{_fmt(t, 4)} s of training → {'PASS' if t is not None and t < 900 else 'FAIL'}."
        )
    return [*lines, ""]


def _finite_or_none(x: Any) -> float | None:
    """``x`` as a float, or None where it is missing or not finite (a diverged run)."""
    return float(x) if x is not None and np.isfinite(x) else None


def _headline(results: dict) -> list[str]:
    """What was run, one table (best and worst run per experiment beside its baseline) and the
    point: how many runs beat their baseline."""
    rows, beat, total = [], 0, 0
    for name, res in results.items():
        runs = res.get("runs") if isinstance(res, dict) else None
        if not runs:
            continue
        higher = "accuracy" in res["metric"]
        final = {k: _finite_or_none(r.get("final_metric")) for k, r in runs.items()}
        done = sorted((k for k in runs if final[k] is not None), key=final.get, reverse=higher)
        base = next(iter(runs.values())).get("baseline")
        beat += sum(base is None or (final[k] > base) == higher for k in done)
        total += len(runs)
        worst = next((f"{k} diverged" for k in runs if final[k] is None), None)
        worst = worst or f"{done[-1]} {_fmt(final[done[-1]])}"
        best = f"{done[0]} {_fmt(final[done[0]])}" if done else "—"
        rows.append(f"| {name} | {res['metric']} | {best} | {worst} | {_fmt(base)} |")
    if not rows:
        return []
    names = ", ".join(r.split(" | ")[0][2:] for r in rows)
    budget = results.get("meta", {}).get("budget")
    return [f"{len(rows)} training experiments ({names}), {budget} s of training per run (IRNN "
            "and aⁿbⁿ: 3×); final test metric of each one's best and worst run:", "",
            "| experiment | metric | best run | worst run | baseline |", "|---|---|---|---|---|",
            *rows, "", f"**{beat} of {total} runs beat their task's baseline**; a diverged run "
            "does not. Each experiment's section follows.", ""]  # fmt: skip


def write_report(results: dict, out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Draw every figure whose results are present and write ``TRAINING.md``; return paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, md = [], ["## Training: learning curves and paper reproductions", ""]
    md += _headline(results)
    meta = results.get("meta", {})
    total = sum(results[k].get("seconds", 0) for k in DEFAULT if k in results)
    md += [f"Generated by `python -m gradalgos.training compare` (budget {meta.get('budget')} "
           f"training seconds per run; the default experiments took {total:.0f} s of wall time "
           f"on {meta.get('cpus')} CPUs shared with other work, {meta.get('platform')}, jax "
           f"{meta.get('jax')}, code version `{meta.get('code_version', 'not recorded')}`, "
           f"commit `{meta.get('git_commit', 'not recorded')}`). Every figure is drawn from "
           "`train_results.json`. Offline runs: "
           "one update per batch of 32 fresh sequences, test metric on 256 fixed test "
           "sequences; online runs: one stream, never reset, weights updated after every step "
           "(RTRL), block of S steps (Hybrid) or chunk of k steps (TBPTT), test metric on "
           "fresh sequences from the initial state; they stop at the budget or after 10⁶ "
           "stream steps. GA/SA/PSO curves are their best *training* MSE on a fixed batch of "
           "32 sequences (dashed), with the final test MSE as a dot; the ESN is one ridge fit "
           "(star; its time includes compilation). Other times exclude compilation and "
           "evaluation.", ""]  # fmt: skip
    sections = [
        ("sine", "train_sine.png", lambda r, f: _section_curves(r, "Sine prediction", f)),
        ("parity", "train_parity.png", lambda r, f: _section_curves(r, "Delayed XOR", f)),
        ("w1000", "train_w1000.png", _section_w1000),
        ("clipping", "train_clipping.png", _section_clipping),
        ("irnn", "train_irnn_adding.png", _section_irnn),
        ("anbn", "train_anbn.png", _section_anbn),
    ]
    draw = {"w1000": _fig_w1000, "clipping": _fig_clipping, "anbn": _fig_anbn}
    from gradalgos.training import bidirectional_experiment as bidi  # it imports this module

    sections.append(("bidirectional", "train_bidirectional.png", bidi.section))
    draw["bidirectional"] = bidi.figure
    for name, fig, section in sections:
        if name not in results:
            continue
        res = results[name]
        if name in draw:
            written.append(draw[name](res, out_dir / fig))
        else:
            written.append(_fig_curves(res, res["task"], out_dir / fig))
        md += section(res, fig)
    if "online_study" in results:
        paths, lines = online_study_report(results["online_study"], out_dir)
        written, md = [*written, *paths], [*md, *lines]
    if "acceptance" in results:
        md += _section_acceptance(results["acceptance"])
    if "sysid" in results:
        written.append(figure_sysid(results["sysid"], out_dir / "train_sysid.png"))
        md += section_sysid(results["sysid"], "train_sysid.png")
    (out_dir / "TRAINING.md").write_text("\n".join(md))
    return [*written, out_dir / "TRAINING.md"]
