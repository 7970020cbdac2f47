"""The stochastic methods' noise: fair, independent signs and a fresh key from one call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradalgos.algorithms.noise import signs_and_next_key


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_signs_are_fair_and_independent_along_the_key_chain(impl):
    key = jax.random.key(7, impl=impl)

    def chain(key, _):
        signs, key = signs_and_next_key(key, (64,), jnp.float64)
        return key, signs

    _, signs = jax.lax.scan(chain, key, None, length=400)  # (400, 64)
    signs = np.asarray(signs)
    assert set(np.unique(signs)) == {-1.0, 1.0}
    N = signs.size
    assert abs(signs.mean()) < 4 / np.sqrt(N)  # fair coin: sd of the mean is 1/√N
    lag1 = np.mean(signs[1:] * signs[:-1])  # step t against step t+1, same entry
    assert abs(lag1) < 4 / np.sqrt(N - 64)
    across = np.mean(signs[:, 1:] * signs[:, :-1])  # neighbouring entries of one draw
    assert abs(across) < 4 / np.sqrt(N - 400)


def test_same_key_same_signs_and_a_new_key():
    key = jax.random.key(3)
    a, next_a = signs_and_next_key(key, (5, 2), jnp.float32)
    b, next_b = signs_and_next_key(key, (5, 2), jnp.float32)
    assert a.shape == (5, 2) and a.dtype == jnp.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jax.random.key_data(next_a), jax.random.key_data(next_b))
    assert not np.array_equal(jax.random.key_data(next_a), jax.random.key_data(key))
