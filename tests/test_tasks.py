"""Tasks: deterministic per seed, documented shapes, correct targets, clear errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradalgos as ga
from gradalgos import tasks

TASK_CASES = {
    "adding": tasks.Adding(length=8),
    "copy": tasks.Copy(length=3, delay=4, symbols=4),
    "parity": tasks.DelayedParity(length=10, delay=2, window=3),
    "sine": tasks.Sine(length=7),
    "mackey-glass": tasks.MackeyGlass(length=9, warmup=20),
    "anbn": tasks.AnBn(max_n=3, test_max_n=5),
    "w1000": tasks.W1000(length=12),
    "middle": tasks.MiddleLabel(length=7, symbols=3),
    "sysid": tasks.SystemIdentification(length=12),
    "char-lm": tasks.CharLM(length=6),
}


def test_every_registered_task_is_tested():
    assert set(TASK_CASES) == set(tasks.TASKS)
    for name, task in TASK_CASES.items():
        assert isinstance(task, tasks.TASKS[name])


def _check_shapes(task: tasks.AbstractTask, batch: tasks.Batch, lead: tuple[int, ...]) -> None:
    xs, targets, mask = batch
    assert xs.shape == (*lead, task.input_size) and xs.dtype == jnp.float64
    if isinstance(task, tasks.ClassificationTask):
        assert targets.shape == lead and targets.dtype == jnp.int32
        assert int(targets.min()) >= 0 and int(targets.max()) < task.output_size
    else:
        assert targets.shape == (*lead, task.output_size) and targets.dtype == jnp.float64
    assert mask.shape == lead and mask.dtype == jnp.float64
    assert set(np.unique(np.asarray(mask))) <= {0.0, 1.0} and float(mask.sum()) > 0


@pytest.mark.parametrize("name", sorted(TASK_CASES))
def test_deterministic_with_documented_shapes(name):
    task = TASK_CASES[name]
    a = task.sample(jax.random.key(0), 3)
    b = task.sample(jax.random.key(0), 3)
    c = task.sample(jax.random.key(1), 3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.xs, c.xs)
    T = a.xs.shape[1]
    _check_shapes(task, a, (3, T))
    test = task.test_sample(jax.random.key(2), 2)
    _check_shapes(task, test, (2, test.xs.shape[1]))
    stream = task.stream(jax.random.key(3), 2 * T + 1)
    _check_shapes(task, stream, (2 * T + 1,))
    jitted = jax.jit(task.sample, static_argnums=1)(jax.random.key(0), 3)
    np.testing.assert_allclose(jitted.xs, a.xs, rtol=1e-12, atol=1e-12)
    # The task's loss accepts one step's output and target.
    y = jnp.zeros((task.output_size,))
    assert jnp.shape(task.loss(y, a.targets[0, 0])) == ()


def test_adding_targets():
    task = TASK_CASES["adding"]
    xs, targets, mask = task.sample(jax.random.key(4), 16)
    markers = np.asarray(xs[..., 1])
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :4].sum(1) == 1).all()  # one marker in each half
    np.testing.assert_allclose(targets[:, -1, 0], (xs[..., 0] * xs[..., 1]).sum(1))
    np.testing.assert_array_equal(mask[:, -1], 1.0)
    assert float(mask.sum()) == 16


def test_adding_mean_predictor_scores_the_baseline():
    task = tasks.Adding(length=10)
    _, targets, mask = task.sample(jax.random.key(0), 20_000)
    mse = task.metric(jnp.ones_like(targets), targets, mask)
    assert abs(float(mse) - task.baseline) < 0.01


def test_copy_recalls_the_symbols():
    task = TASK_CASES["copy"]
    xs, targets, mask = task.sample(jax.random.key(5), 4)
    symbols = jnp.argmax(xs[:, :3], axis=-1)
    np.testing.assert_array_equal(targets[:, -3:], symbols)
    np.testing.assert_array_equal(mask[0], [0] * 7 + [1] * 3)
    assert (jnp.argmax(xs[:, 6], axis=-1) == task.symbols + 1).all()  # delimiter


def test_parity_targets():
    task = TASK_CASES["parity"]
    xs, targets, mask = task.sample(jax.random.key(6), 5)
    bits = (np.asarray(xs[..., 0]) > 0).astype(int)
    for t in range(4, 10):
        np.testing.assert_array_equal(targets[:, t], bits[:, t - 4 : t - 1].sum(1) % 2)
    np.testing.assert_array_equal(mask[0], [0] * 4 + [1] * 6)


def test_sine_next_step():
    xs, targets, _ = TASK_CASES["sine"].sample(jax.random.key(7), 3)
    np.testing.assert_allclose(xs[:, 1:], targets[:, :-1])


def test_mackey_glass_is_a_bounded_next_step_series():
    xs, targets, _ = TASK_CASES["mackey-glass"].sample(jax.random.key(8), 3)
    np.testing.assert_allclose(xs[:, 1:], targets[:, :-1])
    assert bool(jnp.all(jnp.abs(xs) < 4))


def test_anbn_strings_and_test_range():
    task = TASK_CASES["anbn"]
    b = task.strings(jnp.array([2]), 7)
    np.testing.assert_array_equal(jnp.argmax(b.xs[0, :5], -1), [2, 0, 0, 1, 1])  # $ a a b b
    np.testing.assert_array_equal(b.targets[0, :5], [0, 0, 1, 1, 2])  # a a b b $
    np.testing.assert_array_equal(b.mask[0], [0, 0, 0, 1, 1, 0, 0])
    # Perfect predictions score 1, a network that never ends the string scores 0.
    onehot = jax.nn.one_hot(b.targets, 3)
    assert float(task.metric(onehot, b.targets, b.mask)) == 1.0
    never_end = jax.nn.one_hot(jnp.ones_like(b.targets), 3)
    assert float(task.metric(never_end, b.targets, b.mask)) == 0.0
    train, test = task.sample(jax.random.key(9), 64), task.test_sample(jax.random.key(9), 64)
    assert int(train.mask.sum(1).max()) <= 3 and int(test.mask.sum(1).min()) >= 4


def test_w1000_optimum_and_cliff():
    task = TASK_CASES["w1000"]
    xs, targets, mask = task.sample(jax.random.key(10), 4)
    cell, T = task.cell(), task.length

    def loss(w):
        params = task.params(w)
        state0 = cell.initial_state()
        return ga.value_and_grad(ga.BPTT(), cell, params, state0, xs, targets, mask=mask)[0]

    w_star = task.gain ** (1 / (T - 1))
    assert float(loss(w_star)) < 1e-20
    assert float(loss(1.5)) > 1e3 * float(loss(0.5))


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("nope", {}, "task must be one of"),
        ("adding", {"length": 0}, "length"),
        ("copy", {"symbols": 1}, "symbols"),
        ("parity", {"length": 3, "delay": 2, "window": 2}, "length"),
        ("sine", {"omega_min": 0.0}, "omega_min"),
        ("anbn", {"max_n": 5, "test_max_n": 5}, "test_max_n"),
    ],
)
def test_bad_configurations_raise(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tasks.make_task(name, **kwargs)
