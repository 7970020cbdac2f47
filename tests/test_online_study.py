"""The online-learning study: its vmapped-seed loop against ``train_online`` run per seed, and
its report drawn from a small result."""

import jax
import numpy as np
import pytest

import gradalgos as ga
from gradalgos.tasks import Copy
from gradalgos.training import train_online
from gradalgos.training.online_study import SETTINGS, method_label, train_seeds
from gradalgos.training.online_study_figures import online_study_report

TASK = Copy(length=2, delay=2, symbols=3)
CELL = ga.cells.Elman(TASK.input_size, 4, TASK.output_size)
KEYS = [jax.random.key(1), jax.random.key(2)]
STEPS, RECORDS = 48, 4


@pytest.mark.parametrize("alg", [ga.UORO()], ids=["uoro"])
def test_vmapped_seeds_match_train_online_per_seed(alg):
    run = train_seeds(TASK, CELL, alg, KEYS, steps=STEPS, records=RECORDS, shadow=True)
    assert run["steps"] == STEPS and len(run["final_metric"]) == len(KEYS)
    for i, key in enumerate(KEYS):
        ref = train_online(TASK, CELL, alg, SETTINGS["optimizer"], STEPS, key=key,
                           learning_rate=SETTINGS["learning_rate"], clip=SETTINGS["clip"],
                           log_every=STEPS // RECORDS, shadow=True, progress=False,
                           eval_batch_size=SETTINGS["eval_batch_size"])  # fmt: skip
        h = ref.history
        np.testing.assert_allclose(run["metric"][i], h.eval_metric, rtol=1e-9)
        np.testing.assert_allclose(run["cosine"][i], h.shadow_cosine, rtol=1e-9)
        np.testing.assert_allclose(run["mean_cosine"][i], np.nanmean(h.shadow_cosine))


def test_report_from_a_small_result(tmp_path):
    alg = ga.Immediate()
    run = train_seeds(TASK, CELL, alg, KEYS, steps=16, records=2, shadow=True)
    task = {
        "task": repr(TASK),
        "cell": repr(CELL),
        "metric": "accuracy",
        "higher_is_better": True,
        "baseline": TASK.baseline,
        "runs": {method_label(alg): run},
    }
    res = {"settings": SETTINGS, "tasks": {"copy": task}}  # fmt: skip
    paths, md = online_study_report(res, tmp_path)
    assert [p.name for p in paths] == ["train_online_copy.png"] and paths[0].stat().st_size > 0
    assert any(line.startswith("| immediate |") for line in md)


def test_equal_time_metric_is_each_runs_last_evaluation_within_the_shortest_run():
    from gradalgos.training.online_study import _at_equal_time

    runs = {
        "fast": {"wall_time": [0, 1, 2], "step": [0, 10, 20], "metric": [[5, 4, 3], [6, 5, 4]],
                 "final_metric": [3, 4]},
        "slow": {"wall_time": [0, 1.5, 3], "step": [0, 5, 10], "metric": [[5, 4.5, 4]],
                 "final_metric": [4]},
    }  # fmt: skip
    assert _at_equal_time(runs) == 2
    assert runs["fast"]["final_metric"] == [3, 4] and runs["fast"]["final_step"] == 20
    assert runs["slow"]["final_metric"] == [4.5] and runs["slow"]["final_step"] == 5
    assert runs["slow"]["last_metric"] == [4]
