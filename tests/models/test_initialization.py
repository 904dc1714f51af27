"""Random initialization: no two weights of a model start with the same random values.

A Keras 3 initializer made without a seed fixes one when it is created, so one
instance shared by several weights (query, key and value kernels; token,
segment and position tables) would give them identical or identically-started
values (`kerasnlp_lite.utils.validation.fresh_initializer`).
"""

import keras
import numpy as np
import pytest

from kerasnlp_lite.models import AlbertBackbone, BertBackbone, GPTBackbone, RobertaBackbone, TextClassifier
from kerasnlp_lite.utils.validation import fresh_initializer

SMALL = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)


def _random_weights(model):
    """Flattened values of the random weights (not biases, which start constant or as LSTM's 0/1 pattern)."""
    return {
        w.path: np.asarray(w.numpy()).reshape(-1)
        for w in model.weights
        if np.ptp(w.numpy()) > 0 and not w.path.endswith("bias")
    }


def _rnn_encoder_and_attention():
    from kerasnlp_lite.models.rnn import RNNEncoder, SequenceAttention

    inputs = keras.Input((5, 8))
    states, _ = RNNEncoder(cell="lstm", units=8, num_layers=2, bidirectional=True)(inputs)
    context = SequenceAttention(score="additive", units=16)(states[:, :1], states)
    return keras.Model(inputs, context)


@pytest.mark.parametrize(
    "build",
    [
        lambda: BertBackbone(**SMALL),
        lambda: AlbertBackbone(**SMALL, embedding_dim=8),
        lambda: RobertaBackbone(**SMALL),
        lambda: GPTBackbone(**SMALL),
        lambda: TextClassifier(BertBackbone(**SMALL), num_classes=3),
        _rnn_encoder_and_attention,
    ],
    ids=["bert", "albert", "roberta", "gpt", "classifier", "rnn"],
)
def test_no_two_weights_share_their_first_random_values(build):
    keras.utils.set_random_seed(0)
    weights = _random_weights(build())
    assert len(weights) >= 8
    heads = {}
    for path, values in weights.items():
        key = tuple(np.round(values[:8], 7))
        assert key not in heads, f"{path} starts with the same values as {heads[key]}"
        heads[key] = path


def test_fresh_initializer_keeps_explicit_seeds():
    unseeded = keras.initializers.RandomNormal(stddev=0.02)
    a, b = fresh_initializer(unseeded), fresh_initializer(unseeded)
    assert not np.allclose(np.asarray(a((4, 4))), np.asarray(b((4, 4))))
    assert a.get_config() == unseeded.get_config()  # same distribution, same (absent) seed in the config
    seeded = keras.initializers.RandomNormal(stddev=0.02, seed=3)
    assert fresh_initializer(seeded) is seeded
    assert fresh_initializer("zeros").__class__ is keras.initializers.Zeros
