"""RNNEncoder and SequenceAttention: the shared layer battery, masking, bad input."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.models.rnn import RNNEncoder, SequenceAttention
from tests.test_case import run_layer_test

RNG = np.random.default_rng(0)
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], "int32")


@pytest.mark.parametrize(
    "cell, num_layers, bidirectional, merge_mode, width",
    [("lstm", 2, True, "concat", 12), ("gru", 1, True, "sum", 6), ("simple", 2, False, "concat", 6)],
)
def test_rnn_encoder_layer_battery(cell, num_layers, bidirectional, merge_mode, width):
    n = 2 if cell == "lstm" else 1
    run_layer_test(
        RNNEncoder,
        dict(units=6, cell=cell, num_layers=num_layers, bidirectional=bidirectional, merge_mode=merge_mode, dropout=0.1),
        {"inputs": RNG.standard_normal((2, 5, 4)).astype("float32"), "padding_mask": MASK},
        expected_output_shape=((2, 5, width), [(2, width)] * n),
        expected_output_dtype="float32",
    )


def test_rnn_encoder_respects_padding_mask():
    """Padded positions: zero outputs, and real outputs and final states as if the padding were cut off."""
    keras.utils.set_random_seed(0)
    encoder = RNNEncoder(units=5, cell="lstm", num_layers=2, bidirectional=True)
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    padded = x.copy()
    padded[1, 3:] = 7.0  # garbage at padded positions must not matter
    out, states = encoder(padded, padding_mask=MASK)
    short_out, short_states = encoder(x[1:, :3])
    np.testing.assert_allclose(out[1, :3], short_out[0], atol=1e-5)
    np.testing.assert_array_equal(out[1, 3:], 0.0)
    for state, short in zip(states, short_states):
        np.testing.assert_allclose(state[1], short[0], atol=1e-5)


def test_rnn_encoder_unrolled_equals_symbolic_loop():
    keras.utils.set_random_seed(0)
    x = RNG.standard_normal((2, 5, 3)).astype("float32")
    looped = RNNEncoder(units=4, cell="gru", bidirectional=True, unroll=False)
    unrolled = RNNEncoder(units=4, cell="gru", bidirectional=True, unroll=True)
    a, _ = looped(x, padding_mask=MASK)
    unrolled(x, padding_mask=MASK)
    unrolled.set_weights(looped.get_weights())
    b, _ = unrolled(x, padding_mask=MASK)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_rnn_encoder_bad_arguments():
    with pytest.raises(ValueError, match="`cell`"):
        RNNEncoder(units=4, cell="transformer")
    with pytest.raises(ValueError, match="`merge_mode`"):
        RNNEncoder(units=4, merge_mode="mul")
    with pytest.raises(TypeError, match="`units`"):
        RNNEncoder(units=4.0)
    encoder = RNNEncoder(units=4)
    with pytest.raises(ValueError, match=r"`inputs` must have shape \[batch, sequence_length, input_dim\]"):
        encoder(np.zeros((2, 5), "float32"))
    with pytest.raises(TypeError, match="`inputs` must have a floating dtype"):
        encoder(np.zeros((2, 5, 3), "int32"))
    with pytest.raises(ValueError, match="`padding_mask` must have shape"):
        encoder(np.zeros((2, 5, 3), "float32"), padding_mask=np.ones((2, 4), "int32"))


@pytest.mark.parametrize("score, units", [("dot", None), ("general", None), ("additive", 7)])
def test_sequence_attention_layer_battery(score, units):
    run_layer_test(
        SequenceAttention,
        dict(score=score, units=units),
        {
            "query": RNG.standard_normal((2, 3, 6)).astype("float32"),
            "values": RNG.standard_normal((2, 5, 6)).astype("float32"),
            "padding_mask": MASK,
        },
        expected_output_shape=((2, 3, 6), (2, 3, 5)),
        expected_output_dtype="float32",
    )


def _numpy_attention(score, layer, s, h, mask):
    if score == "dot":
        e = np.einsum("bq,btq->bt", s, h)
    elif score == "general":
        e = np.einsum("bq,qd,btd->bt", s, layer.kernel.numpy(), h)
    else:
        hidden = np.tanh(h @ layer.key_kernel.numpy() + (s @ layer.query_kernel.numpy())[:, None])
        e = hidden @ layer.score_kernel.numpy()
    e = np.where(mask > 0, e, -np.inf)
    a = np.exp(e - e.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    return np.einsum("bt,btd->bd", a, h), a


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_sequence_attention_matches_the_formulas(score):
    """One decoder step [B, Q]: the paper's formula in numpy; padded weights are 0, rows sum to 1."""
    keras.utils.set_random_seed(0)
    layer = SequenceAttention(score=score, units=4 if score == "additive" else None)
    s = RNG.standard_normal((2, 6)).astype("float32")
    h = RNG.standard_normal((2, 5, 6)).astype("float32")
    context, weights = layer(s, h, padding_mask=MASK)
    expected_context, expected_weights = _numpy_attention(score, layer, s, h, MASK)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(weights)[1, 3:], 0.0)
    # Precomputed keys give the same result (the decode loop's path).
    again, _ = layer(s, h, padding_mask=MASK, keys=layer.precompute_keys(h))
    np.testing.assert_allclose(again, context, atol=1e-6)


def test_sequence_attention_bad_arguments():
    with pytest.raises(ValueError, match="`score`"):
        SequenceAttention(score="cosine")
    with pytest.raises(ValueError, match="`units`"):
        SequenceAttention(score="dot", units=4)
    with pytest.raises(ValueError, match='score="dot" needs'):
        SequenceAttention(score="dot")(np.zeros((2, 3), "float32"), np.zeros((2, 5, 4), "float32"))
    layer = SequenceAttention(score="general")
    with pytest.raises(ValueError, match=r"`values` must have shape \[batch, sequence_length, value_dim\]"):
        layer(np.zeros((2, 3), "float32"), np.zeros((2, 5), "float32"))
    with pytest.raises(TypeError, match="`query` must have a floating dtype"):
        layer(np.zeros((2, 3), "int32"), np.zeros((2, 5, 3), "float32"))
    with pytest.raises(ValueError, match="`padding_mask` must have shape"):
        layer(np.zeros((2, 3), "float32"), np.zeros((2, 5, 3), "float32"), padding_mask=np.ones((2, 6)))
