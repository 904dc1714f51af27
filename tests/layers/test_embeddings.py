import keras
import keras_hub
import numpy as np
import pytest

from kerasnlp_lite.layers import FactorizedEmbedding, TextEmbedding, TokenEmbedding
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _ids(batch=2, length=5, vocabulary_size=11):
    return rng.integers(0, vocabulary_size, size=(batch, length)).astype("int32")


def test_token_embedding_basics_and_tied_logits():
    output = run_layer_test(
        TokenEmbedding,
        init_kwargs={"vocabulary_size": 11, "hidden_dim": 8},
        input_data={"token_ids": _ids()},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=1,
    )
    assert output.shape == (2, 5, 8)
    layer = TokenEmbedding(11, 8)
    ids = _ids()
    embedded = np.asarray(layer(ids))
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(embedded, table[ids])
    hidden = rng.standard_normal((2, 5, 8)).astype("float32")
    assert_allclose(layer.logits(hidden), hidden @ table.T, atol=1e-5)


def test_factorized_embedding_parameter_count_and_logits():
    run_layer_test(
        FactorizedEmbedding,
        init_kwargs={"vocabulary_size": 11, "embedding_dim": 4, "hidden_dim": 16},
        input_data={"token_ids": _ids()},
        expected_output_shape=(2, 5, 16),
        expected_num_trainable_weights=3,
    )
    layer = FactorizedEmbedding(30000, 128, 768)
    layer.build((None, None))
    # V*E + E*H + H (ALBERT: 30000*128 + 128*768 instead of 30000*768).
    assert layer.count_params() == 30000 * 128 + 128 * 768 + 768
    hidden = rng.standard_normal((1, 3, 128)).astype("float32")
    assert_allclose(layer.logits(hidden), hidden @ layer.token_embedding.embeddings.numpy().T, atol=1e-4)


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


def test_text_embedding_is_bert_sum_and_matches_keras_hub():
    ids, segments = _ids(), rng.integers(0, 2, size=(2, 5)).astype("int32")
    layer = TextEmbedding(11, 8, max_sequence_length=6, num_segments=2, use_layer_norm=True, layer_norm_epsilon=1e-5)
    out = np.asarray(layer(ids, segment_ids=segments))
    token = layer.token_embedding.embeddings.numpy()
    segment = layer.segment_embedding.embeddings.numpy()
    position = layer.position_embedding.embeddings.numpy()
    summed = token[ids] + segment[segments] + position[:5][None]
    mean, var = summed.mean(-1, keepdims=True), summed.var(-1, keepdims=True)
    assert_allclose(out, (summed - mean) / np.sqrt(var + 1e-5), atol=1e-5)

    # KerasHub's TokenAndPositionEmbedding is the no-segment, no-LayerNorm case.
    reference = keras_hub.layers.TokenAndPositionEmbedding(vocabulary_size=11, sequence_length=6, embedding_dim=8)
    expected = reference(ids)
    ours = TextEmbedding(11, 8, max_sequence_length=6)
    ours(ids)
    ours.token_embedding.set_weights([reference.token_embedding.get_weights()[0]])
    ours.position_embedding.set_weights([reference.position_embedding.get_weights()[0]])
    assert_allclose(ours(ids), expected, atol=1e-6)


def test_text_embedding_start_index_and_albert_projection():
    layer = TextEmbedding(11, 16, max_sequence_length=8, embedding_dim=4)
    ids = _ids(1, 8)
    full = np.asarray(layer(ids))
    step = np.asarray(layer(ids[:, 5:6], start_index=5))
    assert_allclose(step, full[:, 5:6], atol=1e-6)
    assert layer.projection.kernel.shape == (4, 16)
    assert layer.logits(np.zeros((1, 1, 4), "float32")).shape == (1, 1, 11)


def test_bad_inputs():
    with pytest.raises(TypeError, match="`token_ids` must have an integer dtype"):
        TokenEmbedding(11, 8)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"`token_ids` must be in \[0, 11\)"):
        TokenEmbedding(11, 8)(np.array([[3, 11]], "int32"))
    with pytest.raises(ValueError, match=r"`token_ids` must be in \[0, 11\)"):
        TokenEmbedding(11, 8)(np.array([[-1, 2]], "int32"))
    with pytest.raises(ValueError, match="`hidden_dim` must be an integer >= 1"):
        TokenEmbedding(11, 0)
    with pytest.raises(ValueError, match="`hidden` must have last dimension hidden_dim=8"):
        layer = TokenEmbedding(11, 8)
        layer(_ids())
        layer.logits(np.zeros((1, 2, 5), "float32"))
    with pytest.raises(ValueError, match="`segment_ids` .* is required"):
        TextEmbedding(11, 8, 6, num_segments=2)(_ids())
    with pytest.raises(ValueError, match="num_segments=0"):
        TextEmbedding(11, 8, 6)(_ids(), segment_ids=_ids(vocabulary_size=1))
    with pytest.raises(ValueError, match=r"`segment_ids` must be in \[0, 2\)"):
        TextEmbedding(11, 8, 6, num_segments=2)(_ids(), segment_ids=np.full((2, 5), 2, "int32"))
    with pytest.raises(ValueError, match="`token_ids` must have shape"):
        TextEmbedding(11, 8, 6)(np.zeros((5,), "int32"))
    with pytest.raises(ValueError, match="exceed max_sequence_length=6"):
        TextEmbedding(11, 8, 6)(_ids(), start_index=3)
    with pytest.raises(ValueError, match="`position_encoding` must be one of"):
        TextEmbedding(11, 8, 6, position_encoding="rotary")


@pytest.mark.slow
@pytest.mark.tflite
def test_text_embedding_tflite_parity():
    ids = keras.Input((5,), batch_size=1, dtype="int32", name="token_ids")
    segments = keras.Input((5,), batch_size=1, dtype="int32", name="segment_ids")
    layer = TextEmbedding(11, 16, max_sequence_length=6, num_segments=2, embedding_dim=8, use_layer_norm=True)
    model = keras.Model({"token_ids": ids, "segment_ids": segments}, layer(ids, segment_ids=segments))
    run_tflite_parity_test(model, {"token_ids": _ids(1), "segment_ids": np.array([[0, 0, 1, 1, 1]], "int32")})


@pytest.mark.slow
@pytest.mark.tflite
def test_tied_logits_tflite_parity():
    ids = keras.Input((5,), batch_size=1, dtype="int32", name="token_ids")
    embedding = TokenEmbedding(11, 8)
    model = keras.Model(ids, embedding.logits(embedding(ids)))
    run_tflite_parity_test(model, {"token_ids": _ids(1)})
