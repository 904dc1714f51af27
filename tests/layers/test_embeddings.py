import math

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.layers import FactorizedEmbedding, TextEmbedding, TokenEmbedding
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _ids(batch=2, length=5, vocabulary_size=11):
    return rng.integers(0, vocabulary_size, size=(batch, length)).astype("int32")


def _layer_norm(x, epsilon):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + epsilon)


# --- TokenEmbedding ---------------------------------------------------------------------------


def test_token_embedding_basics():
    run_layer_test(
        TokenEmbedding,
        init_kwargs={"vocabulary_size": 11, "hidden_dim": 8},
        input_data={"token_ids": _ids()},
        expected_output_shape=(2, 5, 8),
        expected_output_dtype="float32",
        expected_num_trainable_weights=1,
    )


def test_token_embedding_lookup_and_tied_logits():
    layer = TokenEmbedding(11, 8)
    hidden = rng.standard_normal((2, 5, 8)).astype("float32")
    # logits before any call builds the table (an LM head may be traced first).
    logits = layer.logits(hidden)
    table = layer.embeddings.numpy()
    # GPT: P(u) = softmax(h_n W_e^T) with the input table W_e.
    assert_allclose(logits, hidden @ table.T, atol=1e-5)
    ids = _ids()
    np.testing.assert_array_equal(np.asarray(layer(ids)), table[ids])
    np.testing.assert_array_equal(np.asarray(layer(ids.astype("int64"))), table[ids])


def test_token_embedding_mixed_precision_dtypes():
    # Lookups and logits come out in the compute dtype; the table stays float32.
    layer = TokenEmbedding(11, 8, dtype="mixed_bfloat16")
    embedded = layer(_ids())
    assert layer.embeddings.dtype == "float32"
    assert keras.backend.standardize_dtype(embedded.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(layer.logits(embedded).dtype) == "bfloat16"


def test_range_check_is_eager_only():
    layer = TokenEmbedding(11, 8)
    layer.build()
    graph_call = tf.function(layer)
    graph_call(tf.constant([[1, 2]]))  # traced: the eager check is skipped, no error for valid ids
    with pytest.raises(ValueError, match=r"`token_ids` must be in \[0, 11\), got values in \[-1, 12\]"):
        layer(np.array([[-1, 12]], "int32"))


# --- FactorizedEmbedding -----------------------------------------------------------------------


def test_factorized_embedding_basics():
    run_layer_test(
        FactorizedEmbedding,
        init_kwargs={"vocabulary_size": 11, "embedding_dim": 4, "hidden_dim": 16},
        input_data={"token_ids": _ids()},
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=3,
    )


def test_factorized_embedding_parameter_count_formula_and_logits():
    # ALBERT-base: V*E + E*H + H (the projection bias) instead of V*H.
    layer = FactorizedEmbedding(30000, 128, 768)
    layer.build()
    assert layer.count_params() == 30000 * 128 + 128 * 768 + 768

    layer = FactorizedEmbedding(11, 4, 16, kernel_initializer="random_normal")
    ids = _ids()
    out = layer(ids)
    table = layer.token_embedding.embeddings.numpy()
    kernel, bias = layer.projection.get_weights()
    assert_allclose(out, table[ids] @ kernel + bias, atol=1e-5)
    hidden_e = rng.standard_normal((2, 3, 4)).astype("float32")
    assert_allclose(layer.logits(hidden_e), hidden_e @ table.T, atol=1e-5)


# --- TextEmbedding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"num_segments": 2, "use_layer_norm": True, "dropout": 0.1},
        {"position_encoding": "sinusoidal", "scale_embeddings": True},
        {"embedding_dim": 4, "num_segments": 2, "use_layer_norm": True},
        {"position_encoding": None},
    ],
)
def test_text_embedding_basics(extra):
    data = {"token_ids": _ids()}
    if extra.get("num_segments"):
        data["segment_ids"] = rng.integers(0, 2, size=(2, 5)).astype("int32")
    run_layer_test(
        TextEmbedding,
        init_kwargs={"vocabulary_size": 11, "hidden_dim": 8, "max_sequence_length": 6, **extra},
        input_data=data,
        expected_output_shape=(2, 5, 8),
    )


def test_text_embedding_is_bert_sum_in_numpy():
    ids, segments = _ids(), rng.integers(0, 2, size=(2, 5)).astype("int32")
    layer = TextEmbedding(11, 8, max_sequence_length=6, num_segments=2, use_layer_norm=True, layer_norm_epsilon=1e-5)
    out = layer(ids, segment_ids=segments)
    token = layer.token_embedding.embeddings.numpy()
    segment = layer.segment_embedding.embeddings.numpy()
    position = layer.position_embedding.embeddings.numpy()
    # BERT: LayerNorm(token + segment + position); LayerNorm starts as the identity affine map.
    summed = token[ids] + segment[segments] + position[:5][None]
    assert_allclose(out, _layer_norm(summed, 1e-5), atol=1e-5)


def test_text_embedding_sinusoidal_scaled_in_numpy():
    layer = TextEmbedding(11, 6, max_sequence_length=10, position_encoding="sinusoidal", scale_embeddings=True)
    ids = _ids(1, 4)
    out = layer(ids, start_index=3)
    # Vaswani et al.: token embeddings * sqrt(d_model) + PE(pos) with sin/cos interleaved.
    positions = np.arange(3, 7)[:, None].astype(np.float64)
    angles = positions / 10000.0 ** (np.arange(0, 6, 2) / 6.0)
    pe = np.stack([np.sin(angles), np.cos(angles)], -1).reshape(4, 6)
    expected = layer.token_embedding.embeddings.numpy()[ids] * math.sqrt(6) + pe[None]
    assert_allclose(out, expected, atol=1e-5)


def test_text_embedding_matches_keras_hub_token_and_position_embedding():
    # GPT's h_0 = U W_e + W_p: KerasHub's TokenAndPositionEmbedding is the no-segment, no-LayerNorm case.
    ids = _ids()
    reference = keras_hub.layers.TokenAndPositionEmbedding(vocabulary_size=11, sequence_length=6, embedding_dim=8)
    expected = reference(ids)
    ours = TextEmbedding(11, 8, max_sequence_length=6)
    ours(ids)
    ours.token_embedding.set_weights(reference.token_embedding.get_weights())
    ours.position_embedding.set_weights(reference.position_embedding.get_weights())
    assert_allclose(ours(ids), expected, atol=1e-6)


def _backbone_embeddings(backbone, layer_name):
    """The sub-model of a KerasHub backbone up to its embedding block."""
    inputs = {"token_ids": backbone.input["token_ids"], "segment_ids": backbone.input["segment_ids"]}
    return keras.Model(inputs, backbone.get_layer(layer_name).output)


def test_text_embedding_matches_keras_hub_bert_embeddings():
    kwargs = {"vocabulary_size": 11, "num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}
    backbone = keras_hub.models.BertBackbone(max_sequence_length=6, **kwargs)
    reference = _backbone_embeddings(backbone, "embeddings_layer_norm")
    ours = TextEmbedding(11, 8, max_sequence_length=6, num_segments=2, use_layer_norm=True)
    ids, segments = _ids(), rng.integers(0, 2, size=(2, 5)).astype("int32")
    ours(ids, segment_ids=segments)
    for name in ("token_embedding", "segment_embedding", "position_embedding"):
        getattr(ours, name).set_weights(backbone.get_layer(name).get_weights())
    ours.layer_norm.set_weights(backbone.get_layer("embeddings_layer_norm").get_weights())
    expected = reference({"token_ids": ids, "segment_ids": segments})
    assert_allclose(ours(ids, segment_ids=segments), expected, atol=1e-5)


def test_text_embedding_matches_keras_hub_albert_embeddings():
    # ALBERT: width-E token + segment + position, LayerNorm, dropout, then the E -> H projection.
    kwargs = {"vocabulary_size": 11, "num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}
    backbone = keras_hub.models.AlbertBackbone(embedding_dim=4, max_sequence_length=6, **kwargs)
    reference = _backbone_embeddings(backbone, "embedding_projection")
    ours = TextEmbedding(11, 8, max_sequence_length=6, num_segments=2, embedding_dim=4, use_layer_norm=True)
    ids, segments = _ids(), rng.integers(0, 2, size=(2, 5)).astype("int32")
    ours(ids, segment_ids=segments)
    assert isinstance(ours.token_embedding, FactorizedEmbedding)
    ours.token_embedding.token_embedding.set_weights(backbone.get_layer("token_embedding").get_weights())
    ours.token_embedding.projection.set_weights(backbone.get_layer("embedding_projection").get_weights())
    for name in ("segment_embedding", "position_embedding"):
        getattr(ours, name).set_weights(backbone.get_layer(name).get_weights())
    ours.layer_norm.set_weights(backbone.get_layer("embeddings_layer_norm").get_weights())
    expected = reference({"token_ids": ids, "segment_ids": segments})
    assert_allclose(ours(ids, segment_ids=segments), expected, atol=1e-5)
    # The tied MLM output takes width E.
    assert tuple(ours.logits(np.zeros((1, 1, 4), "float32")).shape) == (1, 1, 11)


def test_text_embedding_start_index_matches_full_pass():
    layer = TextEmbedding(11, 16, max_sequence_length=8, embedding_dim=4)
    ids = _ids(1, 8)
    full = np.asarray(layer(ids))
    step = layer(ids[:, 5:6], start_index=5)
    assert_allclose(step, full[:, 5:6], atol=1e-6)


# --- Bad input ---------------------------------------------------------------------------------


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="`vocabulary_size` must be an integer >= 1"):
        TokenEmbedding(0, 8)
    with pytest.raises(ValueError, match="`hidden_dim` must be an integer >= 1"):
        TokenEmbedding(11, 0)
    with pytest.raises(TypeError, match="`hidden_dim` must be an integer"):
        TokenEmbedding(11, 8.0)
    with pytest.raises(ValueError, match="`embedding_dim` must be an integer >= 1"):
        FactorizedEmbedding(11, 0, 8)
    with pytest.raises(ValueError, match="`vocabulary_size` must be an integer >= 1"):
        FactorizedEmbedding(-1, 4, 8)
    with pytest.raises(ValueError, match="`max_sequence_length` must be an integer >= 1"):
        TextEmbedding(11, 8, 0)
    with pytest.raises(ValueError, match="`num_segments` must be an integer >= 0"):
        TextEmbedding(11, 8, 6, num_segments=-1)
    with pytest.raises(ValueError, match="`embedding_dim` must be an integer >= 1"):
        TextEmbedding(11, 8, 6, embedding_dim=0)
    with pytest.raises(ValueError, match="`dropout` must be in"):
        TextEmbedding(11, 8, 6, dropout=1.5)
    with pytest.raises(ValueError, match="`position_encoding` must be one of"):
        TextEmbedding(11, 8, 6, position_encoding="rotary")


def test_bad_call_inputs():
    with pytest.raises(TypeError, match="`token_ids` must have an integer dtype"):
        TokenEmbedding(11, 8)(np.zeros((2, 3), "float32"))
    with pytest.raises(TypeError, match="`token_ids` must have an integer dtype"):
        FactorizedEmbedding(11, 4, 8)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"`token_ids` must be in \[0, 11\), got values in \[3, 11\]"):
        TokenEmbedding(11, 8)(np.array([[3, 11]], "int32"))
    with pytest.raises(ValueError, match=r"`hidden` must have shape \[..., hidden_dim\] with hidden_dim=8"):
        TokenEmbedding(11, 8).logits(np.zeros((1, 2, 5), "float32"))
    with pytest.raises(TypeError, match="`hidden` must have a floating dtype"):
        TokenEmbedding(11, 8).logits(np.zeros((1, 2, 8), "int32"))
    with pytest.raises(ValueError, match=r"`hidden` must have shape \[..., embedding_dim\] with last dimension 4"):
        FactorizedEmbedding(11, 4, 8).logits(np.zeros((1, 2, 8), "float32"))

    layer = TextEmbedding(11, 8, 6, num_segments=2)
    with pytest.raises(TypeError, match="`token_ids` must have an integer dtype"):
        layer(np.zeros((2, 5), "float32"), segment_ids=_ids(vocabulary_size=2))
    with pytest.raises(ValueError, match=r"`token_ids` must have shape \[batch, sequence_length\]"):
        layer(np.zeros((5,), "int32"), segment_ids=_ids(vocabulary_size=2))
    with pytest.raises(ValueError, match="`segment_ids` .* is required: the layer has num_segments=2"):
        layer(_ids())
    with pytest.raises(TypeError, match="`segment_ids` must have an integer dtype"):
        layer(_ids(), segment_ids=np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"`segment_ids` must have the shape of `token_ids` \(2, 5\)"):
        layer(_ids(), segment_ids=_ids(length=4, vocabulary_size=2))
    with pytest.raises(ValueError, match=r"`segment_ids` must be in \[0, 2\), got values in \[0, 2\]"):
        layer(_ids(), segment_ids=np.array([[0, 1, 2, 0, 0]] * 2, "int32"))
    with pytest.raises(ValueError, match="`segment_ids` was given but the layer has num_segments=0"):
        TextEmbedding(11, 8, 6)(_ids(), segment_ids=_ids(vocabulary_size=1))
    with pytest.raises(ValueError, match=r"`start_index`=3 .* exceed max_sequence_length=6"):
        TextEmbedding(11, 8, 6)(_ids(), start_index=3)
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        TextEmbedding(11, 8, 6)(_ids(), start_index=-1)


# --- TFLite (one conversion per test; each ~6 s) -----------------------------------------------


@pytest.mark.slow
@pytest.mark.tflite
def test_token_and_factorized_embedding_tflite_parity():
    ids = keras.Input((5,), batch_size=1, dtype="int32", name="token_ids")
    token = TokenEmbedding(11, 8)
    factorized = FactorizedEmbedding(11, 4, 16, kernel_initializer="random_normal")
    outputs = {
        "tied_logits": token.logits(token(ids)),
        "factorized": factorized(ids),
        "factorized_logits": factorized.logits(keras.layers.Dense(4)(factorized(ids))),
    }
    model = keras.Model({"token_ids": ids}, outputs)
    run_tflite_parity_test(model, {"token_ids": _ids(1)})


@pytest.mark.slow
@pytest.mark.tflite
def test_text_embedding_tflite_parity():
    ids = keras.Input((5,), batch_size=1, dtype="int32", name="token_ids")
    segments = keras.Input((5,), batch_size=1, dtype="int32", name="segment_ids")
    layer = TextEmbedding(11, 16, max_sequence_length=6, num_segments=2, embedding_dim=8, use_layer_norm=True)
    model = keras.Model({"token_ids": ids, "segment_ids": segments}, layer(ids, segment_ids=segments))
    run_tflite_parity_test(model, {"token_ids": _ids(1), "segment_ids": np.array([[0, 0, 1, 1, 1]], "int32")})
