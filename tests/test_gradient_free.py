"""Gradient-free optimisers (GA, SA, PSO), ``evolve``'s stopping criteria, and the ESN."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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

METHODS = {
    "ga": GeneticAlgorithm(population_size=16),
    "sa": SimulatedAnnealing(population_size=16),
    "pso": ParticleSwarm(population_size=16),
}
CELL = ga.cells.Elman(1, 8, 1)


def sine(batch: int = 8, steps: int = 50, key: jax.Array | None = None):
    """Next-step prediction of sin with 16 samples per period and random phases: xs, targets
    ``(B, T, 1)``. Predict-zero MSE ≈ 0.5; predict-the-input (persistence) MSE ≈ 0.076."""
    key = jax.random.key(0) if key is None else key
    phase = jax.random.uniform(key, (batch, 1), maxval=2 * np.pi)
    s = jnp.sin(phase + jnp.arange(steps + 1) * (2 * np.pi / 16))[..., None]
    return s[:, :-1], s[:, 1:]


XS, YS = sine(batch=4, steps=20)


def _numpy_mse(params: dict, xs: np.ndarray, ys: np.ndarray, mask: np.ndarray) -> float:
    """The documented MSE by a plain loop: Σ mask·Σ_k err² / (o · Σ mask)."""
    p = {k: np.asarray(v) for k, v in params.items()}
    h = np.zeros((xs.shape[0], p["W_rec"].shape[0]))
    total = 0.0
    for t in range(xs.shape[1]):
        h = np.tanh(h @ p["W_rec"].T + xs[:, t] @ p["W_in"].T + p["b"])
        y = h @ p["W_out"].T + p["b_out"]
        total += np.sum(mask[:, t, None] * (y - ys[:, t]) ** 2)
    return total / (ys.shape[-1] * mask.sum())


# --- the objective -------------------------------------------------------------------------


def test_population_mse_is_the_documented_mse_per_vector():
    keys = jax.random.split(jax.random.key(1), 3)
    population = jax.vmap(lambda k: ravel_pytree(CELL.init(k))[0])(keys)
    mask = np.ones(XS.shape[:2])
    mask[0, 15:] = 0.0
    mask[2, :3] = 0.5
    got = population_mse(CELL, population, XS, YS, jnp.asarray(mask))
    _, unravel = ravel_pytree(CELL.init(keys[0]))
    want = [_numpy_mse(unravel(v), np.asarray(XS), np.asarray(YS), mask) for v in population]
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_non_finite_mse_counts_as_inf():
    vector = ravel_pytree(CELL.init(jax.random.key(0)))[0]
    population = jnp.stack([vector, jnp.full_like(vector, jnp.nan)])
    mse = population_mse(CELL, population, XS, YS)
    assert np.isfinite(mse[0]) and mse[1] == np.inf


# --- stopping criteria, determinism ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(METHODS))
def test_max_generations_and_determinism(name):
    method = METHODS[name]
    run = evolve(method, CELL, XS, YS, key=jax.random.key(2), max_generations=25)
    assert run.stopped_by == "max_generations" and run.generations == 25
    assert run.best_mse.shape == run.wall_time.shape == (25,)
    assert np.all(np.diff(run.best_mse) <= 0) and np.all(np.diff(run.wall_time) >= 0)
    assert run.best_mse[-1] < run.best_mse[0]  # it searches, not only samples
    flat = ravel_pytree(run.params)[0]
    assert jax.tree_util.tree_structure(run.params) == jax.tree_util.tree_structure(
        CELL.init(jax.random.key(0))
    )
    np.testing.assert_allclose(population_mse(CELL, flat[None], XS, YS)[0], run.best_mse[-1])

    again = evolve(method, CELL, XS, YS, key=jax.random.key(2), max_generations=25)
    np.testing.assert_array_equal(again.best_mse, run.best_mse)
    np.testing.assert_array_equal(ravel_pytree(again.params)[0], flat)
    other = evolve(method, CELL, XS, YS, key=jax.random.key(3), max_generations=25)
    assert not np.array_equal(other.best_mse, run.best_mse)

    # Stop exactly at the first generation reaching a threshold met mid-run.
    threshold = float(run.best_mse[12])
    first = int(np.argmax(run.best_mse <= threshold)) + 1
    by_mse = evolve(
        method, CELL, XS, YS, key=jax.random.key(2), max_generations=25, min_mse=threshold
    )
    assert (by_mse.stopped_by, by_mse.generations) == ("min_mse", first)
    np.testing.assert_array_equal(by_mse.best_mse, run.best_mse[:first])
    by_fitness = evolve(
        method,
        CELL,
        XS,
        YS,
        key=jax.random.key(2),
        max_generations=25,
        target_fitness=1.0 / threshold,
    )
    assert (by_fitness.stopped_by, by_fitness.generations) == ("target_fitness", first)


def test_target_fitness_is_checked_before_min_mse_and_mask_is_used():
    mask = jnp.ones(XS.shape[:2]).at[:, :5].set(0.0)
    run = evolve(
        METHODS["ga"],
        CELL,
        XS,
        YS,
        key=jax.random.key(0),
        max_generations=5,
        target_fitness=1e-9,
        min_mse=1e9,
        mask=mask,
    )
    assert (run.stopped_by, run.generations) == ("target_fitness", 1)
    flat = ravel_pytree(run.params)[0]
    np.testing.assert_allclose(population_mse(CELL, flat[None], XS, YS, mask)[0], run.best_mse[0])


def test_float32_inputs_give_float32_params():
    run = evolve(
        METHODS["pso"],
        CELL,
        XS.astype(jnp.float32),
        YS.astype(jnp.float32),
        key=jax.random.key(0),
        max_generations=2,
    )
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(run.params))


# --- bad configurations ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GeneticAlgorithm, SimulatedAnnealing, ParticleSwarm])
def test_population_below_two_raises(cls):
    with pytest.raises(ValueError, match="population_size"):
        cls(population_size=1)
    with pytest.raises(TypeError, match="population_size"):
        cls(population_size=8.0)


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (GeneticAlgorithm, {"elitism": 8, "population_size": 8}, "elitism"),
        (GeneticAlgorithm, {"mutation_rate": 1.5}, "mutation_rate"),
        (GeneticAlgorithm, {"mutation_scale": 0.0}, "mutation_scale"),
        (GeneticAlgorithm, {"crossover_rate": -0.1}, "crossover_rate"),
        (GeneticAlgorithm, {"tournament_size": 0}, "tournament_size"),
        (SimulatedAnnealing, {"cooling": 0.0}, "cooling"),
        (SimulatedAnnealing, {"cooling": 1.1}, "cooling"),
        (SimulatedAnnealing, {"initial_temperature": -1.0}, "initial_temperature"),
        (SimulatedAnnealing, {"step_size": float("inf")}, "step_size"),
        (ParticleSwarm, {"inertia": -0.5}, "inertia"),
        (ParticleSwarm, {"max_velocity": 0.0}, "max_velocity"),
        (EchoStateNetwork, {"sparsity": 1.0}, "sparsity"),
        (EchoStateNetwork, {"spectral_radius": 0.0}, "spectral_radius"),
        (EchoStateNetwork, {"leak": 0.0}, "leak"),
        (EchoStateNetwork, {"ridge": -1.0}, "ridge"),
        (EchoStateNetwork, {"washout": -1}, "washout"),
    ],
)
def test_bad_hyper_parameters_raise(cls, kwargs, name):
    if cls is EchoStateNetwork:
        kwargs = {"input_size": 1, "reservoir_size": 4, "output_size": 1, **kwargs}
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"max_generations": 0}, ValueError, "max_generations"),
        ({"max_generations": 2.0}, TypeError, "max_generations"),
        ({"target_fitness": 0.0}, ValueError, "target_fitness"),
        ({"min_mse": -1.0}, ValueError, "min_mse"),
        ({"xs": XS[0]}, ValueError, "xs"),
        ({"xs": jnp.concatenate([XS, XS], -1)}, ValueError, "input_size"),
        ({"targets": YS[:, :-1]}, ValueError, "targets"),
        ({"targets": jnp.concatenate([YS, YS], -1)}, ValueError, "targets"),
        ({"mask": jnp.ones(XS.shape[:1])}, ValueError, "mask"),
        ({"mask": jnp.zeros(XS.shape[:2])}, ValueError, "mask"),
        ({"xs": XS.at[0, 0, 0].set(jnp.nan)}, ValueError, "NaN"),
        ({"xs": jnp.ones(XS.shape, jnp.int32)}, TypeError, "xs"),
        ({"method": "ga"}, TypeError, "method"),
        ({"cell": "elman"}, TypeError, "cell"),
    ],
)
def test_bad_evolve_arguments_raise(change, error, match):
    args = {"method": METHODS["ga"], "cell": CELL, "xs": XS, "targets": YS}
    args.update(change)
    kw = {
        k: args.pop(k)
        for k in ("max_generations", "target_fitness", "min_mse", "mask")
        if k in args
    }
    kw.setdefault("max_generations", 3)
    with pytest.raises(error, match=match):
        evolve(
            args["method"], args["cell"], args["xs"], args["targets"], key=jax.random.key(0), **kw
        )


# --- acceptance: sine next-step prediction, 8-unit Elman -------------------------------------


@pytest.mark.parametrize(
    "method",
    [GeneticAlgorithm(), SimulatedAnnealing(), ParticleSwarm()],
    ids=["ga", "sa", "pso"],
)
def test_sine_beats_predict_zero(method):
    """Issue 4 asks for 10× below the predict-zero MSE; the best of a random initial population
    already gets close to that (persistence, y_t = x_t, is 6.5×), so ask for 50× here.
    benchmarks/gradient_free_sine.py measures the full curves."""
    xs, ys = sine()
    baseline = float(jnp.mean(ys**2))
    run = evolve(
        method, CELL, xs, ys, key=jax.random.key(1), max_generations=400, min_mse=baseline / 50
    )
    assert run.stopped_by == "min_mse", run.best_mse[-1]
    assert run.best_mse[-1] <= baseline / 50


# --- echo state network ---------------------------------------------------------------------


def test_esn_reservoir_spectral_radius_and_sparsity():
    esn = EchoStateNetwork(2, 50, 1, spectral_radius=0.8, sparsity=0.9, input_scale=0.5)
    w_in, w_res = esn.reservoir(jax.random.key(0))
    assert w_in.shape == (50, 2) and w_res.shape == (50, 50)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(np.asarray(w_res)))), 0.8)
    assert 0.85 < np.mean(np.asarray(w_res) == 0) < 0.95
    assert np.max(np.abs(np.asarray(w_in))) <= 0.5


def test_esn_readout_is_numpy_ridge_closed_form():
    esn = EchoStateNetwork(2, 5, 3, ridge=0.3, washout=2, leak=0.7)
    key_x, key_y, key_r = jax.random.split(jax.random.key(4), 3)
    xs = jax.random.normal(key_x, (3, 7, 2))
    ys = jax.random.normal(key_y, (3, 7, 3))
    params = esn.fit(key_r, xs, ys)
    h = np.zeros((3, 5))
    z_all = []
    for t in range(7):
        pre = np.asarray(xs[:, t]) @ np.asarray(params.W_in).T + h @ np.asarray(params.W_res).T
        h = 0.3 * h + 0.7 * np.tanh(pre)
        z_all.append(np.concatenate([np.ones((3, 1)), np.asarray(xs[:, t]), h], axis=1))
    z_all = np.stack(z_all, 1)  # (B, T, F)
    z = z_all[:, 2:].reshape(-1, 8)
    y = np.asarray(ys)[:, 2:].reshape(-1, 3)
    want = np.linalg.solve(z.T @ z + 0.3 * np.eye(8), z.T @ y).T
    np.testing.assert_allclose(params.W_out, want, rtol=1e-10)
    pred = esn.predict(params, xs)
    assert pred.shape == (3, 7, 3)
    np.testing.assert_allclose(pred, z_all @ want.T, rtol=1e-10, atol=1e-12)


def test_esn_float32_readout_matches_float64_ridge_on_ill_conditioned_features():
    """Reservoir features are strongly correlated: here cond(ZᵀZ + λI) ≈ 6e9, which the
    normal equations cannot solve in float32 (their readout missed the float64 one by 279×
    its norm, at 2e5× the least ridge objective); the fit must still be the ridge solution,
    computed in float64 by numpy as the reference. Judged by the objective and the fitted
    values: the readout's components along the smallest singular directions are set by
    round-off in any float32 method (1.5 % of its norm here)."""
    esn = EchoStateNetwork(1, 100, 1, washout=10)
    xs, ys = sine()
    xs, ys = xs.astype(jnp.float32), ys.astype(jnp.float32)
    params = esn.fit(jax.random.key(0), xs, ys)
    assert params.W_out.dtype == jnp.float32
    z = np.asarray(esn.features(params.W_in, params.W_res, xs)[:, 10:], np.float64)
    z = z.reshape(-1, z.shape[-1])
    y = np.asarray(ys[:, 10:], np.float64).reshape(-1, 1)
    gram = z.T @ z + esn.ridge * np.eye(z.shape[1])
    assert np.linalg.cond(gram) > 1e9  # the case the normal equations fail in float32
    want = np.linalg.solve(gram, z.T @ y).T
    got = np.asarray(params.W_out, np.float64)

    def objective(w):
        return np.sum((z @ w.T - y) ** 2) + esn.ridge * np.sum(w**2)

    assert objective(got) <= 1.01 * objective(want)
    assert np.linalg.norm(z @ (got - want).T) <= 1e-4 * np.linalg.norm(z @ want.T)
    assert np.linalg.norm(got - want) <= 0.1 * np.linalg.norm(want)
    with pytest.raises(ValueError, match="mask must be >= 0"):
        esn.fit(jax.random.key(0), xs, ys, mask=-jnp.ones(xs.shape[:2]))


def test_esn_learns_sine_and_checks_shapes():
    xs, ys = sine()
    esn = EchoStateNetwork(1, 50, 1, washout=10)
    params = esn.fit(jax.random.key(0), xs, ys)
    mse = float(jnp.mean((esn.predict(params, xs)[:, 10:] - ys[:, 10:]) ** 2))
    assert mse < float(jnp.mean(ys**2)) / 100
    with pytest.raises(ValueError, match="xs"):
        esn.fit(jax.random.key(0), xs[0], ys)
    with pytest.raises(ValueError, match="targets"):
        esn.fit(jax.random.key(0), xs, ys[..., :0])
    with pytest.raises(ValueError, match="washout"):
        esn.fit(jax.random.key(0), xs[:, :10], ys[:, :10])
