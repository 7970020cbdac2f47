"""The cells every algorithm test is parametrized over (small sizes: tests check exactness).

Each entry builds a cell with input_size=3 and output_size=2 so that one data generator serves
all of them. Add every new built-in cell here.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import gradalgos as ga

CELL_CASES: dict[str, Callable[[], ga.cells.AbstractCell]] = {
    "elman-tanh": lambda: ga.cells.Elman(input_size=3, hidden_size=4, output_size=2),
    "elman-relu": lambda: ga.cells.Elman(
        input_size=3, hidden_size=4, output_size=2, activation="relu", recurrent_scale=0.9
    ),
}


def _fn_init(key):
    """Parameters of the FunctionCell case: ``h = tanh(A h + B x)``, ``y = C h``."""
    k_a, k_b, k_c = jax.random.split(key, 3)
    return {
        "A": 0.5 * jax.random.normal(k_a, (3, 3)),
        "B": jax.random.normal(k_b, (3, 3)),
        "C": jax.random.normal(k_c, (2, 3)),
    }


def _fn_initial_state():
    return jnp.zeros((3,))


def _fn_step(params, h, x):
    h = jnp.tanh(params["A"] @ h + params["B"] @ x)
    return h, params["C"] @ h


CELL_CASES.update(
    {
        "irnn": lambda: ga.cells.IRNN(input_size=3, hidden_size=4, output_size=2),
        "jordan": lambda: ga.cells.Jordan(input_size=3, hidden_size=4, output_size=2),
        "lstm": lambda: ga.cells.LSTM(input_size=3, hidden_size=3, output_size=2),
        "lstm-peepholes": lambda: ga.cells.LSTM(
            input_size=3, hidden_size=3, output_size=2, peepholes=True
        ),
        "gru": lambda: ga.cells.GRU(input_size=3, hidden_size=4, output_size=2),
        "indrnn": lambda: ga.cells.IndRNN(input_size=3, hidden_size=4, output_size=2),
        "mtrnn": lambda: ga.cells.CTRNN(
            input_size=3, output_size=2, taus=((3, 2.0), (2, 8.0)), dt=1.0
        ),
        "second-order": lambda: ga.cells.SecondOrder(input_size=3, hidden_size=3, output_size=2),
        "stack-gru-elman": lambda: ga.cells.Stack(
            (
                ga.cells.GRU(input_size=3, hidden_size=3, output_size=3),
                ga.cells.Elman(input_size=3, hidden_size=3, output_size=2),
            )
        ),
        "function": lambda: ga.cells.FunctionCell(
            _fn_step, _fn_init, _fn_initial_state, input_size=3, output_size=2
        ),
        "lru": lambda: ga.cells.LRU(input_size=3, hidden_size=3, output_size=2),
        "elementwise-lstm": lambda: ga.cells.ElementwiseLSTM(
            input_size=3, hidden_size=3, output_size=2
        ),
        # A fixed random half of W_rec (every unit hears someone; diagonal partly kept), and
        # the ring (unit i hears i and i − 1).
        "elman-sparse": lambda: ga.cells.Elman(
            input_size=3, hidden_size=4, output_size=2, density=0.5, mask_seed=2
        ),
        "elman-ring": lambda: ga.cells.Elman(input_size=3, hidden_size=4, output_size=2, ring=True),
    }
)


def shape_tree(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


def as_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def randomised(tree, key, scale=0.7):
    """Every leaf replaced by random N(0, scale²) values (non-zero biases, peepholes, masked
    weights, states)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return treedef.unflatten(
        [
            scale * jax.random.normal(k, leaf.shape, leaf.dtype)
            for k, leaf in zip(keys, leaves, strict=True)
        ]
    )
