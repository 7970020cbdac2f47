"""Trainers: one step of each algorithm descends, online RTRL/Hybrid/TBPTT at learning rate 0
reproduce the offline gradient, clear errors for bad configurations, history and CLI."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradalgos as ga
from gradalgos import tasks
from gradalgos.training import (
    OPTIMIZERS,
    History,
    make_optimizer,
    train,
    train_online,
)
from gradalgos.training.__main__ import main
from gradalgos.training.offline import make_update

ALGORITHMS = {
    "bptt": ga.BPTT(),
    "checkpointed": ga.CheckpointedBPTT(),
    "tbptt": ga.TBPTT(3),
    "rtrl": ga.RTRL(),
    "hybrid": ga.Hybrid(block=2),
}
TASK = tasks.Sine(length=6)
CELL = ga.cells.Elman(input_size=1, hidden_size=3, output_size=1)


def _tree_allclose(a, b, **kw):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(u, v, **kw)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_one_step_decreases_the_loss(name):
    tx = make_optimizer("sgd", 0.05)
    update = jax.jit(make_update(TASK, CELL, ALGORITHMS[name], tx, 8, jnp.float64))
    params = CELL.init(jax.random.key(0))
    key = jax.random.key(1)  # the same batch before and after the step
    new_params, opt_state, before, gnorm = update(params, tx.init(params), key)
    _, _, after, _ = update(new_params, opt_state, key)
    assert float(gnorm) > 0
    assert float(after) < float(before)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_train_returns_a_history(name):
    result = train(
        TASK, CELL, ALGORITHMS[name], "adam", 3, key=jax.random.key(0), batch_size=2,
        eval_every=2, eval_batch_size=4, progress=False,
    )  # fmt: skip
    h = result.history
    np.testing.assert_array_equal(h.step, [1, 2, 3])
    np.testing.assert_array_equal(h.eval_step, [0, 2, 3])
    assert np.all(np.diff(h.wall_time) >= 0) and np.all(np.isfinite(h.loss))
    assert jax.tree_util.tree_structure(result.params) == jax.tree_util.tree_structure(
        CELL.init(jax.random.key(0))
    )


@pytest.mark.parametrize(
    ("algorithm", "offline"),
    [
        (ga.RTRL(), ga.BPTT()),
        (ga.Hybrid(block=4), ga.BPTT()),
        (ga.TBPTT(4), ga.TBPTT(4)),
    ],
    ids=["rtrl", "hybrid", "tbptt"],
)
def test_online_with_learning_rate_zero_reproduces_the_offline_gradient(algorithm, offline):
    """Σ of the per-step (per-block) gradients = the offline gradient of the whole stream.

    ``optax.trace(decay=1)`` accumulates the gradients it is given; ``scale(0)`` keeps the
    weights fixed (learning rate 0).
    """
    task, key, L = tasks.Adding(length=5), jax.random.key(3), 16
    cell = ga.cells.Elman(input_size=2, hidden_size=3, output_size=1)
    params = cell.init(jax.random.key(4))
    tx = optax.chain(optax.trace(decay=1.0), optax.scale(0.0))
    result = train_online(
        task, cell, algorithm, tx, L, key=key, params=params, log_every=6,
        eval_batch_size=2, progress=False,
    )  # fmt: skip
    _tree_allclose(result.params, params, rtol=0, atol=0)
    stream = task.stream(jax.random.fold_in(key, 1), L)
    _, grads, _ = ga.value_and_grad(
        offline, cell, params, cell.initial_state(), stream.xs, stream.targets, mask=stream.mask
    )
    _tree_allclose(result.opt_state[0].trace, grads, rtol=1e-10, atol=1e-12)
    assert result.history.step[-1] == L


def test_online_rtrl_learns_a_sine():
    result = train_online(
        tasks.Sine(length=20), CELL, ga.RTRL(), "adam", 600, key=jax.random.key(0),
        learning_rate=3e-2, log_every=200, eval_batch_size=8, progress=False,
    )  # fmt: skip
    assert result.history.loss[-1] < 0.5 * result.history.loss[0]


#: The optax optimiser each name stands for at learning rate 0.1, and its first update as
#: ``-0.1 · first(g)`` for a gradient g, from the update rules with optax's defaults: Nesterov
#: momentum 0.9 gives (1 + 0.9)·g; RMSProp (decay 0.9, ν₀ = 0) g / √(0.1·g²); Adam's
#: bias-corrected first step g / |g|.
OPTAX_REFERENCES = {
    "sgd": (optax.sgd(0.1), lambda g: g),
    "nesterov": (optax.sgd(0.1, momentum=0.9, nesterov=True), lambda g: 1.9 * g),
    "rmsprop": (optax.rmsprop(0.1), lambda g: g / jnp.sqrt(0.1 * g**2)),
    "adam": (optax.adam(0.1), jnp.sign),
}


@pytest.mark.parametrize("clip", [None, 1.0])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_by_name_are_the_optax_optimizers(name, clip):
    """``make_optimizer(name, 0.1, clip=clip)``'s first update on the quadratic ``Σ x²`` is the
    hand-computed one (learning rate, momentum and clipping included), and five steps follow
    the optax optimiser (after ``clip_by_global_norm``) applied directly."""
    reference, first = OPTAX_REFERENCES[name]
    if clip is not None:
        reference = optax.chain(optax.clip_by_global_norm(clip), reference)
    tx = make_optimizer(name, 0.1, clip=clip)
    x = x_ref = jnp.array([3.0, -2.0])
    g = 2 * x  # |g| = √52 ≈ 7.2: clipping to 1 rescales it
    g_clipped = g if clip is None else g * clip / jnp.linalg.norm(g)
    state, state_ref = tx.init(x), reference.init(x_ref)
    updates, _ = tx.update(g, state, x)
    np.testing.assert_allclose(updates, -0.1 * first(g_clipped), rtol=1e-6)
    for _ in range(5):
        updates, state = tx.update(2 * x, state, x)
        x = optax.apply_updates(x, updates)
        updates_ref, state_ref = reference.update(2 * x_ref, state_ref, x_ref)
        x_ref = optax.apply_updates(x_ref, updates_ref)
        np.testing.assert_allclose(x, x_ref, rtol=1e-14, atol=0)


def test_clipping_bounds_the_update():
    tx = make_optimizer("sgd", 1.0, clip=0.5)
    updates, _ = tx.update(jnp.array([30.0, 40.0]), tx.init(jnp.zeros(2)))
    np.testing.assert_allclose(optax.tree.norm(updates), 0.5)


KW = dict(key=jax.random.key(0), progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"task": "nope"}, ValueError, "task must be one of"),
        ({"task": 3}, TypeError, "task"),
        ({"optimizer": "adagrad"}, ValueError, "optimizer must be one of"),
        ({"optimizer": 1.0}, TypeError, "optimizer"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"clip": 0.0}, ValueError, "clip"),
        ({"clip": -1.0}, ValueError, "clip"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"algorithm": "bptt"}, TypeError, "algorithm"),
        ({"cell": ga.cells.Elman(2, 3, 1)}, ValueError, "input_size"),
        ({"key": 0}, TypeError, "key"),
    ],
)
def test_bad_configurations_raise(kwargs, error, match):
    args = {"task": TASK, "cell": CELL, "algorithm": ga.BPTT(), "optimizer": "sgd", "steps": 2}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        train(**args, **{**KW, **{k: v for k, v in kwargs.items() if k in KW}})


def test_bad_online_configurations_raise():
    with pytest.raises(ValueError, match="cannot train online"):
        train_online(TASK, CELL, ga.BPTT(), "sgd", 10, **KW)
    with pytest.raises(ValueError, match="TBPTT"):
        train_online(TASK, CELL, ga.TBPTT(2, 4), "sgd", 10, **KW)
    with pytest.raises(ValueError, match="steps"):
        train_online(TASK, CELL, ga.Hybrid(block=4), "sgd", 3, **KW)
    with pytest.raises(ValueError, match="clip"):
        train_online(TASK, CELL, ga.RTRL(), "sgd", 10, clip=0, **KW)


def test_history_round_trips_through_json():
    h = History(*(np.array([1.0, np.nan]) for _ in range(8)))
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    np.testing.assert_array_equal(back.loss, h.loss)


def test_cli_train_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    argv = ["train", "--task", "sine", "--length", "5", "--cell", "elman", "--hidden", "3",
            "--algorithm", "rtrl", "--optimizer", "rmsprop", "--clip", "1", "--steps", "2",
            "--batch-size", "2", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["settings"]["algorithm"] == "rtrl" and len(data["history"]["loss"]) == 2
    assert "test mse" in capsys.readouterr().out


def test_cli_compare_writes_figures_and_markdown(tmp_path):
    argv = ["compare", "--only", "w1000", "clipping", "--budget", "0.05",
            "--out-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "train_w1000.png").exists() and (tmp_path / "train_clipping.png").exists()
    md = (tmp_path / "TRAINING.md").read_text()
    assert "w¹⁰⁰⁰ toy" in md and "Clipping on vs off" in md
    results = json.loads((tmp_path / "train_results.json").read_text())
    assert set(results) == {"w1000", "clipping", "meta"}


def test_training_report_opens_with_a_headline_table(tmp_path):
    """TRAINING.md starts with what was run, the best and worst run per experiment beside the
    baseline (a diverged run is the worst), and how many runs beat their baseline."""
    from gradalgos.training.figures import _headline

    def run(final):
        return {"final_metric": final, "baseline": 0.5}

    results = {
        "meta": {"budget": 3.0},
        "sine": {"metric": "mse", "runs": {"A": run(0.1), "B": run(0.01), "C": run(0.7)}},
        "parity": {"metric": "accuracy", "runs": {"A": run(0.9), "D": run(None)}},
    }
    md = _headline(results)
    assert md[0].startswith("2 training experiments (sine, parity), 3.0 s of training per run")
    assert "| sine | mse | B 0.01 | C 0.7 | 0.5 |" in md
    assert "| parity | accuracy | A 0.9 | D diverged | 0.5 |" in md
    assert "**3 of 5 runs beat their task's baseline**" in md[-2]
