"""The study's figures, drawn from ``alignment.json`` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gradalgos.plots.style import MARKERS, PALETTE, no_data, plt, save
from gradalgos.study.configs import METHODS

__all__ = ["FIGURES", "ORDER", "draw_all", "rows_of", "seed_stats"]

ORDER = [m.label for m in METHODS]
#: File name → what the figure shows (the page's captions).
FIGURES = {
    "cosine_vs_n.png": "median per-step cosine with exact RTRL vs n, per cell (bars: seed range)",
    "frontier.png": "cost/quality frontier: cosine vs time per step, one point per method and n",
    "variance_vs_n.png": "UORO vs KF-RTRL: variance of g_t over keys, relative to ‖g*_t‖², vs n",
    "alignment_matrix.png": "pairwise cosine between methods' g_t (Marschall et al.)",
    "flops_vs_n.png": "XLA FLOPs of one step vs n (dashed: theory slope), BPTT's step dotted",
}
#: Cells with a diagonal state Jacobian, where exact RTRL costs O(P) = O(n) per step.
ELEMENTWISE = ("IndRNN", "LRU", "element-wise LSTM")


def _style(label: str) -> dict[str, Any]:
    i = ORDER.index(label) if label in ORDER else len(ORDER)
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}


def seed_stats(values: list[Any]) -> tuple[float, float, float]:
    """(median, min, max) over seeds of the finite values (NaNs if none)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if not v.size:
        return (np.nan,) * 3
    return float(np.median(v)), float(v.min()), float(v.max())


def rows_of(result: dict, *, cell: str | None = None, T: int | None = None) -> list[dict]:
    T = result["meta"]["lengths"][0] if T is None else T
    return [r for r in result["rows"] if r["T"] == T and (cell is None or r["cell"] == cell)]


def _by_method(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["n"]):
        out.setdefault(r["method"], []).append(r)
    return dict(sorted(out.items(), key=lambda kv: ORDER.index(kv[0])))


def cosine_vs_n(result: dict, path: Path) -> Path:
    cells = list(result["meta"]["sizes"])
    cols = 3 if len(cells) > 2 else len(cells) + 1
    rows = -(-(len(cells) + 1) // cols)  # one more panel: the legend
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, cell in zip(axes.ravel(), cells, strict=False):
        for label, rs in _by_method(rows_of(result, cell=cell)).items():
            stats = np.array([seed_stats(r["cosine"]) for r in rs])
            ns = [r["n"] for r in rs]
            err = [stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]]
            handles[label] = ax.errorbar(
                ns, stats[:, 0], yerr=err, label=label, capsize=2, ms=4, **_style(label)
            )
        ax.set(title=cell, ylim=(-0.05, 1.05), xlabel="n", ylabel="median cosine")
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(cells) :]:
        ax.axis("off")
    order = sorted(handles, key=ORDER.index)
    axes.ravel()[len(cells)].legend([handles[k] for k in order], order, loc="center")
    return save(fig, path)


def frontier(result: dict, path: Path, cell: str = "Elman") -> Path:
    fig, ax = plt.subplots(figsize=(7.5, 5))
    rows = rows_of(result, cell=cell)
    if not rows:
        no_data(ax, cell)
    for label, rs in _by_method(rows).items():
        t = [r.get("time_per_step_min_s", r["time_per_step_s"]) * 1e6 for r in rs]
        c = [seed_stats(r["cosine"])[0] for r in rs]
        ax.plot(t, c, "-", alpha=0.4, color=_style(label)["color"])
        ax.scatter(
            t, c, s=[12 + 3 * np.log2(r["n"]) ** 2 for r in rs], label=label, **_style(label)
        )
        ax.annotate(f"n={rs[-1]['n']}", (t[-1], c[-1]), fontsize=7, alpha=0.7)
    ax.set(
        xscale="log",
        xlabel="time per step [µs] (fastest timed call, compile apart)",
        ylabel="median cosine",
    )
    ax.set_title(f"{cell}: cost vs quality (marker size grows with n)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def variance_vs_n(result: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.8))
    drawn = False
    for cell, ls in (("Elman", "-"), ("CTRNN (leaky)", "--"), ("IndRNN", ":")):
        for label, rs in _by_method(rows_of(result, cell=cell)).items():
            if label not in ("UORO", "KF-RTRL"):
                continue
            stats = np.array([seed_stats(r["variance"]) for r in rs])
            ns = [r["n"] for r in rs]
            ax.plot(ns, stats[:, 0], ls, label=f"{label}, {cell}", **_style(label))
            ax.fill_between(ns, stats[:, 1], stats[:, 2], alpha=0.15, color=_style(label)["color"])
            drawn = True
    if not drawn:
        no_data(ax, "UORO / KF-RTRL")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="Σ Var_k[g_t] / ‖g*_t‖²")
    ax.set_xscale("log", base=2)
    ax.set_title("variance of the unbiased estimates over keys (mean over steps)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def alignment_matrix(result: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    pw = result.get("pairwise")
    if not pw:
        no_data(ax, "pairwise")
        return save(fig, path)
    m, labels = np.asarray(pw["matrix"]), pw["labels"]
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            shade = "white" if abs(m[i, j]) > 0.6 else "black"
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color=shade)
    ax.set_title(f"mean per-step cosine, {pw['cell']} n={pw['n']} T={pw['T']}")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return save(fig, path)


def _flops_panel(ax: Any, result: dict, cells: tuple[str, ...], theory: dict) -> None:
    """FLOPs per step vs n of every method on ``cells`` (line style by cell), each theory slope
    dashed through its largest n (``theory``: label → exponent), BPTT's step dotted."""
    drawn = False
    for cell, ls in zip(cells, ("-", "-.", ":"), strict=False):
        rows = rows_of(result, cell=cell)
        for label, rs in _by_method(rows).items():
            pts = [(r["n"], r["flops_per_step"]) for r in rs if r.get("flops_per_step")]
            if not pts:
                continue
            ns, fs = np.array(pts, float).T
            name = label if len(cells) == 1 else f"{label}, {cell}"
            ax.plot(ns, fs, ls, label=name, ms=4, **_style(label))
            if (k := theory.get(label)) is not None and len(ns) > 1:
                guide = fs[-1] * (ns / ns[-1]) ** k
                ax.plot(ns, guide, "--", lw=0.8, alpha=0.6, color=_style(label)["color"])
            drawn = True
        bptt = sorted(
            {(r["n"], r["bptt_flops_per_step"]) for r in rows if r.get("bptt_flops_per_step")}
        )
        if bptt:
            ax.plot(*zip(*bptt, strict=True), ":", color="k", label=f"BPTT step, {cell}")
    if not drawn:
        no_data(ax, "FLOPs per step")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="XLA FLOPs per step")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def flops_vs_n(result: dict, path: Path) -> Path:
    """Left: every method on Elman (theory: the registry's exponent); right: the methods on the
    element-wise cells (theory: 1 for the exact ones, O(P))."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    theory = {k: v["time_exponent"] for k, v in result["meta"]["theory"].items()}
    T = result["meta"]["lengths"][0]
    _flops_panel(left, result, ("Elman",), theory)
    left.set_title(f"Elman: one online step (B = 1) and one step of BPTT's T = {T} call")
    _flops_panel(right, result, ELEMENTWISE, {"RTRL": 1, "SnAp-1": 1})
    right.set_title("diagonal state Jacobian: exact RTRL and SnAp-1 are O(P) = O(n)")
    return save(fig, path)


def draw_all(result: dict, out: Path) -> list[Path]:
    """Every figure of :data:`FIGURES` into ``out``."""
    draw = (cosine_vs_n, frontier, variance_vs_n, alignment_matrix, flops_vs_n)
    return [f(result, out / name) for f, name in zip(draw, FIGURES, strict=True)]
