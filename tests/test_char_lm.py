"""The character-level language-modelling task (``pydoc_data.topics``, bits per character)."""

import math
from pydoc_data import topics

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradalgos.tasks import CharLM, make_task
from gradalgos.tasks.char_lm import UNKNOWN, corpus, encode

TEXT = "".join(topics.topics[k] for k in sorted(topics.topics))


def _decode(ids, vocab):
    return "".join(vocab[i] for i in np.asarray(ids))


def test_split_and_vocabulary_are_fixed():
    vocab, train, test = corpus(0.1)
    cut = int(len(TEXT) * 0.9)
    assert train.size == cut and test.size == len(TEXT) - cut
    assert vocab == "".join(sorted(set(TEXT[:cut]))) + UNKNOWN
    assert _decode(train[:50], vocab) == TEXT[:50]
    known = "".join(c if c in vocab[:-1] else UNKNOWN for c in TEXT[cut:])
    assert _decode(test, vocab) == known
    assert encode("a€", vocab).tolist() == [vocab.index("a"), len(vocab) - 1]
    task = make_task("char-lm")
    assert task == CharLM() and task.input_size == task.output_size == len(vocab)


def test_batches_are_seeded_windows_of_the_text():
    task = CharLM(length=20)
    vocab, train, _ = corpus(task.test_fraction)
    a, b = task.sample(jax.random.key(1), 3), task.sample(jax.random.key(1), 3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.xs.shape == (3, 20, len(vocab)) and a.targets.shape == a.mask.shape == (3, 20)
    for i in range(3):  # inputs then targets: one window of 21 consecutive training chars
        window = _decode(jnp.argmax(a.xs[i], -1), vocab) + vocab[int(a.targets[i, -1])]
        assert window in TEXT[: train.size]
        np.testing.assert_array_equal(jnp.argmax(a.xs[i, 1:], -1), a.targets[i, :-1])
    t1, t2 = task.test_sample(jax.random.key(0), 4), task.test_sample(jax.random.key(5), 4)
    np.testing.assert_array_equal(t1.targets, t2.targets)  # a fixed test set
    s = task.stream(jax.random.key(2), 500)
    assert s.xs.shape == (500, len(vocab)) and s.targets.shape == s.mask.shape == (500,)
    np.testing.assert_array_equal(jnp.argmax(s.xs[1:], -1), s.targets[:-1])


def test_bits_per_character_hand_derived():
    task = CharLM(length=5)
    V = task.output_size
    batch = task.test_sample(None, 3)
    uniform = jnp.zeros((3, 5, V))
    assert float(task.metric(uniform, batch.targets, batch.mask)) == pytest.approx(math.log2(V))
    assert task.baseline == pytest.approx(math.log2(V))
    L = 2.0  # logit L on the right character, 0 elsewhere: p = e^L / (e^L + V − 1)
    peaked = L * jax.nn.one_hot(batch.targets, V)
    want = -math.log2(math.exp(L) / (math.exp(L) + V - 1))
    assert float(task.metric(peaked, batch.targets, batch.mask)) == pytest.approx(want, rel=1e-12)
    assert task.metric_name == "bpc" and not task.higher_is_better
    with pytest.raises(ValueError, match="test_fraction"):
        CharLM(test_fraction=1.5)
