"""The system-identification task (Back & Tsoi's plant) against scipy's lfilter, and the sysid
experiment's report drawn from a small hand-made results dict."""

from __future__ import annotations

import jax
import numpy as np
from scipy.signal import lfilter

from gradalgos.tasks import SystemIdentification
from gradalgos.tasks.sysid import PLANT_A, PLANT_B, iir_filter
from gradalgos.training.figures import write_report
from gradalgos.training.sysid import max_pole


def test_iir_filter_is_lfilter():
    x = np.random.default_rng(0).normal(size=(40, 2))
    expected = lfilter(PLANT_B, PLANT_A, x, axis=0)
    np.testing.assert_allclose(iir_filter(PLANT_B, PLANT_A, x), expected, rtol=1e-12, atol=1e-14)


def test_targets_are_the_plant_on_one_continuous_run():
    task = SystemIdentification(length=16)
    xs, targets, _ = task.sample(jax.random.key(0), 2)
    np.testing.assert_allclose(np.max(np.abs(xs), axis=(1, 2)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(targets[..., 0], np.sin(lfilter(PLANT_B, PLANT_A, xs[..., 0])),
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    stream = task.stream(jax.random.key(1), 40)  # 3 blocks, each scaled, one plant run
    x = np.asarray(stream.xs[:, 0])
    np.testing.assert_allclose([np.abs(x[:16]).max(), np.abs(x[16:32]).max()], 1.0, rtol=1e-12)
    np.testing.assert_allclose(stream.targets[:, 0], np.sin(lfilter(PLANT_B, PLANT_A, x)),
                               rtol=1e-10, atol=1e-12)  # fmt: skip


def test_max_pole_and_the_report(tmp_path):
    v = np.zeros((2, 1, 2))
    v[:, 0, 1] = (1.5, -0.56)  # z² − 1.5 z + 0.56 = (z − 0.8)(z − 0.7)
    assert abs(max_pole(({"v": v},)) - 0.8) < 1e-12
    assert np.isnan(max_pole(({"v": v * np.nan},)))
    history = {"step": [10, 20], "loss": [0.01, None], "wall_time": [0.001, 0.002],
               "grad_norm": [1.0, 1.0], "eval_step": [0, 20], "eval_wall_time": [0, 0.002],
               "eval_loss": [0.1, None], "eval_metric": [0.1, None]}  # fmt: skip
    run = {"kind": "online", "algorithm": "CRBP(depth=0)", "history": history,
           "final_metric": None, "baseline": 0.033, "max_pole": None,
           "settings": {"optimizer": "adam", "learning_rate": 1e-3, "clip": 1.0}}  # fmt: skip
    results = {
        "sysid": {"task": "T", "cell": "C", "metric": "mse", "steps": 20, "runs": {"Q=0": run}}
    }
    written = write_report(results, tmp_path)
    assert tmp_path / "train_sysid.png" in written
    md = (tmp_path / "TRAINING.md").read_text()
    assert "| Q=0 | — | -20.0 | 100.0 | 20 | — |" in md
