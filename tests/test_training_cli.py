"""The training CLI (``python -m gradalgos.training train``), called in-process: every cell it
lists trains, each option has its documented effect (checked against values computed here),
and every bad option is a usage error naming the option, not a traceback."""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradalgos as ga
from gradalgos import tasks
from gradalgos.cells import CELLS
from gradalgos.gradient_free import ParticleSwarm
from gradalgos.training import train_online
from gradalgos.training.__main__ import build_parser, main
from gradalgos.training.cli import add_train_arguments, check_train_arguments, task_and_cell
from gradalgos.training.evaluate import predict
from gradalgos.training.evolution import GRADIENT_FREE, train_gradient_free
from gradalgos.training.recipes import make_cell

SEED = 0
TINY = ["train", "--task", "sine", "--length", "4", "--cell", "elman", "--hidden", "3",
        "--seed", str(SEED), "--quiet"]  # fmt: skip


def _run(tmp_path, capsys, *argv: str) -> tuple[dict, str]:
    """Run the CLI with ``--out``; return the JSON it wrote and what it printed."""
    out = tmp_path / "run.json"
    assert main([*argv, "--out", str(out)]) == 0
    return json.loads(out.read_text()), capsys.readouterr().out


def _parse(*argv: str) -> argparse.Namespace:
    """``train`` options as the CLI parses and checks them (nothing is trained)."""
    parser, p_train = build_parser()
    args = parser.parse_args(["train", *argv])
    check_train_arguments(p_train, args)
    return args


def _usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "usage:" in err
    return err


def _loss_array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], float)


def _elman_outputs(params, xs):
    """y_t of an Elman cell run over ``xs (T, m)`` from h = 0 (NumPy, the documented
    equations h_t = tanh(W_rec h_{t-1} + W_in x_t + b), y_t = W_out h_t + b_out)."""
    p = {k: np.asarray(v) for k, v in params.items()}
    h, ys = np.zeros(p["b"].shape), []
    for x in np.asarray(xs):
        h = np.tanh(p["W_rec"] @ h + p["W_in"] @ x + p["b"])
        ys.append(p["W_out"] @ h + p["b_out"])
    return np.array(ys)


# ----------------------------------------------------------------------------- help, cells


def test_help_states_every_default(capsys):
    class Recording(argparse.ArgumentParser):
        def add_argument(self, *args, **kwargs):
            action = super().add_argument(*args, **kwargs)
            actions.append(action)
            return action

    actions: list[argparse.Action] = []
    add_train_arguments(Recording())
    assert len(actions) > 20
    for action in actions:
        if action.nargs != 0:  # every option taking a value
            assert "default" in action.help, action.option_strings
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: adding)", "(default: lstm)", "(default: 16)", "(default: bptt)",
                  "(default: 10)", "(default: adam)", "(default: 0.01)", "(default: 1000)",
                  "(default: 32)", "max_n=10"):  # fmt: skip
        assert shown in out


@pytest.mark.parametrize("name", sorted(CELLS))
def test_every_listed_cell_is_built_for_the_task(name):
    """``--cell NAME`` for every listed name gives a cell of the task's sizes whose step
    runs (the recipes too: ctrnn, stack and function have no ``hidden_size``)."""
    task, cell = task_and_cell(_parse("--task", "adding", "--cell", name, "--hidden", "4"))
    assert (cell.input_size, cell.output_size) == (task.input_size, task.output_size) == (2, 1)
    params = cell.init(jax.random.key(0))
    y = predict(cell, params, jnp.array([[[0.5, 1.0]]]))[0, 0]  # a bidirectional has no step
    assert y.shape == (1,) and np.all(np.isfinite(y))


@pytest.mark.parametrize("name", ["ctrnn", "stack", "function", "bidirectional"])
def test_the_recipe_cells_train_from_the_cli(tmp_path, capsys, name):
    """The three cells built by recipe (they used to fail with a TypeError) train: finite
    losses and a non-zero gradient at each update."""
    data, out = _run(
        tmp_path, capsys, *TINY, "--cell", name, "--steps", "2", "--batch-size", "2",
        "--optimizer", "sgd",
    )  # fmt: skip
    h = data["history"]
    assert h["step"] == [1, 2] and np.all(np.isfinite(_loss_array(h["loss"])))
    assert np.all(np.array(h["grad_norm"]) > 0)  # a gradient reached the weights
    assert f" {type(make_cell(name, 1, 3, 1)).__name__}(" in out


def test_the_recipes_build_the_documented_cells():
    ctrnn = make_cell("ctrnn", 2, 8, 3)
    assert ctrnn.taus == ((6, 2.0), (2, 8.0)) and (ctrnn.input_size, ctrnn.output_size) == (2, 3)
    stack = make_cell("stack", 2, 5, 3)
    assert [type(c).__name__ for c in stack.cells] == ["GRU", "Elman"]
    assert stack.state_size == 10 and (stack.input_size, stack.output_size) == (2, 3)
    function = make_cell("function", 2, 4, 3)
    params = function.init(jax.random.key(0))
    assert {k: v.shape for k, v in params.items()} == {"A": (4, 4), "B": (4, 2), "C": (3, 4)}
    h, x = np.linspace(-1, 1, 4), np.array([0.3, -0.7])
    new_h, y = function.step(params, jnp.asarray(h), jnp.asarray(x))
    A, B, C = (np.asarray(params[k]) for k in "ABC")
    np.testing.assert_allclose(new_h, np.tanh(A @ h + B @ x), rtol=1e-12)
    np.testing.assert_allclose(y, C @ np.tanh(A @ h + B @ x), rtol=1e-12)


# ----------------------------------------------------------------------------- task options


def test_anbn_trains_with_its_own_parameters(tmp_path, capsys):
    _, out = _run(tmp_path, capsys, "train", "--task", "anbn", "--task-arg", "max_n=2",
                  "--task-arg", "test_max_n=3", "--cell", "elman", "--hidden", "2",
                  "--steps", "1", "--batch-size", "1", "--quiet")  # fmt: skip
    assert out.startswith("AnBn(max_n=2, test_max_n=3) Elman(")


@pytest.mark.parametrize(
    ("argv", "built"),
    [
        (["--task", "copy", "--length", "2", "--task-arg", "delay=1"],
         tasks.Copy(length=2, delay=1)),
        (["--task", "sine", "--length", "3", "--task-arg", "omega_max=0.25"],
         tasks.Sine(length=3, omega_max=0.25)),
        (["--task", "parity", "--task-arg", "delay=0", "--task-arg", "window=3"],
         tasks.DelayedParity(delay=0, window=3)),
    ],
    ids=["copy", "sine", "parity"],
)  # fmt: skip
def test_task_options_set_the_tasks_own_parameters(argv, built):
    task, _ = task_and_cell(_parse(*argv))
    assert task == built


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--task", "anbn", "--length", "5"], ["--length", "anbn", "max_n=10"]),
        (["--task", "sine", "--task-arg", "delay=3"], ["--task-arg delay=3", "sine", "omega_max"]),
        (["--task", "sine", "--task-arg", "length"], ["--task-arg length", "sine"]),
        (["--task", "sine", "--task-arg", "length=abc"], ["length=abc", "int"]),
        (["--task", "adding", "--length", "1"], ["--task adding", "length must be >= 2"]),
        (["--task", "nosuch"], ["argument --task", "invalid choice", "adding"]),
    ],
    ids=["no-length", "unknown-arg", "no-value", "bad-value", "rejected-value", "unknown-task"],
)  # fmt: skip
def test_task_options_the_task_does_not_take_are_usage_errors(capsys, argv, names):
    err = _usage_error(capsys, "train", *argv, "--quiet")
    assert all(name in err for name in names), err


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--cell", "nosuch"], ["argument --cell", "'nosuch'", "ctrnn", "stack", "function"]),
        (["--algorithm", "nosuch"], ["argument --algorithm", "'nosuch'", "bptt", "rtrl", "ga"]),
        (["--optimizer", "nosuch"], ["argument --optimizer", "'nosuch'", "adam", "sgd"]),
        (["--algorithm", "bptt", "--online"], ["--online", "bptt", "rtrl", "hybrid"]),
        (["--algorithm", "rtrl", "--online", "--batch-size", "4"], ["--batch-size", "--online"]),
        (["--algorithm", "ga", "--lr", "0.1"], ["--lr", "ga"]),
        (["--algorithm", "pso", "--online"], ["--online", "pso"]),
        (["--algorithm", "sa", "--task", "parity"], ["sa", "parity", "classification", "sine"]),
        (["--steps", "0"], ["argument --steps", ">= 1"]),
        (["--hidden", "0"], ["argument --hidden", ">= 1"]),
        (["--lr", "-1"], ["argument --lr", ">= 0"]),
        (["--clip", "0"], ["argument --clip", "> 0"]),
    ],
    ids=["cell", "algorithm", "optimizer", "bptt-online", "online-batch", "ga-lr", "pso-online",
         "sa-classification", "steps", "hidden", "lr", "clip"],
)  # fmt: skip
def test_bad_options_are_usage_errors_naming_the_option(capsys, argv, names):
    err = _usage_error(capsys, "train", *argv, "--quiet")
    assert all(name in err for name in names), err


# ----------------------------------------------------------------------------- each option


def test_online_trains_on_one_unreset_stream_in_blocks_of_block_steps(tmp_path, capsys):
    """``--online --algorithm hybrid --block 4 --steps 14`` at learning rate 0: records after
    4, 8, 12 and 14 steps (three blocks of 4 and a last one of 2), each the mean loss of the
    scored steps since the previous record, computed here by running the cell over the one
    stream without a reset; records whose steps are all unscored (inside an adding
    episode) are NaN and printed as such, not as 0."""
    data, out = _run(
        tmp_path, capsys, "train", "--task", "adding", "--length", "5", "--cell", "elman",
        "--hidden", "3", "--algorithm", "hybrid", "--block", "4", "--online", "--steps", "14",
        "--eval-every", "4", "--optimizer", "sgd", "--lr", "0", "--seed", "1", "--quiet",
    )  # fmt: skip
    h = data["history"]
    assert h["step"] == [4, 8, 12, 14]
    key = jax.random.key(1)
    task, cell = tasks.Adding(length=5), ga.cells.Elman(2, 3, 1)
    params = cell.init(jax.random.fold_in(key, 0))  # the trainer's initial parameters
    stream = task.stream(jax.random.fold_in(key, 1), 14)
    losses = np.mean((_elman_outputs(params, stream.xs) - np.asarray(stream.targets)) ** 2, -1)
    mask = np.asarray(stream.mask)
    expected = [np.sum((losses * mask)[a:b]) / np.sum(mask[a:b]) if np.sum(mask[a:b]) else np.nan
                for a, b in ((0, 4), (4, 8), (8, 12), (12, 14))]  # fmt: skip
    assert np.isnan(expected[0]) and np.isnan(expected[-1])  # blocks with no scored step
    np.testing.assert_allclose(_loss_array(h["loss"]), expected, rtol=1e-10)
    assert "14 time steps of one stream in 4 updates (every 4, the last after 2)" in out
    assert "train loss n/a" in out and "train loss 0 " not in out


def test_online_blocks_cover_every_step_of_the_stream():
    """The last, shorter block is trained on: at learning rate 0 the per-block gradients of
    Hybrid(block=4) over 14 steps sum to the gradient of the whole stream (jax.grad of the
    unrolled loss written here); dropping the last 2 steps would miss their terms."""
    task, key, L = tasks.Sine(length=5), jax.random.key(2), 14
    cell = ga.cells.Elman(input_size=1, hidden_size=3, output_size=1)
    params = cell.init(jax.random.key(4))
    tx = optax.chain(optax.trace(decay=1.0), optax.scale(0.0))
    result = train_online(task, cell, ga.Hybrid(block=4), tx, L, key=key, params=params,
                          log_every=12, eval_batch_size=2, progress=False)  # fmt: skip
    assert list(result.history.step) == [12, 14]
    stream = task.stream(jax.random.fold_in(key, 1), L)

    def total(p):
        h, out = jnp.zeros(3), 0.0
        for x, target in zip(stream.xs, stream.targets, strict=True):
            h = jnp.tanh(p["W_rec"] @ h + p["W_in"] @ x + p["b"])
            out = out + jnp.mean((p["W_out"] @ h + p["b_out"] - target) ** 2)
        return out

    expected = jax.grad(total)(params)
    for name, g in result.opt_state[0].trace.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-10, atol=1e-12)


def test_k_sets_the_truncation_of_tbptt(tmp_path, capsys):
    """``--algorithm tbptt --k 2``: the first update's gradient norm is that of the truncated
    gradient of the first batch (state detached every 2 steps), written here; it differs
    from the full gradient (what the default k = 10 ≥ T gives)."""
    data, out = _run(tmp_path, capsys, *TINY, "--length", "6", "--algorithm", "tbptt", "--k",
                     "2", "--steps", "1", "--batch-size", "2", "--optimizer", "sgd")  # fmt: skip
    assert "TBPTT(k1=2" in out
    key = jax.random.key(SEED)
    cell = ga.cells.Elman(1, 3, 1)
    params = cell.init(jax.random.fold_in(key, 0))
    # The trainer's first batch: key → fold_in 1 (the data) → fold_in 1 (update 1).
    batch = tasks.Sine(length=6).sample(jax.random.fold_in(jax.random.fold_in(key, 1), 1), 2)

    def loss(p, k):
        h, total = jnp.zeros((2, 3)), 0.0
        for t in range(6):
            if t % k == 0:
                h = jax.lax.stop_gradient(h)
            h = jnp.tanh(h @ p["W_rec"].T + batch.xs[:, t] @ p["W_in"].T + p["b"])
            total = total + jnp.sum((h @ p["W_out"].T + p["b_out"] - batch.targets[:, t]) ** 2)
        return total / (2 * 6)  # the mean per scored step over the batch (all scored; o = 1)

    def norm(k):
        return float(optax.tree.norm(jax.grad(loss)(params, k)))

    assert abs(norm(2) - norm(6)) > 1e-3 * norm(6)
    np.testing.assert_allclose(data["history"]["grad_norm"][0], norm(2), rtol=1e-10)


def test_stop_at_stops_at_the_first_evaluation_past_it(tmp_path, capsys):
    """A threshold between the best test MSE so far and a later, better one stops the run at
    that evaluation (and the summary says so); without ``--stop-at`` it runs on."""
    argv = [*TINY, "--steps", "16", "--eval-every", "2", "--batch-size", "4", "--lr", "0.05"]
    full, _ = _run(tmp_path, capsys, *argv)
    metric, steps = full["history"]["eval_metric"], full["history"]["eval_step"]
    assert full["history"]["step"][-1] == 16
    j = next(j for j in range(1, len(metric)) if metric[j] < min(metric[:j]))
    assert j < len(metric) - 1  # the run would go on past it
    threshold = (metric[j] + min(metric[:j])) / 2
    stopped, out = _run(tmp_path, capsys, *argv, "--stop-at", repr(threshold))
    assert stopped["history"]["eval_step"][-1] == steps[j]
    assert stopped["history"]["step"][-1] == steps[j]
    assert "passed --stop-at" in out


# ----------------------------------------------------------------------------- gradient-free


def test_gradient_free_methods_train_from_the_cli(tmp_path, capsys):
    """``--algorithm ga`` runs the genetic algorithm for ``--steps`` generations on one batch
    (sa and pso take the same path: only the class differs)."""
    assert {name: cls.__name__ for name, cls in GRADIENT_FREE.items()} == {
        "ga": "GeneticAlgorithm", "sa": "SimulatedAnnealing", "pso": "ParticleSwarm"}  # fmt: skip
    data, out = _run(tmp_path, capsys, *TINY, "--algorithm", "ga", "--steps", "3",
                     "--batch-size", "2")  # fmt: skip
    h = data["history"]
    assert " GeneticAlgorithm(" in out and "3 generations on one batch of 2 sequences" in out
    assert h["step"] == [1, 2, 3] and np.all(np.diff(h["loss"]) <= 0)
    assert h["eval_step"] == [3]


def test_gradient_free_training_reports_the_mse_of_its_params():
    """The history's best training MSE and the test metric are the MSEs of the returned
    parameters on the training batch (key 1) and the test batch (key 2), computed here;
    ``min_mse`` (``--stop-at``) stops at the first generation at or below it."""
    task, cell, key = tasks.Sine(length=4), ga.cells.Elman(1, 3, 1), jax.random.key(5)
    method = ParticleSwarm(population_size=8)
    r = train_gradient_free(task, cell, method, 3, key=key, batch_size=2, eval_batch_size=3)

    def mse(seed_batch):
        ys = np.array([_elman_outputs(r.params, xs) for xs in seed_batch.xs])
        return np.mean((ys - np.asarray(seed_batch.targets)) ** 2)

    np.testing.assert_allclose(r.history.loss[-1], mse(task.sample(jax.random.fold_in(key, 1), 2)),
                               rtol=1e-10)  # fmt: skip
    np.testing.assert_allclose(
        r.history.eval_metric[-1],
        mse(task.test_sample(jax.random.fold_in(key, 2), 3)),
        rtol=1e-10,
    )
    early = train_gradient_free(task, cell, method, 3, key=key, batch_size=2, eval_batch_size=3,
                                min_mse=r.history.loss[0])  # fmt: skip
    assert list(early.history.step) == [1]
