"""Figure and ``TRAINING.md`` section of the system-identification experiment
(:mod:`gradalgos.training.sysid`), drawn from its results only."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["figure_sysid", "section_sysid"]


def _db(values: list) -> np.ndarray:
    v = np.array([np.nan if x is None else x for x in values], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(v)


def _us_per_step(run: dict) -> float:
    h = run["history"]
    return 1e6 * h["wall_time"][-1] / h["step"][-1]


def _diverged_at(run: dict) -> int | None:
    """The first recorded step whose prequential loss is not finite (None: never)."""
    h = run["history"]
    bad = [s for s, v in zip(h["step"], h["loss"], strict=True) if v is None]
    return int(bad[0]) if bad else None


def figure_sysid(res: dict, path: pathlib.Path) -> pathlib.Path:
    """Prequential MSE (dB) against time steps, and training µs per time step, per run."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    labels = list(res["runs"])
    for label, run in res["runs"].items():
        h = run["history"]
        a.plot(h["step"], _db(h["loss"]), label=label)
    base = next(iter(res["runs"].values()))["baseline"]
    a.axhline(10 * np.log10(base), color="grey", ls=":", lw=1, label="predict 0")
    a.set_xlabel("time step of the stream")
    a.set_ylabel("MSE since the previous record [dB]")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    b.barh(labels, [_us_per_step(res["runs"][k]) for k in labels], color="C0")
    b.set_xlabel("training µs per time step")
    b.invert_yaxis()
    b.grid(alpha=0.3, axis="x")
    fig.suptitle(f"{res['task']}, {res['cell']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt_db(x: float | None) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{10 * np.log10(x):.1f}"


def section_sysid(res: dict, fig: str) -> list[str]:
    """The ``TRAINING.md`` section: setup, figure, table and what the curves show."""
    runs = res["runs"]
    s = next(iter(runs.values()))["settings"]
    lines = [
        "### System identification with an IIR-MLP: CRBP, Back–Tsoi, RTRL, TBPTT", "",
        f"![]({fig})", "",
        f"`{res['task']}` (Back & Tsoi's plant d = sin(z), z = filter([0.0154, 0.0462, 0.0462, "
        "0.0154], [1, −1.99, 1.572, −0.4583], x), coloured-noise input scaled to max |x| = 1), "
        f"identified online by `{res['cell']}` on one stream of {res['steps']} samples, "
        f"{s['optimizer']} lr {s['learning_rate']}, clip {s['clip']}, weights updated after "
        "every step (TBPTT(k): every k steps), same initial weights for every run. CRBP(Q) "
        "(Campolucci et al. 1999) delays the hidden layer's update by Q steps; Q = 0 is Back & "
        "Tsoi's algorithm. Reproduce: `python -m gradalgos.training compare --only sysid`.", "",
        "| run | final test MSE [dB] | last record's MSE [dB] | µs per step | diverged at "
        "step | largest \\|pole\\| at the end |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for label, run in runs.items():
        last = next((v for v in reversed(run["history"]["loss"]) if v is not None), None)
        diverged = _diverged_at(run)
        lines.append(
            f"| {label} | {_fmt_db(run['final_metric'])} | {_fmt_db(last)} | "
            f"{_us_per_step(run):.1f} | {'—' if diverged is None else diverged} | "
            f"{_fmt(run.get('max_pole'))} |"
        )
    lines += ["", f"Predicting 0 scores {_fmt_db(run['baseline'])} dB. Time per step: training "
              "seconds (compilation and evaluation excluded) over the steps run. Nothing keeps "
              "the synapses' poles inside the unit circle: a run whose synapse turns unstable "
              "(|pole| ≥ 1) sees its traces and then its output blow up (diverged)."]  # fmt: skip
    return [*lines, ""]


def _fmt(x: float | None) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"
