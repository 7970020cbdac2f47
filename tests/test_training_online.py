"""Online training with every online method of the registry: it runs, a learning rate of 0
reproduces each method's own offline gradient, stochastic methods get a key from the
trainer's, and the CLI accepts every online method (and refuses the offline-only ones)."""

from __future__ import annotations

import json

import jax
import numpy as np
import optax
import pytest

import gradalgos as ga
from gradalgos import tasks
from gradalgos.algorithms import registry
from gradalgos.training import online_names, train, train_online
from gradalgos.training.__main__ import main

TASK = tasks.Sine(length=6)
CELL = ga.cells.Elman(input_size=1, hidden_size=3, output_size=1)
KW = dict(key=jax.random.key(0), progress=False)

#: Every registered online method, built from one dict of settings (each takes its own).
ELMAN_ONLINE = registry.names(online=True, cell="elman")
ONLINE = {name: registry.make(name, block=4, leak=0.5) for name in ELMAN_ONLINE}


def _tree_allclose(a, b, **kw):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(u, v, **kw)


def test_the_registry_builds_the_methods_asked_for():
    expected = [ga.SnAp(1), ga.RFLO(leak=0.5, feedback="random"), ga.EProp(), ga.Immediate(),
                ga.RTRL(), ga.Hybrid(block=4)]  # fmt: skip
    assert all(alg in ONLINE.values() for alg in expected)
    assert set(online_names()) == {*registry.names(online=True), "tbptt"}


@pytest.mark.parametrize("name", sorted(ONLINE))
def test_every_online_method_trains_online(name):
    algorithm = ONLINE[name]
    result = train_online(
        TASK, CELL, algorithm, "adam", 36, learning_rate=1e-2, log_every=12,
        eval_batch_size=4, **KW,
    )  # fmt: skip
    h = result.history
    assert h.step[-1] == 36 and len(h.loss) == 3
    assert np.all(np.isfinite(h.loss)) and np.all(np.isfinite(h.eval_metric))
    assert np.all(np.isfinite(h.grad_norm)) and np.all(h.grad_norm > 0)
    moved = jax.tree_util.tree_map(
        lambda a, b: np.any(a != b), result.params, CELL.init(jax.random.fold_in(KW["key"], 0))
    )
    assert any(jax.tree_util.tree_leaves(moved))


#: Deterministic approximate methods whose per-step gradients at learning rate 0 are checked
#: (RTRL's and the Hybrid's sum to the BPTT gradient: tests/test_training.py).
APPROXIMATE = [ga.SnAp(1), ga.SnAp(2), ga.EProp(), ga.Immediate(),
               ga.RFLO(leak=0.5, feedback="symmetric")]  # fmt: skip


@pytest.mark.parametrize("algorithm", APPROXIMATE, ids=repr)
def test_learning_rate_zero_sums_to_the_methods_offline_gradient(algorithm):
    """With fixed weights the per-step gradients of a deterministic approximate method sum to
    ``ga.value_and_grad`` of the whole stream by the same method: its carry (traces) runs on
    across updates and nothing is reset."""
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
        algorithm, cell, params, cell.initial_state(), stream.xs, stream.targets,
        mask=stream.mask,
    )  # fmt: skip
    _tree_allclose(result.opt_state[0].trace, grads, rtol=1e-10, atol=1e-12)
    assert result.history.step[-1] == L


#: Stochastic methods checked for their key: a fixed random matrix drawn at init (RFLO) and
#: noise drawn at every step (UORO, where registered).
STOCHASTIC = [n for n in ("rflo", "uoro") if n in ONLINE]


@pytest.mark.parametrize("name", STOCHASTIC)
def test_a_stochastic_method_gets_its_key_from_the_trainer(name):
    """``init`` of a method that samples noise needs a key; ``train_online`` derives one from
    its own: the same key gives the same run, another key another run."""
    algorithm = ONLINE[name]
    with pytest.raises(ValueError, match="key"):
        algorithm.init(CELL, CELL.init(jax.random.key(0)), CELL.initial_state())

    def run(seed):
        return train_online(
            TASK, CELL, algorithm, "sgd", 12, key=jax.random.key(seed), log_every=12,
            eval_batch_size=2, progress=False,
            params=CELL.init(jax.random.key(9)),
        )  # fmt: skip

    a, b, c = run(0), run(0), run(1)
    assert np.all(np.isfinite(a.history.loss))
    _tree_allclose(a.params, b.params, rtol=0, atol=0)
    assert not np.allclose(a.history.grad_norm, c.history.grad_norm)


def test_offline_training_gives_a_stochastic_method_a_key():
    assert ONLINE["rflo"].needs_key
    result = train(TASK, CELL, ONLINE["rflo"], "adam", 2, batch_size=2, eval_batch_size=2, **KW)
    assert np.all(np.isfinite(result.history.loss))


def test_an_offline_only_method_is_refused_naming_the_online_ones():
    for algorithm in (ga.BPTT(), ga.CheckpointedBPTT()):
        with pytest.raises(ValueError, match="cannot train online") as err:
            train_online(TASK, CELL, algorithm, "sgd", 10, **KW)
        assert all(name in str(err.value) for name in registry.names(online=True))


def test_a_method_that_does_not_apply_to_the_cell_is_refused_before_training():
    with pytest.raises(ValueError, match="leak"):
        train_online(TASK, CELL, ga.RFLO(), "sgd", 10, **KW)


ARGV = ["train", "--task", "sine", "--length", "5", "--cell", "elman", "--hidden", "3",
        "--steps", "10", "--eval-every", "5", "--quiet"]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "algorithm"),
    [
        (["--algorithm", "snap", "--online"], "SnAp(order=1)"),
        (["--algorithm", "snap", "--order", "2", "--online"], "SnAp(order=2)"),
        (["--algorithm", "rflo", "--leak", "0.5", "--online"], "RFLO(leak=0.5"),
        (["--algorithm", "eprop", "--feedback", "random", "--online"], "feedback='random'"),
        (["--algorithm", "tbptt", "--k", "2", "--online"], "TBPTT(k1=2"),
        (["--algorithm", "hybrid", "--block", "2", "--online"], "Hybrid(block=2)"),
        (["--algorithm", "rflo", "--leak", "0.5", "--batch-size", "2"], "RFLO(leak=0.5"),
    ],
    ids=["snap", "snap-2", "rflo", "eprop-random", "tbptt", "hybrid", "rflo-offline"],
)
def test_cli_trains_with_the_methods_settings(tmp_path, capsys, extra, algorithm):
    out = tmp_path / "run.json"
    assert main([*ARGV, *extra, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert np.all(np.isfinite(np.array(data["history"]["loss"], float)))
    assert algorithm in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--algorithm", "bptt", "--online"], "cannot train online"),
        (["--algorithm", "checkpointed", "--online"], "cannot train online"),
        (["--algorithm", "nosuch"], "invalid choice"),
        (["--algorithm", "snap", "--order", "0"], "order"),
        (["--algorithm", "rflo"], "leak"),
        (["--algorithm", "eprop", "--feedback", "sideways"], "invalid choice"),
    ],
    ids=["bptt-online", "checkpointed-online", "unknown", "order-0", "rflo-no-leak", "feedback"],
)
def test_cli_usage_errors(capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*ARGV, *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
