"""The comparison run (``python -m gradalgos.training compare``): every algorithm on a few tasks
and four paper reproductions. Results go to ``reports/train_results.json``; figures and
``reports/TRAINING.md`` are then drawn from that file alone (:mod:`gradalgos.training.figures`).

Every training run gets the same budget of training seconds (``--budget``, compilation and
evaluation excluded); the defaults take about 8 minutes on 2 CPU cores, plus the online
study (:mod:`gradalgos.training.online_study`, its own protocol: 263 s of CPU time measured).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos import algorithms, cells
from gradalgos.bench.version import code_version, git_commit
from gradalgos.tasks import W1000, AbstractTask, AnBn, DelayedParity, Sine
from gradalgos.tasks.adding import Adding
from gradalgos.training.bidirectional_experiment import exp_bidirectional
from gradalgos.training.common import TrainResult
from gradalgos.training.evaluate import evaluate, predict
from gradalgos.training.figures import DEFAULT, write_report
from gradalgos.training.offline import train
from gradalgos.training.online import train_online
from gradalgos.training.online_study import exp_online_study
from gradalgos.training.sysid import exp_sysid

__all__ = ["EXPERIMENTS", "add_compare_arguments", "run_compare"]

RESULTS = "train_results.json"
W_START = 0.995  # initial recurrent weight of the clipping experiment


def _record(result: TrainResult, task: AbstractTask, settings: dict[str, Any]) -> dict:
    h = result.history
    return {"kind": settings.pop("kind"), "settings": settings, "history": h.to_dict(),
            "final_metric": h.final_metric, "baseline": task.baseline}  # fmt: skip


def _label(algorithm: Any) -> str:
    """The display name of a run: the class's ``info.label``, with k for TBPTT(k)."""
    label = type(algorithm).info.label
    return f"{label}({algorithm.k1})" if isinstance(algorithm, algorithms.TBPTT) else label


def _gradient_runs(task: AbstractTask, cell: Any, budget: float, key: jax.Array) -> dict:
    """Offline BPTT and TBPTT(k), online RTRL, Hybrid and TBPTT(k), each for ``budget`` s."""
    k = 5
    off = dict(optimizer="adam", learning_rate=1e-2, clip=1.0, batch_size=32, eval_every=25)
    on = dict(optimizer="adam", learning_rate=3e-3, clip=1.0)
    common = dict(key=key, max_time=budget, progress=False, eval_batch_size=256)
    runs = {}
    for alg in (algorithms.BPTT(), algorithms.TBPTT(k)):
        r = train(task, cell, alg, steps=100_000, **off, **common)
        runs[_label(alg)] = _record(r, task, {"kind": "offline", "algorithm": repr(alg), **off})
    for alg in (algorithms.RTRL(), algorithms.Hybrid(), algorithms.TBPTT(k)):
        r = train_online(task, cell, alg, steps=1_000_000, log_every=2000, **on, **common)
        runs[f"{_label(alg)} online"] = _record(
            r, task, {"kind": "online", "algorithm": repr(alg), **on}
        )
    return runs


def _gradient_free_runs(task: AbstractTask, cell: Any, generations: int, key: jax.Array) -> dict:
    """GA, SA and PSO on a fixed batch of 32 sequences; the ESN fitted on the same batch.
    Missing when :mod:`gradalgos.gradient_free` is not installed."""
    try:
        from gradalgos import gradient_free as gf
    except ImportError:
        return {}
    data = task.sample(jax.random.fold_in(key, 10), 32)
    test = task.test_sample(jax.random.fold_in(key, 2), 256)
    runs = {}
    for method in (gf.GeneticAlgorithm(), gf.SimulatedAnnealing(), gf.ParticleSwarm()):
        r = gf.evolve(method, cell, data.xs, data.targets, mask=data.mask, key=key,
                      max_generations=generations)  # fmt: skip
        _, metric = evaluate(task, cell, r.params, test)
        runs[type(method).__name__] = {
            "kind": "evolve", "settings": {"method": repr(method), "generations": generations},
            "history": {"step": list(range(1, r.generations + 1)),
                        "loss": [float(v) for v in r.best_mse],
                        "wall_time": [float(v) for v in r.wall_time]},
            "final_metric": float(metric), "baseline": task.baseline,
        }  # fmt: skip
    esn = gf.EchoStateNetwork(task.input_size, 100, task.output_size)
    t0 = time.perf_counter()
    readout = jax.block_until_ready(esn.fit(key, data.xs, data.targets, data.mask))
    seconds = time.perf_counter() - t0
    ys = esn.predict(readout, test.xs)
    runs["ESN"] = {"kind": "esn", "settings": {"esn": repr(esn)},
                   "history": {"step": [1], "loss": [float(task.metric(
                       esn.predict(readout, data.xs), data.targets, data.mask))],
                       "wall_time": [seconds]},
                   "final_metric": float(task.metric(ys, test.targets, test.mask)),
                   "baseline": task.baseline}  # fmt: skip
    return runs


def exp_sine(budget: float, key: jax.Array) -> dict:
    """Sine next-step prediction (T = 50), 8-unit Elman: all gradient and gradient-free methods."""
    task, cell = Sine(), cells.Elman(1, 8, 1)
    runs = _gradient_runs(task, cell, budget, key)
    runs.update(_gradient_free_runs(task, cell, 1000, key))
    return {"task": repr(task), "cell": repr(cell), "metric": task.metric_name, "runs": runs}


def exp_parity(budget: float, key: jax.Array) -> dict:
    """Delayed XOR (delay 2) with a 16-unit Elman: the gradient algorithms (the gradient-free
    methods minimise an MSE and are run on the regression task only)."""
    task, cell = DelayedParity(length=20, delay=2, window=2), cells.Elman(1, 16, 2)
    runs = _gradient_runs(task, cell, budget, key)
    return {"task": repr(task), "cell": repr(cell), "metric": task.metric_name, "runs": runs}


def exp_w1000_surface(budget: float, key: jax.Array) -> dict:
    """Loss and |∂L/∂w| of the w¹⁰⁰⁰ toy against w (float64, BPTT, u = v = 1)."""
    del budget
    with jax.enable_x64(True):
        task = W1000(gain=0.5)
        batch = task.sample(key, 64)
        ws = np.linspace(0.9, 1.1, 401)

        def one(w):
            params = W1000.params(w)
            grad_fn = jax.value_and_grad(lambda p: _w1000_loss(task, p, batch))
            loss, g = grad_fn(params)
            return loss, jnp.abs(g["W_rec"][0, 0])

        loss, gnorm = jax.jit(jax.vmap(one))(jnp.asarray(ws))
        return {"task": repr(task), "w": ws.tolist(), "loss": np.asarray(loss).tolist(),
                "grad": np.asarray(gnorm).tolist(),
                "w_star": task.gain ** (1 / (task.length - 1))}  # fmt: skip


def _w1000_loss(task: W1000, params: Any, batch: Any) -> jax.Array:
    ys = predict(W1000.cell(), params, batch.xs)
    return task.metric(ys, batch.targets, batch.mask)


def exp_clipping(budget: float, key: jax.Array) -> dict:
    """SGD on the w¹⁰⁰⁰ toy (gain 2: the optimum w* ≈ 1.0007 lies just past the cliff),
    starting at w = 0.995, with and without clipping the gradient norm at 1 (float64)."""
    runs = {}
    with jax.enable_x64(True):
        task = W1000(gain=2.0)
        for label, clip in (("clip 1", 1.0), ("no clip", None)):
            settings = dict(optimizer="sgd", learning_rate=1e-4, clip=clip, batch_size=8)
            r = train(task, W1000.cell(), algorithms.BPTT(), steps=400, key=key,
                      params=W1000.params(W_START), eval_every=10, eval_batch_size=64,
                      max_time=budget, progress=False, **settings)  # fmt: skip
            w = float(r.params["W_rec"][0, 0])
            runs[label] = _record(r, task, {"kind": "offline", "final_w": w, **settings})
    w_star = task.gain ** (1 / (task.length - 1))
    return {"task": repr(task), "cell": repr(W1000.cell()), "metric": task.metric_name,
            "w_start": W_START, "w_star": w_star, "runs": runs}  # fmt: skip


def exp_irnn(budget: float, key: jax.Array) -> dict:
    """Adding problem T = 100: IRNN (ReLU, identity init) vs tanh RNN, 32 units, BPTT,
    RMSProp (Le et al. used T = 150…400)."""
    task = Adding(length=100)
    settings = dict(optimizer="rmsprop", learning_rate=1e-3, clip=1.0, batch_size=32)
    runs = {}
    for label, cell in (("IRNN", cells.IRNN(2, 32, 1)), ("tanh RNN", cells.Elman(2, 32, 1))):
        r = train(task, cell, algorithms.BPTT(), steps=100_000, key=key, eval_every=50,
                  eval_batch_size=512, max_time=3 * budget, progress=False, **settings)  # fmt: skip
        runs[label] = _record(r, task, {"kind": "offline", "cell": repr(cell), **settings})
    return {"task": repr(task), "metric": task.metric_name, "runs": runs}


def exp_anbn(budget: float, key: jax.Array) -> dict:
    """aⁿbⁿ, train n ≤ 10: LSTM vs GRU (10 units, BPTT, Adam); string accuracy per n ≤ 60."""
    task = AnBn(max_n=10, test_max_n=30)
    settings = dict(optimizer="adam", learning_rate=1e-2, clip=1.0, batch_size=32)
    ns = np.arange(1, 61)
    runs = {}
    for label, cls in (("LSTM", cells.LSTM), ("GRU", cells.GRU)):
        cell = cls(3, 10, 3)
        r = train(task, cell, algorithms.BPTT(), steps=100_000, key=key, eval_every=50,
                  eval_batch_size=256, max_time=3 * budget, progress=False, **settings)  # fmt: skip
        batch = task.strings(jnp.asarray(ns), 2 * int(ns[-1]) + 1, r.params["W_out"].dtype)
        ys = predict(cell, r.params, batch.xs)
        ok = jnp.all((jnp.argmax(ys, -1) == batch.targets) | (batch.mask == 0), axis=-1)
        run = _record(r, task, {"kind": "offline", "cell": repr(cell), **settings})
        run["per_n"] = {"n": ns.tolist(), "correct": np.asarray(ok).astype(int).tolist()}
        runs[label] = run
    return {"task": repr(task), "metric": "string accuracy", "runs": runs}


def exp_acceptance(budget: float, key: jax.Array) -> dict:
    """Issue 4 acceptance: adding T = 50, LSTM with 16 units, BPTT and RTRL (offline, exact
    gradients), Adam 1e-2, clip 1, batch 32, until the test MSE (512 sequences) < 0.01 or
    15 minutes. Not in the default set (RTRL takes minutes): ``--only acceptance``."""
    del budget
    task, cell = Adding(length=50), cells.LSTM(2, 16, 1)
    settings = dict(optimizer="adam", learning_rate=1e-2, clip=1.0, batch_size=32)
    runs = {}
    for alg in (algorithms.BPTT(), algorithms.RTRL()):
        r = train(task, cell, alg, steps=20_000, key=key, eval_every=50, eval_batch_size=512,
                  stop_at=0.01, max_time=900.0, progress=False, **settings)  # fmt: skip
        runs[_label(alg)] = _record(
            r, task, {"kind": "offline", "algorithm": repr(alg), **settings}
        )
    return {"task": repr(task), "cell": repr(cell), "metric": task.metric_name, "runs": runs}


EXPERIMENTS: dict[str, Callable[[float, jax.Array], dict]] = {
    "sine": exp_sine,
    "parity": exp_parity,
    "w1000": exp_w1000_surface,
    "clipping": exp_clipping,
    "irnn": exp_irnn,
    "anbn": exp_anbn,
    "acceptance": exp_acceptance,
    "bidirectional": exp_bidirectional,
    "sysid": exp_sysid,
    "online_study": exp_online_study,
}


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=float, default=12.0,
                   help="training seconds per run (IRNN and aⁿbⁿ runs get 3×) (default: "
                        "%(default)s)")  # fmt: skip
    p.add_argument("--only", nargs="+", choices=sorted(EXPERIMENTS),
                   help=f"run only these (default: {' '.join(DEFAULT)})")  # fmt: skip
    p.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("reports"),
                   help="where the results, figures and TRAINING.md go (default: "
                        "%(default)s)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="the seed (default: %(default)s)")
    p.add_argument("--figures-only", action="store_true",
                   help="redraw figures and TRAINING.md from the results file")  # fmt: skip


def run_compare(args: argparse.Namespace) -> dict:
    if args.budget <= 0:
        raise ValueError(f"budget must be > 0 seconds, got {args.budget}")
    path = args.out_dir / RESULTS
    results = json.loads(path.read_text()) if path.exists() else {}
    if not args.figures_only:
        start = time.perf_counter()
        for name in args.only or DEFAULT:
            t0 = time.perf_counter()
            results[name] = EXPERIMENTS[name](args.budget, jax.random.key(args.seed))
            results[name]["seconds"] = time.perf_counter() - t0
            print(f"{name}: {results[name]['seconds']:.0f} s", flush=True)
        results["meta"] = {
            "seconds": time.perf_counter() - start, "budget": args.budget, "seed": args.seed,
            "only": args.only, "platform": platform.platform(), "cpus": os.cpu_count(),
            "jax": jax.__version__, "device": str(jax.devices()[0]),
            "code_version": code_version(), "git_commit": git_commit(),
        }  # fmt: skip
        args.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_finite(results), allow_nan=False))
    for f in write_report(results, args.out_dir):
        print("wrote", f)
    return results


def _finite(x: Any) -> Any:
    """``x`` with NaN and ±inf floats replaced by None (strict JSON)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
