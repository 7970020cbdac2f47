"""Gradient-free optimisers (GA, SA, PSO), ``evolve``'s stopping criteria, and the ESN."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import gradalgos as ga
from gradalgos.gradient_free import (
    AnnealingState,
    EchoStateNetwork,
    GeneticAlgorithm,
    ParticleSwarm,
    SimulatedAnnealing,
    SwarmState,
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


# --- one generation against the documented update rules --------------------------------------
# The optimisers see the problem only through ``mse_fn`` (a population (N, P) -> (N,)), so each
# step below runs on hand-made states with an ``mse_fn`` that records what it is given and
# returns chosen MSEs. Where a rule draws random numbers, the configuration makes the draws
# irrelevant (tournament of 64 among 2, rates 0 or 1), or the draws are read back from
# calls with the same key whose outputs are the draws alone (PSO), or the step is checked
# statistically on many chains or genes (fixed keys: deterministic).


def one_step(method, key, state, mse):
    """``method.step`` (jitted) with an ``mse_fn`` that returns ``mse`` (an array, or a
    function of the population): ``(new state, the population mse_fn was given)``."""
    if callable(mse):
        return _one_step(method, mse, key, state, None)
    return _one_step(method, None, key, state, jnp.asarray(mse))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _one_step(method, fn, key, state, values):
    evaluated = []

    def mse_fn(population):
        evaluated.append(population)
        return fn(population) if fn is not None else values

    new = method.step(key, state, mse_fn)
    assert len(evaluated) == 1  # one evaluation per generation
    return new, evaluated[0]


def quadratic(population):
    """A test objective: the mean square of each row."""
    return jnp.mean(population**2, axis=1)


def normal(key: int, shape) -> jax.Array:
    return jax.random.normal(jax.random.key(key), shape, jnp.float64)


def test_pso_one_step_is_the_documented_update():
    """v ← w·v + c₁ r₁ (personal − x) + c₂ r₂ (swarm best − x), x ← x + v, then personal and
    swarm bests where the new MSE is lower. r₁ and r₂ are read back from two calls with the same
    key (the draws depend on the key only): from x = v = 0 with personal best 1 and swarm best 0
    the new velocity is c₁ r₁, the other way round c₂ r₂."""
    n, p = 3, 400
    w, c1, c2 = 0.6, 1.3, 0.9
    pso = ParticleSwarm(population_size=n, inertia=w, cognitive=c1, social=c2)
    key = jax.random.key(5)
    zeros, ones = jnp.zeros((n, p)), jnp.ones((n, p))
    no_gain = jnp.full((n,), 20.0)

    def state(x, v, personal_x, best_x, personal_mse=(10.0, 10.0, 10.0), best_mse=10.0):
        personal_mse = jnp.asarray(personal_mse)
        return SwarmState(x, v, personal_x, personal_mse, best_x, jnp.asarray(best_mse))

    r1 = np.asarray(one_step(pso, key, state(zeros, zeros, ones, zeros[0]), no_gain)[0].v) / c1
    r2 = np.asarray(one_step(pso, key, state(zeros, zeros, zeros, ones[0]), no_gain)[0].v) / c2
    se = np.sqrt(1 / 12 / (n * p))  # standard error of the mean of n·p U(0, 1) draws
    for r in (r1, r2):  # U(0, 1), one per particle and weight
        assert r.min() >= 0 and r.max() < 1 and len(np.unique(r)) == r.size
        assert np.mean(r) == pytest.approx(0.5, abs=4 * se)
        assert np.std(r) == pytest.approx(np.sqrt(1 / 12), rel=0.05)
        assert abs(np.corrcoef(r[0], r[1])[0, 1]) < 4 / np.sqrt(p)  # particles differ
    assert abs(np.corrcoef(r1.ravel(), r2.ravel())[0, 1]) < 4 / np.sqrt(n * p)

    x, v, personal = normal(1, (n, p)), normal(2, (n, p)), normal(3, (n, p))
    best = normal(4, (p,))
    # Particle 0 improves on its own best, 1 does not, 2 improves and becomes the swarm's best.
    old = state(x, v, personal, best, personal_mse=(1.0, 2.0, 3.0), best_mse=0.5)
    new_mse = jnp.array([0.7, 2.5, 0.2])
    for max_velocity in (None, 0.5):
        pso_v = ParticleSwarm(n, w, c1, c2, max_velocity=max_velocity)
        want_v = w * np.asarray(v) + c1 * r1 * (personal - x) + c2 * r2 * (best - x)
        if max_velocity is not None:
            assert np.any(np.abs(want_v) > max_velocity)
            want_v = np.clip(want_v, -max_velocity, max_velocity)
        want_x = np.asarray(x) + want_v
        got, evaluated = one_step(pso_v, key, old, new_mse)
        np.testing.assert_allclose(evaluated, want_x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.x, want_x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.v, want_v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            got.personal_x, np.stack([want_x[0], personal[1], want_x[2]]), rtol=1e-12, atol=1e-12
        )
        np.testing.assert_array_equal(got.personal_mse, [0.7, 2.0, 0.2])
        np.testing.assert_allclose(got.best_x, want_x[2], rtol=1e-12, atol=1e-12)
        assert float(got.best_mse) == 0.2
    # No new position beats the swarm's best: it stays.
    got, _ = one_step(pso, key, old._replace(best_mse=jnp.asarray(0.1)), new_mse)
    np.testing.assert_array_equal(got.best_x, best)
    assert float(got.best_mse) == 0.1


def test_pso_init():
    population, mse = normal(1, (4, 3)), jnp.array([3.0, 1.0, 2.0, 4.0])
    state = ParticleSwarm(population_size=4).init(jax.random.key(0), population, mse)
    np.testing.assert_array_equal(state.v, np.zeros((4, 3)))
    np.testing.assert_array_equal(state.personal_x, population)
    np.testing.assert_array_equal(state.personal_mse, mse)
    np.testing.assert_array_equal(state.best_x, population[1])
    assert float(state.best_mse) == 1.0


def test_sa_one_step_schedules_and_certain_decisions():
    """Generation g proposes x + σ_g ε with σ_g = σ₀·decay^g, ε ~ N(0, I); a proposal whose MSE
    is not higher is accepted, one whose energy log MSE rises by 40 T_g (acceptance probability
    e⁻⁴⁰), or whose MSE is inf, is rejected; the best is the least MSE seen."""
    n, p = 4, 300
    sa = SimulatedAnnealing(n, initial_temperature=0.2, cooling=0.5, step_size=0.3, step_decay=0.8)
    g = 2
    temperature, sigma = 0.2 * 0.5**g, 0.3 * 0.8**g
    key = jax.random.key(3)
    x, mse = normal(1, (n, p)), jnp.array([1.0, 1.0, 2.0, 2.0])
    new_mse = jnp.array([0.5, 1.0, 2.0 * np.exp(40 * temperature), np.inf])
    old = AnnealingState(x, mse, jnp.asarray(g, jnp.int32), normal(2, (p,)), jnp.asarray(0.7))
    got, proposal = one_step(sa, key, old, new_mse)
    proposal = np.asarray(proposal)
    eps = (proposal - np.asarray(x)) / sigma
    assert np.mean(eps) == pytest.approx(0.0, abs=4 / np.sqrt(n * p))
    assert np.std(eps) == pytest.approx(1.0, rel=0.06)
    assert abs(np.corrcoef(eps[0], eps[1])[0, 1]) < 4 / np.sqrt(p)  # chains differ
    # The same key at generation 0: the same ε with σ₀ (the step schedule, exactly).
    _, first = one_step(sa, key, old._replace(generation=jnp.asarray(0, jnp.int32)), new_mse)
    np.testing.assert_allclose(first - x, eps * 0.3, rtol=1e-10, atol=1e-12)

    np.testing.assert_array_equal(got.x, np.stack([proposal[0], proposal[1], x[2], x[3]]))
    np.testing.assert_array_equal(got.mse, [0.5, 1.0, 2.0, 2.0])
    assert int(got.generation) == g + 1
    np.testing.assert_array_equal(got.best_x, proposal[0])
    assert float(got.best_mse) == 0.5
    got, _ = one_step(sa, key, old._replace(best_mse=jnp.asarray(0.1)), new_mse)
    np.testing.assert_array_equal(got.best_x, old.best_x)
    assert float(got.best_mse) == 0.1


def test_sa_accepts_with_the_metropolis_probability_on_log_mse():
    """4000 one-weight chains at generation 2 (T_2 = T₀·cooling²), each proposal raising the
    MSE from 2 to 2·4^{T_2}: the energy log MSE rises by T_2·ln 4, accepted with probability
    exp(−ln 4) = ¼. (With T₀ instead of T_2 it would be 0.71; with the MSE itself as the
    energy, 0.06.)"""
    n = 4000
    sa = SimulatedAnnealing(n, initial_temperature=0.2, cooling=0.5)
    temperature = 0.2 * 0.5**2
    x = normal(1, (n, 1))
    old = AnnealingState(x, jnp.full((n,), 2.0), jnp.asarray(2, jnp.int32), x[0], jnp.asarray(1.0))
    new_mse = jnp.full((n,), 2.0 * 4.0**temperature)
    got, proposal = one_step(sa, jax.random.key(8), old, new_mse)
    accepted = np.asarray(got.mse) != 2.0
    assert np.mean(accepted) == pytest.approx(0.25, abs=4 * np.sqrt(0.25 * 0.75 / n))
    np.testing.assert_array_equal(got.x, np.where(accepted[:, None], proposal, x))
    assert int(got.generation) == 3


def test_ga_one_generation_with_determined_parents():
    """N = 2, elitism 1, tournaments of 64 draws (each picks the better vector but with
    probability 2⁻⁶⁴): the new population is [best, child of best], and only the child is
    evaluated. With mutation rate 0.3, 30 % of the child's genes get N(0, scale²) added, the
    others are the parent's exactly."""
    p, scale = 2000, 0.25
    population = jnp.stack([normal(1, (p,)), 0.5 * normal(2, (p,))])  # row 1 is better
    mse = quadratic(population)
    assert mse[1] < mse[0]
    ga_ = GeneticAlgorithm(2, 1, 64, 0.0, 0.3, scale)
    state = ga_.init(jax.random.key(0), population, mse)
    got, children = one_step(ga_, jax.random.key(1), state, quadratic)
    assert children.shape == (1, p)
    child = np.asarray(children[0])
    np.testing.assert_array_equal(got.population, np.stack([population[1], child]))
    np.testing.assert_allclose(got.mse, [mse[1], quadratic(child[None])[0]], rtol=1e-15)
    change = (child - np.asarray(population[1])) / scale
    changed = change != 0
    assert np.mean(changed) == pytest.approx(0.3, abs=4 * np.sqrt(0.21 / p))
    assert np.mean(change[changed]) == pytest.approx(0.0, abs=4 / np.sqrt(0.3 * p))
    assert np.std(change[changed]) == pytest.approx(1.0, rel=0.12)
    assert float(got.best_mse) == min(float(mse[1]), float(got.mse[1]))
    np.testing.assert_array_equal(got.best_x, got.population[int(np.argmin(got.mse))])


def test_ga_elitism_and_uniform_crossover():
    """Rows of constant value (row i is i + 1 everywhere) with shuffled MSEs, elitism 2, no
    mutation, uniform random parents (tournament size 1), crossover rate ½. The two rows of
    least MSE come first, unchanged, with their MSEs; only the N − 2 children are evaluated.
    Each child is a copy of one row or (probability ½, times 99/100 that the parents differ)
    mixes the genes of two rows, each gene from either with probability ½."""
    n, p, elitism = 100, 200, 2
    population = jnp.repeat(jnp.arange(1.0, n + 1)[:, None], p, axis=1)
    mse = jnp.asarray(np.random.default_rng(1).permutation(n) + 1.0)
    ga_ = GeneticAlgorithm(n, elitism, 1, 0.5, 0.0, 0.1)
    state = ga_.init(jax.random.key(0), population, mse)
    got, children = one_step(ga_, jax.random.key(2), state, quadratic)
    elite = np.argsort(np.asarray(mse))[:elitism]
    np.testing.assert_array_equal(got.population[:elitism], population[elite])
    np.testing.assert_array_equal(got.mse[:elitism], [1.0, 2.0])
    assert children.shape == (n - elitism, p)
    np.testing.assert_array_equal(got.population[elitism:], children)
    np.testing.assert_allclose(got.mse[elitism:], quadratic(children), rtol=1e-15)
    mixed = 0
    for child in np.asarray(children):
        values, counts = np.unique(child, return_counts=True)
        assert np.all(np.isin(values, np.arange(1, n + 1))) and len(values) <= 2
        if len(values) == 2:
            mixed += 1
            assert counts[0] / p == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(p))
    assert mixed / len(children) == pytest.approx(0.5 * 0.99, abs=4 * 0.5 / np.sqrt(n))
    np.testing.assert_array_equal(got.best_x, population[elite[0]])
    assert float(got.best_mse) == 1.0


def test_ga_tournament_picks_the_least_mse_of_its_draws():
    """N = 200 one-gene vectors with MSE ranks in shuffled order, tournaments of k = 3
    uniform draws, no crossover, no mutation, no elitism: each child copies a winner, whose rank
    (0 = best) has P(rank ≥ r) = ((N − r)/N)^k. Their mean rank within 4 standard errors of the
    exact mean (≈ N/4; uniform parents would give ≈ N/2, the worst of the draws ≈ 3N/4)."""
    n, k = 200, 3
    rank = np.random.default_rng(0).permutation(n)
    population = jnp.arange(n, dtype=jnp.float64)[:, None]  # row j holds j
    ga_ = GeneticAlgorithm(n, 0, k, 0.0, 0.0, 0.1)
    state = ga_.init(jax.random.key(0), population, jnp.asarray(rank, jnp.float64))
    got, _ = one_step(ga_, jax.random.key(4), state, quadratic)
    winners = rank[np.asarray(got.population[:, 0]).astype(int)]
    r = np.arange(n)
    pmf = ((n - r) / n) ** k - ((n - r - 1) / n) ** k
    mean = np.sum(r * pmf)
    sd = np.sqrt(np.sum((r - mean) ** 2 * pmf))
    assert np.mean(winners) == pytest.approx(mean, abs=4 * sd / np.sqrt(n))


@pytest.mark.parametrize(
    "method",
    [
        GeneticAlgorithm(8, elitism=0, mutation_rate=1.0, mutation_scale=1.0),
        SimulatedAnnealing(8, initial_temperature=10.0, step_size=1.0),
        ParticleSwarm(8),
    ],
    ids=["ga", "sa", "pso"],
)
def test_best_is_the_least_mse_ever_evaluated(method):
    """After every generation, ``best_mse`` is the least MSE of every vector evaluated so far
    (the initial population included) and ``best_x`` has that MSE, in configurations where the
    current population loses its best vector (so that the best of the current population
    would not do)."""
    population = normal(1, (8, 5))
    seen = [np.asarray(quadratic(population))]
    state = method.init(jax.random.key(0), population, seen[0])
    lost = False
    for g in range(8):
        state, evaluated = one_step(method, jax.random.key(10 + g), state, quadratic)
        seen.append(np.asarray(quadratic(evaluated)))
        least = min(float(np.min(m)) for m in seen)
        assert float(state.best_mse) == pytest.approx(least, rel=1e-15)
        assert float(quadratic(state.best_x[None])[0]) == pytest.approx(least, rel=1e-14)
        lost |= float(np.min(seen[-1])) > least
    assert lost


# --- stopping criteria, determinism ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(METHODS))
def test_max_generations_and_determinism(name):
    method = METHODS[name]
    run = evolve(method, CELL, XS, YS, key=jax.random.key(2), max_generations=25)
    assert run.stopped_by == "max_generations" and run.generations == 25
    assert run.best_mse.shape == run.wall_time.shape == (25,)
    assert np.all(np.diff(run.wall_time) >= 0)  # best_mse: test_best_is_the_least_mse_ever_…
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
