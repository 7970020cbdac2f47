"""Gradient-free global optimisation of a cell's weights, and an echo state network.

>>> import jax, gradalgos as ga
>>> from gradalgos.gradient_free import GeneticAlgorithm, evolve
>>> result = evolve(GeneticAlgorithm(), ga.cells.Elman(1, 8, 1), xs, targets,
...                 key=jax.random.key(0), max_generations=200, min_mse=1e-3)
"""

from gradalgos.gradient_free.annealing import AnnealingState, SimulatedAnnealing
from gradalgos.gradient_free.base import AbstractGradientFree
from gradalgos.gradient_free.esn import EchoStateNetwork, ESNParams
from gradalgos.gradient_free.evolve import EvolveResult, evolve, population_mse, sequence_mse
from gradalgos.gradient_free.genetic import GeneticAlgorithm, GeneticState
from gradalgos.gradient_free.swarm import ParticleSwarm, SwarmState

__all__ = [
    "AbstractGradientFree",
    "AnnealingState",
    "ESNParams",
    "EchoStateNetwork",
    "EvolveResult",
    "GeneticAlgorithm",
    "GeneticState",
    "ParticleSwarm",
    "SimulatedAnnealing",
    "SwarmState",
    "evolve",
    "population_mse",
    "sequence_mse",
]
