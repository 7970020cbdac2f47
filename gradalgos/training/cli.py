"""Command line: build a task, cell, algorithm and optimiser from flags and train once."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any

import jax

from gradalgos import algorithms, cells
from gradalgos.tasks.registry import TASKS, make_task
from gradalgos.training.common import TrainResult
from gradalgos.training.offline import train
from gradalgos.training.online import train_online
from gradalgos.training.optimizers import OPTIMIZERS

__all__ = ["ALGORITHMS", "add_train_arguments", "make_algorithm", "run_train"]

ALGORITHMS = ("bptt", "checkpointed", "tbptt", "rtrl", "hybrid")


def make_algorithm(name: str, *, k: int = 10, block: int | None = None) -> Any:
    """The algorithm called ``name`` (see ``ALGORITHMS``); ``k`` for TBPTT, ``block`` for the
    Hybrid."""
    table = {
        "bptt": algorithms.BPTT,
        "checkpointed": algorithms.CheckpointedBPTT,
        "tbptt": lambda: algorithms.TBPTT(k),
        "rtrl": algorithms.RTRL,
        "hybrid": lambda: algorithms.Hybrid(block=block),
    }
    if name not in table:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {name!r}")
    return table[name]()


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="adding", help=f"one of {sorted(TASKS)}")
    p.add_argument("--length", type=int, help="sequence length T of the task (if it has one)")
    p.add_argument("--cell", default="lstm", help="a built-in cell name (elman, irnn, lstm, gru…)")
    p.add_argument("--hidden", type=int, default=16, help="hidden units n")
    p.add_argument("--algorithm", default="bptt", help=f"one of {ALGORITHMS}")
    p.add_argument("--k", type=int, default=10, help="TBPTT truncation k")
    p.add_argument("--block", type=int, help="Hybrid block length h (default S)")
    p.add_argument(
        "--online", action="store_true", help="one stream, no resets (rtrl/hybrid/tbptt)"
    )
    p.add_argument("--optimizer", default="adam", help=f"one of {OPTIMIZERS}")
    p.add_argument("--lr", type=float, default=1e-2, help="learning rate")
    p.add_argument("--clip", type=float, help="clip the gradient's global norm (> 0)")
    p.add_argument("--steps", type=int, default=1000, help="updates (online: time steps)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-time", type=float, help="stop after this many seconds of training")
    p.add_argument("--stop-at", type=float, help="stop once the test metric passes this value")
    p.add_argument("--eval-every", type=int, help="updates (online: steps) between evaluations")
    p.add_argument("--out", type=pathlib.Path, help="write the settings and history as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(args: argparse.Namespace) -> TrainResult:
    task = make_task(args.task, **({} if args.length is None else {"length": args.length}))
    cell = cells.get(args.cell)(task.input_size, args.hidden, task.output_size)
    algorithm = make_algorithm(args.algorithm, k=args.k, block=args.block)
    common = dict(
        key=jax.random.key(args.seed), learning_rate=args.lr, clip=args.clip,
        max_time=args.max_time, stop_at=args.stop_at, progress=not args.quiet,
    )  # fmt: skip
    if args.online:
        result = train_online(
            task, cell, algorithm, args.optimizer, args.steps, log_every=args.eval_every, **common
        )
    else:
        result = train(
            task, cell, algorithm, args.optimizer, args.steps, batch_size=args.batch_size,
            eval_every=args.eval_every, **common,
        )  # fmt: skip
    h = result.history
    print(
        f"{args.task} {cell} {algorithm} {args.optimizer} lr={args.lr} clip={args.clip}: "
        f"{int(h.step[-1])} steps in {h.wall_time[-1]:.1f} s of training; test "
        f"{task.metric_name} {h.eval_metric[0]:.4g} -> {h.eval_metric[-1]:.4g} "
        f"(baseline {task.baseline:.4g}); train loss {h.loss[-1]:.4g}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        settings = {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(args).items()}
        args.out.write_text(json.dumps({"settings": settings, "history": h.to_dict()}))
    return result
