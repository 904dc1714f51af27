"""Bad input to layers and the validation helpers (issue #17): an error naming the argument, never a silent result."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import layers
from kerasnlp_lite.layers import MultiHeadAttention, TokenEmbedding, TransformerDecoderBlock, TransformerEncoderBlock
from kerasnlp_lite.layers.masks import zero_padded
from kerasnlp_lite.utils.validation import (
    assert_ids_in_range,
    check_cache_index,
    check_id_array,
    check_label_array,
    raise_input_error,
)

B, T, D, L = 2, 4, 8, 5


def _cache(heads=2, key_dim=4):
    return (np.zeros((1, heads, L, key_dim), "float32"), np.zeros((1, heads, L, key_dim), "float32"))


# --- token ids ----------------------------------------------------------------------
def test_check_id_array_refuses_floats_and_out_of_range():
    check_id_array(np.array([[0, 9]]), 10, "token_ids")  # in range: no error
    with pytest.raises(TypeError, match="`token_ids` must hold integer ids.*float64"):
        check_id_array(np.array([[1.7, 2.9]]), 10, "token_ids")
    with pytest.raises(ValueError, match=r"`segment_ids` must hold ids in \[0, 2\).*-1 at index \(0, 1\)"):
        check_id_array(np.array([[0, -1]]), 2, "segment_ids")
    with pytest.raises(ValueError, match=r"`token_ids` must hold ids in \[0, 10\).*10 at index \(1, 0\)"):
        check_id_array(tf.constant([[3], [10]]), 10, "token_ids")  # an eager tensor too


def test_check_label_array():
    check_label_array(np.array([0.0, 2.0]), 3)  # whole floats are labels Keras' sparse losses accept
    with pytest.raises(TypeError, match="`y` must hold integer labels.*1.5"):
        check_label_array(np.array([0.0, 1.5]), 3)
    with pytest.raises(ValueError, match=r"`y` must hold labels in \[0, 3\)"):
        check_label_array(np.array([0, 3]), 3)


def test_graph_assertion_becomes_a_value_error_naming_the_input():
    @tf.function
    def lookup(ids):
        return assert_ids_in_range(ids, 10, "decoder_token_ids") + 0

    np.testing.assert_array_equal(lookup(tf.constant([1, 9])), [1, 9])
    for bad in ([1, 10], [-1, 2]):
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            lookup(tf.constant(bad))
        with pytest.raises(ValueError, match=r"^`decoder_token_ids` must hold ids in \[0, 10\)"):
            raise_input_error(caught.value)
    with pytest.raises(TypeError, match="`decoder_token_ids` must hold integer ids"):
        lookup(tf.constant([1.5]))
    # An unrelated TF error is re-raised as it is.
    with pytest.raises(tf.errors.InvalidArgumentError, match="other"):
        raise_input_error(tf.errors.InvalidArgumentError(None, None, "other"))


def test_token_embedding_refuses_bad_ids_in_eager():
    embedding = TokenEmbedding(vocabulary_size=10, hidden_dim=4)
    with pytest.raises(ValueError, match="token_ids"):
        embedding(np.array([[1, -1]]))
    with pytest.raises(TypeError, match="token_ids"):
        embedding(np.array([[1.7, 2.9]]))


# --- KV cache index -------------------------------------------------------------------
@pytest.mark.parametrize("index", [L, L + 3, -1, tf.constant(L), tf.constant(-1)])
def test_cache_index_outside_the_cache_is_refused(index):
    attention = MultiHeadAttention(num_heads=2, key_dim=4)
    query = np.ones((1, 1, D), "float32")
    with pytest.raises(ValueError, match=rf"`cache_index`=-?\d+ .*cache length L={L}"):
        attention(query, cache=_cache(), cache_index=index)


def test_cache_index_with_several_tokens_must_fit():
    attention = MultiHeadAttention(num_heads=2, key_dim=4)
    query = np.ones((1, 2, D), "float32")
    _, (k, _) = attention(query, cache=_cache(), cache_index=L - 2)  # slots 3, 4: fits
    assert np.all(k.numpy()[0, 0, L - 2:] != 0) and np.all(k.numpy()[0, 0, : L - 2] == 0)
    with pytest.raises(ValueError, match=r"slots 4\.\.5.*must be in \[0, 3\]"):
        attention(query, cache=_cache(), cache_index=L - 1)
    with pytest.raises(TypeError, match="`cache_index` must be an integer"):
        attention(query, cache=_cache(), cache_index=1.0)


def test_cache_index_in_a_graph_is_left_to_the_caller():
    # A graph index (the decode loop's counter, bounded by construction) is not read; known values are.
    @tf.function
    def write(index):
        check_cache_index(index, 1, L)
        return index

    assert int(write(tf.constant(2))) == 2


def test_decoder_block_cache_index_checked():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8)
    x = np.ones((1, 1, D), "float32")
    with pytest.raises(ValueError, match="cache_index"):
        block(x, self_attention_cache=_cache(), self_attention_cache_index=L)


# --- masking: garbage at padded positions never reaches real tokens --------------------
def _padded_batch(fill):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], "int32")
    x[mask == 0] = fill
    return x, mask


@pytest.mark.parametrize("norm_first", [False, True])
def test_nan_at_padded_positions_does_not_spread_in_the_encoder_block(norm_first):
    keras.utils.set_random_seed(0)
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16, norm_first=norm_first)
    clean_x, mask = _padded_batch(0.0)
    clean = block(clean_x, padding_mask=mask).numpy()
    for fill in (np.nan, np.inf, 1e30):
        x, _ = _padded_batch(fill)
        out = block(x, padding_mask=mask).numpy()
        np.testing.assert_allclose(out[mask == 1], clean[mask == 1], atol=1e-5, err_msg=f"fill={fill}")


def test_nan_at_padded_positions_does_not_spread_in_the_decoder_block():
    keras.utils.set_random_seed(0)
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16, cross_attention=True)
    encoder_clean, encoder_mask = _padded_batch(0.0)
    decoder_clean, decoder_mask = _padded_batch(0.0)
    kwargs = dict(decoder_padding_mask=decoder_mask, encoder_padding_mask=encoder_mask)
    clean = block(decoder_clean, encoder_clean, **kwargs).numpy()
    out = block(_padded_batch(np.nan)[0], _padded_batch(np.nan)[0], **kwargs).numpy()
    np.testing.assert_allclose(out[decoder_mask == 1], clean[decoder_mask == 1], atol=1e-5)


def test_zero_padded_uses_where_not_multiply():
    x = np.array([[[1.0, 2.0], [np.nan, np.inf]]], "float32")
    np.testing.assert_array_equal(zero_padded(x, np.array([[1, 0]])).numpy(), [[[1.0, 2.0], [0.0, 0.0]]])


# --- Bad input to the small layers and functions fails with a message naming the argument (issue #17). ---

def test_relative_position_bucket_rejects_float_positions():
    with pytest.raises(TypeError, match="`relative_position` must be integer"):
        layers.relative_position_bucket(np.array([0.5, -1.5], "float32"))
    assert layers.relative_position_bucket(np.array([0, -1], "int32")).shape == (2,)


def test_gelu_rejects_a_string_tensor():
    with pytest.raises(TypeError, match="`x` must be a float tensor"):
        layers.gelu(tf.constant(["a"]))


def test_position_embedding_tensor_start_index_past_the_table():
    layer = layers.PositionEmbedding(8)
    x = np.zeros((1, 2, 4), "float32")
    layer(x)
    with pytest.raises(ValueError, match=r"`start_index` must be a start position in \[0, 7\)"):
        layer(x, start_index=tf.constant(7))
    call = tf.function(lambda i: layer(x, start_index=i))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`start_index`"):
        call(tf.constant(7))
    # The last start that fits still runs, in the same graph, and reads the last two rows.
    np.testing.assert_allclose(call(tf.constant(6))[0], layer.embeddings.numpy()[6:8])


# --- graph and XLA paths of the id / cache-index checks ----------------------------------------
@pytest.mark.parametrize("bad", [-1, 10])
def test_token_embedding_graph_asserts_and_xla_nan_rows(bad):
    layer = TokenEmbedding(vocabulary_size=10, hidden_dim=4)
    ids = tf.constant([[1, bad]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`token_ids` must be token ids in"):
        tf.function(layer)(ids)
    out = tf.function(layer, jit_compile=True)(ids).numpy()
    assert np.isfinite(out[0, 0]).all() and np.isnan(out[0, 1]).all()  # never another token's row


def test_mha_graph_cache_index_asserts_and_xla_nan():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    query = np.ones((1, 1, 8), "float32")
    layer(query, query)
    cache = (np.zeros((1, 2, 6, 4), "float32"), np.zeros((1, 2, 6, 4), "float32"))

    def step(index):
        return layer(query, cache=cache, cache_index=index, use_causal_mask=True)[0]

    with pytest.raises(tf.errors.InvalidArgumentError, match="`cache_index` must be cache slots"):
        tf.function(step)(tf.constant(6))
    assert np.isnan(tf.function(step, jit_compile=True)(tf.constant(-1)).numpy()).all()
    assert np.isfinite(tf.function(step, jit_compile=True)(tf.constant(5)).numpy()).all()


def test_encoder_block_padding_mask_of_another_length():
    block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match="`padding_mask` must have shape"):
        block(np.ones((1, 4, 8), "float32"), padding_mask=np.ones((1, 5), "int32"))
