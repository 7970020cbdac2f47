"""Command line: build a task, cell, algorithm and optimiser from flags and train once."""

from __future__ import annotations

import argparse
import json
import pathlib

import jax

from gradalgos import cells
from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.feedback import FEEDBACKS
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.cells.base import AbstractCell
from gradalgos.tasks.base import AbstractTask
from gradalgos.tasks.registry import TASKS, make_task
from gradalgos.training.common import TrainResult
from gradalgos.training.offline import train
from gradalgos.training.online import online_names, train_online
from gradalgos.training.optimizers import OPTIMIZERS

__all__ = [
    "ALGORITHMS",
    "add_train_arguments",
    "check_train_arguments",
    "make_algorithm",
    "run_train",
]

#: Every registered algorithm name (:func:`gradalgos.algorithms.registry.names`).
ALGORITHMS = registry.names()


def make_algorithm(
    name: str,
    *,
    k: int = 10,
    block: int | None = None,
    order: int | None = None,
    leak: float | None = None,
    feedback: str | None = None,
) -> AbstractAlgorithm:
    """The algorithm registered as ``name`` (see ``ALGORITHMS``) from the CLI's settings:
    ``k`` for TBPTT (k1 = k), ``block`` for the Hybrid, ``order`` for SnAp, ``leak`` for
    RFLO, ``feedback`` for RFLO and e-prop; each method takes the ones that are its fields
    (:func:`registry.make`), None keeps its default."""
    return registry.make(name, k1=k, block=block, order=order, leak=leak, feedback=feedback)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="adding", help=f"one of {sorted(TASKS)}")
    p.add_argument("--length", type=int, help="sequence length T of the task (if it has one)")
    p.add_argument("--cell", default="lstm", help="a built-in cell name (elman, irnn, lstm, gru…)")
    p.add_argument("--hidden", type=int, default=16, help="hidden units n")
    p.add_argument("--algorithm", default="bptt", type=str.lower, choices=ALGORITHMS,
                   metavar="ALGORITHM", help=f"one of {', '.join(ALGORITHMS)}")  # fmt: skip
    p.add_argument("--k", type=int, default=10, help="TBPTT truncation k")
    p.add_argument("--block", type=int, help="Hybrid block length h (default S)")
    p.add_argument("--order", type=int, help="SnAp order (default 1)")
    p.add_argument("--leak", type=float, help="RFLO leak α in (0, 1] (default: the cell's)")
    p.add_argument("--feedback", choices=FEEDBACKS,
                   help="RFLO / e-prop learning signal (defaults: random / symmetric)")  # fmt: skip
    p.add_argument("--online", action="store_true",
                   help=f"one stream, no resets ({', '.join(online_names())})")  # fmt: skip
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


def _algorithm(args: argparse.Namespace) -> AbstractAlgorithm:
    return make_algorithm(
        args.algorithm, k=args.k, block=args.block, order=args.order, leak=args.leak,
        feedback=args.feedback,
    )  # fmt: skip


def check_train_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn a bad combination of options into a usage error (``parser.error``: a message and
    exit status 2, no traceback): ``--online`` with a method that cannot train online,
    algorithm settings its class rejects (``--order 0``, ``--leak 2``, ``--k 0``…), or an
    online method whose maths does not apply to the cell (RFLO without ``--leak`` on a cell
    with no leak of its own). Unknown task or cell names too."""
    if args.online and args.algorithm not in online_names():
        parser.error(
            f"--algorithm {args.algorithm} cannot train online (it needs the whole sequence); "
            f"--online takes one of {', '.join(online_names())}"
        )
    try:
        algorithm = _algorithm(args)
        _, cell = _task_and_cell(args)
        if isinstance(algorithm, AbstractOnlineAlgorithm):
            params = cell.init(jax.random.key(args.seed))
            algorithm.check_supported(cell, params, cell.initial_state())
    except (TypeError, ValueError) as e:
        parser.error(str(e))


def _task_and_cell(args: argparse.Namespace) -> tuple[AbstractTask, AbstractCell]:
    task = make_task(args.task, **({} if args.length is None else {"length": args.length}))
    return task, cells.get(args.cell)(task.input_size, args.hidden, task.output_size)


def run_train(args: argparse.Namespace) -> TrainResult:
    task, cell = _task_and_cell(args)
    algorithm = _algorithm(args)
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
