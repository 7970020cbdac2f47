"""Command line ``python -m gradalgos.training train``: build a task, cell, algorithm and
optimiser from flags and train once: offline (a batch per update), online (``--online``: one
stream, never reset) or gradient-free (``--algorithm ga|sa|pso``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
from typing import Any

import jax

from gradalgos.algorithms import registry
from gradalgos.algorithms.base import AbstractAlgorithm
from gradalgos.algorithms.feedback import FEEDBACKS
from gradalgos.algorithms.online import AbstractOnlineAlgorithm
from gradalgos.cells import CELLS
from gradalgos.cells.base import AbstractCell
from gradalgos.tasks.base import AbstractTask, RegressionTask
from gradalgos.tasks.registry import TASKS, make_task
from gradalgos.training.common import TrainResult
from gradalgos.training.evolution import GRADIENT_FREE, train_gradient_free
from gradalgos.training.offline import train
from gradalgos.training.online import block_length, online_names, train_online
from gradalgos.training.optimizers import OPTIMIZERS
from gradalgos.training.recipes import RECIPES, make_cell

__all__ = [
    "ALGORITHMS",
    "CHOICES",
    "DEFAULTS",
    "DESCRIPTION",
    "add_train_arguments",
    "check_train_arguments",
    "make_algorithm",
    "run_train",
    "task_and_cell",
]

#: The ``train`` subcommand's description in ``--help``.
DESCRIPTION = (
    "Train one cell on one task: offline (a fresh batch per update), online (--online: one "
    "stream, never reset, an update after every step or block) or gradient-free "
    "(--algorithm ga, sa or pso)."
)
#: Every registered algorithm name (:func:`gradalgos.algorithms.registry.names`).
ALGORITHMS = registry.names()
#: What ``--algorithm`` takes: the registered algorithms, then the gradient-free methods.
CHOICES = (*ALGORITHMS, *GRADIENT_FREE)
#: Defaults of the options that apply in some modes only: the parser leaves them None, so
#: that giving one where it has no effect is a usage error.
DEFAULTS: dict[str, Any] = {"optimizer": "adam", "lr": 1e-2, "batch_size": 32}
#: Options with no effect on a gradient-free method (no optimiser, no gradient, no stream;
#: one evaluation after the last generation).
_NOT_GRADIENT_FREE = ("online", "optimizer", "lr", "clip", "max_time", "eval_every")


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


def _task_fields(name: str) -> dict[str, dataclasses.Field]:
    """The constructor parameters of the task registered as ``name``."""
    return {f.name: f for f in dataclasses.fields(TASKS[name]) if f.init}


def _task_parameters(name: str) -> str:
    return ", ".join(f"{f.name}={f.default}" for f in _task_fields(name).values())


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    tasks = "; ".join(f"{name}: {_task_parameters(name)}" for name in sorted(TASKS))
    recipes = "; ".join(f"{name}: {what}" for name, what in RECIPES.items())
    p.add_argument("--task", default="adding", choices=sorted(TASKS),
                   help="the task (default: %(default)s)")  # fmt: skip
    p.add_argument("--length", type=int,
                   help="the task's length parameter: T, or for copy the number of symbols L "
                        "(T = 2L + delay); anbn has none (--task-arg max_n=N) (default: the "
                        "task's)")  # fmt: skip
    p.add_argument("--task-arg", action="append", default=[], metavar="NAME=VALUE",
                   help=f"set a parameter of the task, repeatable; the parameters and their "
                        f"defaults: {tasks}")  # fmt: skip
    p.add_argument("--cell", default="lstm", type=str.lower, choices=sorted(CELLS),
                   help=f"the cell (default: %(default)s); built by recipe from --hidden: "
                        f"{recipes}")  # fmt: skip
    p.add_argument("--hidden", type=int, default=16,
                   help="hidden units n (stack: per layer) (default: %(default)s)")  # fmt: skip
    p.add_argument("--algorithm", default="bptt", type=str.lower, choices=CHOICES,
                   metavar="ALGORITHM",
                   help=f"one of {', '.join(CHOICES)} (default: %(default)s); ga, sa, pso: "
                        "genetic algorithm, simulated annealing, particle swarm minimising the "
                        "MSE on one fixed batch of --batch-size sequences (regression tasks), "
                        "--steps generations")  # fmt: skip
    p.add_argument("--k", type=int, default=10,
                   help="TBPTT: k1 = k2 = k, the truncation and, online, the steps between "
                        "updates (default: %(default)s)")  # fmt: skip
    p.add_argument("--block", type=int,
                   help="Hybrid block length h, online the steps between updates (default: "
                        "the cell's state size S)")  # fmt: skip
    p.add_argument("--order", type=int, help="SnAp order (default: 1)")
    p.add_argument("--leak", type=float, help="RFLO leak α in (0, 1] (default: the cell's own)")
    p.add_argument("--feedback", choices=FEEDBACKS,
                   help="RFLO / e-prop learning signal (default: random for RFLO, symmetric "
                        "for e-prop)")  # fmt: skip
    p.add_argument("--online", action="store_true",
                   help=f"train on one stream of --steps time steps, never reset, an update "
                        f"after every step (hybrid: every h steps, tbptt: every k; a last "
                        f"shorter block takes the rest); algorithms: "
                        f"{', '.join(online_names())}")  # fmt: skip
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="the optimiser (default: adam)")
    p.add_argument("--lr", type=float, help="learning rate ≥ 0 (default: 0.01)")
    p.add_argument("--clip", type=float,
                   help="clip the gradient's global norm at this value > 0 (default: no "
                        "clipping)")  # fmt: skip
    p.add_argument("--steps", type=int, default=1000,
                   help="offline: updates (batches); online: time steps; ga/sa/pso: "
                        "generations (default: %(default)s)")  # fmt: skip
    p.add_argument("--batch-size", type=int,
                   help="sequences per batch, offline and ga/sa/pso (default: 32)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="the seed (default: %(default)s)")
    p.add_argument("--max-time", type=float,
                   help="stop after this many seconds of training (default: no limit)")  # fmt: skip
    p.add_argument("--stop-at", type=float,
                   help="stop once the test metric passes this value: below it for an MSE, "
                        "above it for an accuracy; ga/sa/pso: once the best training MSE is "
                        "at most this (default: never)")  # fmt: skip
    p.add_argument("--eval-every", type=int,
                   help="updates (online: time steps, rounded up to whole blocks) between "
                        "evaluations on the test batch (default: about --steps / 20)")  # fmt: skip
    p.add_argument("--out", type=pathlib.Path,
                   help="write the settings and history as JSON (default: none)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _algorithm(args: argparse.Namespace) -> AbstractAlgorithm:
    return make_algorithm(
        args.algorithm, k=args.k, block=args.block, order=args.order, leak=args.leak,
        feedback=args.feedback,
    )  # fmt: skip


def _convert(task: str, name: str, text: str, default: Any) -> Any:
    """``text`` as the type of the task parameter's default; raises ValueError naming both."""
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        raise ValueError(
            f"--task-arg {name}={text}: {name} of task {task} takes a {kind.__name__}"
        ) from None


def _task_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The task's constructor arguments from ``--length`` and ``--task-arg``; raises
    ValueError naming the option and the task where the task has no such parameter."""
    fields = _task_fields(args.task)
    takes = f"task {args.task} takes {_task_parameters(args.task)} (--task-arg NAME=VALUE)"
    kwargs: dict[str, Any] = {}
    if args.length is not None:
        if "length" not in fields:
            raise ValueError(f"--length: task {args.task} has no length parameter; {takes}")
        kwargs["length"] = args.length
    for item in args.task_arg:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            raise ValueError(f"--task-arg {item}: {takes}")
        if name in kwargs:
            raise ValueError(f"--task-arg {item}: {name} of task {args.task} is given twice")
        kwargs[name] = _convert(args.task, name, text, fields[name].default)
    return kwargs


def task_and_cell(args: argparse.Namespace) -> tuple[AbstractTask, AbstractCell]:
    """The task and cell that parsed (and checked) ``args`` describe."""
    task = make_task(args.task, **_task_kwargs(args))
    return task, make_cell(args.cell, task.input_size, args.hidden, task.output_size)


def _check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for dest in ("hidden", "steps", "batch_size", "eval_every"):
        value = getattr(args, dest)
        if value is not None and value < 1:
            parser.error(f"argument {_option(dest)}: must be an int >= 1, got {value}")
    for dest in ("lr", "clip", "max_time"):
        value = getattr(args, dest)
        if value is None:
            continue
        if not (math.isfinite(value) and (value >= 0 if dest == "lr" else value > 0)):
            bound = ">= 0" if dest == "lr" else "> 0"
            parser.error(f"argument {_option(dest)}: must be finite and {bound}, got {value}")
    if args.stop_at is not None and not math.isfinite(args.stop_at):
        parser.error(f"argument --stop-at: must be a finite number, got {args.stop_at}")


def check_train_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Turn a bad combination of options into a usage error (``parser.error``: a message
    naming the option, exit status 2, no traceback), then fill in :data:`DEFAULTS`.

    Refused: ``--online`` with a method that cannot train online; options with no effect in
    the chosen mode (``--batch-size`` online; ``--online``, ``--optimizer``, ``--lr``,
    ``--clip``, ``--max-time``, ``--eval-every`` with ga/sa/pso); task options the task
    does not take (``--length`` for anbn, unknown ``--task-arg`` names) or values it
    rejects; sizes, algorithm settings and numbers out of range (``--hidden 0``,
    ``--order 0``, ``--leak 2``, ``--lr -1``…); an online method whose maths does not apply
    to the cell (RFLO without ``--leak`` on a cell with no leak of its own); ga/sa/pso on a
    classification task.
    """
    name = args.algorithm
    if name in GRADIENT_FREE:
        for dest in _NOT_GRADIENT_FREE:
            if getattr(args, dest) not in (None, False):
                parser.error(
                    f"{_option(dest)} does not apply to --algorithm {name}, a gradient-free "
                    "method (no optimiser, gradient or stream; it is evaluated once, after "
                    "the last generation)"
                )
    if args.online:
        if name not in online_names():
            parser.error(
                f"--algorithm {name} cannot train online (it needs the whole sequence); "
                f"--online takes one of {', '.join(online_names())}"
            )
        if args.batch_size is not None:
            parser.error("--batch-size does not apply to --online (one stream, batch 1)")
    for dest, value in DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    _check_numbers(parser, args)
    try:
        task = make_task(args.task, **_task_kwargs(args))
    except (TypeError, ValueError) as e:
        parser.error(f"--task {args.task}: {e}")
    try:
        cell = make_cell(args.cell, task.input_size, args.hidden, task.output_size)
    except (TypeError, ValueError) as e:
        parser.error(f"--cell {args.cell} --hidden {args.hidden}: {e}")
    if name in GRADIENT_FREE:
        if not isinstance(task, RegressionTask):
            regression = [t for t in sorted(TASKS) if issubclass(TASKS[t], RegressionTask)]
            parser.error(
                f"--algorithm {name} minimises an MSE of float targets, but --task "
                f"{args.task} is a classification task (metric {task.metric_name}); use one "
                f"of {', '.join(regression)}"
            )
        return
    try:
        algorithm = _algorithm(args)
        if isinstance(algorithm, AbstractOnlineAlgorithm):
            params = cell.init(jax.random.key(args.seed))
            algorithm.check_supported(cell, params, cell.initial_state())
    except (TypeError, ValueError) as e:
        parser.error(f"--algorithm {name}: {e}")


def _online_summary(algorithm: AbstractAlgorithm, cell: AbstractCell, steps: int) -> str:
    """What an online run of ``steps`` time steps did, in words."""
    h = block_length(algorithm, cell)
    if h == 1:
        return f"{steps} time steps of one stream, an update after each"
    full, rest = divmod(steps, h)
    last = f", the last after {rest}" if rest else ""
    return f"{steps} time steps of one stream in {full + (rest > 0)} updates (every {h}{last})"


def _stopped(args: argparse.Namespace, task: AbstractTask, result: TrainResult) -> str:
    """Why a run ended before ``--steps`` (empty where it did not)."""
    h = result.history
    if int(h.step[-1]) >= args.steps:
        return ""
    if args.stop_at is not None:
        if args.algorithm in GRADIENT_FREE:
            value, name, reached = h.loss[-1], "best train mse", h.loss[-1] <= args.stop_at
        else:
            value, name = h.eval_metric[-1], f"test {task.metric_name}"
            sign = 1 if task.higher_is_better else -1
            reached = sign * (value - args.stop_at) > 0
        if reached:
            return f" (stopped: {name} {value:.4g} passed --stop-at {args.stop_at:g})"
    return " (stopped by --max-time)"


def run_train(args: argparse.Namespace) -> TrainResult:
    """Train as ``args`` say (after :func:`check_train_arguments`), print a summary, write
    ``--out``."""
    task, cell = task_and_cell(args)
    key = jax.random.key(args.seed)
    if args.algorithm in GRADIENT_FREE:
        method = GRADIENT_FREE[args.algorithm]()
        result = train_gradient_free(task, cell, method, args.steps, key=key,
                                     batch_size=args.batch_size, min_mse=args.stop_at)  # fmt: skip
        done = int(result.history.step[-1])
        what = f"{done} generations on one batch of {args.batch_size} sequences"
        how = repr(method)
    else:
        algorithm = _algorithm(args)
        common = dict(
            key=key, learning_rate=args.lr, clip=args.clip, max_time=args.max_time,
            stop_at=args.stop_at, progress=not args.quiet,
        )  # fmt: skip
        if args.online:
            result = train_online(task, cell, algorithm, args.optimizer, args.steps,
                                  log_every=args.eval_every, **common)  # fmt: skip
            done = int(result.history.step[-1])
            what = _online_summary(algorithm, cell, done)
        else:
            result = train(task, cell, algorithm, args.optimizer, args.steps,
                           batch_size=args.batch_size, eval_every=args.eval_every,
                           **common)  # fmt: skip
            done = int(result.history.step[-1])
            what = f"{done} updates of {args.batch_size} sequences"
        how = f"{algorithm} {args.optimizer} lr={args.lr} clip={args.clip}"
    print(_summary(args, task, cell, how, what + _stopped(args, task, result), result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        settings = {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(args).items()}
        args.out.write_text(json.dumps({"settings": settings, "history": result.history.to_dict()}))
    return result


def _summary(
    args: argparse.Namespace,
    task: AbstractTask,
    cell: AbstractCell,
    how: str,
    what: str,
    result: TrainResult,
) -> str:
    h = result.history
    ends = h.eval_metric[[0, -1]] if h.eval_metric.size > 1 else h.eval_metric[-1:]
    metric = " -> ".join(f"{v:.4g}" for v in ends)
    loss = h.loss[-1]
    if args.algorithm in GRADIENT_FREE:
        train_loss = f"best train mse {loss:.4g}"
    elif args.online and math.isnan(loss) and math.isfinite(h.eval_metric[-1]):
        since = int(h.step[-2]) if h.step.size > 1 else 0  # a record with no scored step
        train_loss = f"train loss n/a (no scored step after step {since})"
    else:
        train_loss = f"train loss {loss:.4g}"
    return (
        f"{task!r} {cell} {how}: {what} in {h.wall_time[-1]:.1f} s of training; test "
        f"{task.metric_name} {metric} (baseline {task.baseline:.4g}); {train_loss}"
    )
