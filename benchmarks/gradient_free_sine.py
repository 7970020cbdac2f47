"""Issue 4 acceptance: sine next-step prediction with an 8-unit Elman, GA / SA / PSO (and ESN).

    python benchmarks/gradient_free_sine.py [--generations 2000] [--out reports/gf_sine.json]

Task: :class:`gradalgos.tasks.sine.Sine` (T = 50, ω ~ U[0.1, 0.5] rad/step, random phase),
float64; a training batch of 32 sequences (key 0) and a held-out test batch of 256 (key 1).
Each method runs the full ``--generations`` budget with its default hyper-parameters (no early
stop) so that the whole curve is measured; reported: generations and wall time until the best
training MSE first beats the predict-zero baseline by 10× and by 100×, the final training MSE
and the best parameters' test MSE. Baselines: predict zero, and persistence (y_t = x_t).
The ESN (50 units, washout 0) is fitted on the same batch for comparison. Wall times exclude
compilation (see :func:`gradalgos.gradient_free.evolve`).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.gradient_free import (
    EchoStateNetwork,
    GeneticAlgorithm,
    ParticleSwarm,
    SimulatedAnnealing,
    evolve,
    population_mse,
)
from gradalgos.tasks.sine import Sine


def _first(best_mse: np.ndarray, wall_time: np.ndarray, threshold: float) -> dict:
    hit = np.flatnonzero(best_mse <= threshold)
    if hit.size == 0:
        return {"generations": None, "seconds": None}
    return {"generations": int(hit[0]) + 1, "seconds": float(wall_time[hit[0]])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)

    task = Sine()
    train = task.sample(jax.random.key(0), 32)
    test = task.sample(jax.random.key(1), 256)
    cell = ga.cells.Elman(1, 8, 1)
    zero = float(jnp.mean(train.targets**2))
    results: dict = {
        "platform": platform.platform(),
        "device": str(jax.devices()[0]),
        "cell": f"Elman(1, 8, 1), P = {cell.num_params}",
        "baseline_zero_train": zero,
        "baseline_zero_test": float(jnp.mean(test.targets**2)),
        "baseline_persistence_train": float(jnp.mean((train.xs - train.targets) ** 2)),
        "methods": {},
    }
    print(json.dumps({k: v for k, v in results.items() if k != "methods"}, indent=1))
    for method in (GeneticAlgorithm(), SimulatedAnnealing(), ParticleSwarm()):
        run = evolve(
            method,
            cell,
            train.xs,
            train.targets,
            key=jax.random.key(args.seed),
            max_generations=args.generations,
        )
        flat = ravel_pytree(run.params)[0][None]
        row = {
            "method": repr(method),
            "first_10x": _first(run.best_mse, run.wall_time, zero / 10),
            "first_100x": _first(run.best_mse, run.wall_time, zero / 100),
            "final_train_mse": float(run.best_mse[-1]),
            "test_mse": float(population_mse(cell, flat, test.xs, test.targets)[0]),
            "generations": run.generations,
            "seconds": float(run.wall_time[-1]),
        }
        results["methods"][type(method).__name__] = row
        print(json.dumps(row), flush=True)

    esn = EchoStateNetwork(1, 50, 1)
    start = time.perf_counter()
    readout = jax.block_until_ready(esn.fit(jax.random.key(args.seed), train.xs, train.targets))
    fit_seconds = time.perf_counter() - start  # includes compilation
    results["methods"]["EchoStateNetwork"] = row = {
        "method": repr(esn),
        "final_train_mse": float(jnp.mean((esn.predict(readout, train.xs) - train.targets) ** 2)),
        "test_mse": float(jnp.mean((esn.predict(readout, test.xs) - test.targets) ** 2)),
        "seconds_with_compile": fit_seconds,
    }
    print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
