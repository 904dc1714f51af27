"""causal_mask, padding_mask_to_attention_mask and merge_masks against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.layers import causal_mask, merge_masks, padding_mask_to_attention_mask


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _causal_reference(query_length, key_length, offset=0):
    # Query i sits at absolute position offset + i and sees keys j <= offset + i.
    i = np.arange(query_length)[:, None] + offset
    j = np.arange(key_length)[None, :]
    return j <= i


# --- causal_mask ----------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 2, 5])
def test_causal_mask_square_is_lower_triangular(length):
    mask = _np(causal_mask(length, length))
    assert mask.shape == (length, length) and mask.dtype == bool
    np.testing.assert_array_equal(mask, np.tril(np.ones((length, length), bool)))


@pytest.mark.parametrize(
    "query_length,key_length,offset",
    [(1, 6, 0), (1, 6, 3), (1, 6, 5), (2, 5, 2), (3, 8, 4), (4, 4, 0), (3, 2, 0)],
)
def test_causal_mask_with_offset(query_length, key_length, offset):
    mask = _np(causal_mask(query_length, key_length, offset=offset))
    assert mask.shape == (query_length, key_length)
    np.testing.assert_array_equal(mask, _causal_reference(query_length, key_length, offset))


def test_causal_mask_decode_step_sees_the_written_prefix():
    # A single token written at cache position 3 of a cache of 6 sees keys 0..3.
    np.testing.assert_array_equal(_np(causal_mask(1, 6, offset=3)), [[True] * 4 + [False] * 2])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_causal_mask_tensor_arguments(dtype):
    offset = tf.constant(2, dtype)
    np.testing.assert_array_equal(_np(causal_mask(2, 5, offset=offset)), _causal_reference(2, 5, 2))
    lengths = (tf.constant(3, dtype), tf.constant(4, dtype))
    np.testing.assert_array_equal(_np(causal_mask(*lengths, offset=np.int32(1))), _causal_reference(3, 4, 1))


def test_causal_mask_in_tf_function():
    scalar = tf.TensorSpec((), tf.int32)

    @tf.function(input_signature=[scalar, scalar, scalar])
    def in_graph(query_length, key_length, offset):
        return causal_mask(query_length, key_length, offset=offset)

    for t, s, offset in [(1, 4, 0), (1, 4, 3), (3, 7, 2), (5, 5, 0)]:
        actual = in_graph(tf.constant(t), tf.constant(s), tf.constant(offset)).numpy()
        np.testing.assert_array_equal(actual, _causal_reference(t, s, offset))
    assert in_graph.experimental_get_tracing_count() == 1  # one graph for every length and offset

    @tf.function
    def static_step(offset):  # the decode-step pattern: static T and S, dynamic offset
        return causal_mask(1, 6, offset=offset)

    out = static_step(tf.constant(4))
    assert tuple(out.shape) == (1, 6)
    np.testing.assert_array_equal(out.numpy(), _causal_reference(1, 6, 4))


def test_causal_mask_bad_inputs():
    with pytest.raises(TypeError, match="`query_length` must be an integer"):
        causal_mask(2.0, 3)
    with pytest.raises(TypeError, match="`key_length` must be an integer"):
        causal_mask(2, np.float32(3))
    with pytest.raises(TypeError, match="`offset` must be an integer"):
        causal_mask(2, 3, offset=1.5)
    with pytest.raises(TypeError, match="`offset` must be an integer"):
        causal_mask(2, 3, offset=tf.constant(1.0))
    with pytest.raises(TypeError, match="`query_length` must be an integer"):
        causal_mask(tf.constant(2.0), 3)
    with pytest.raises(ValueError, match="`offset` must be >= 0"):
        causal_mask(2, 3, offset=-1)
    with pytest.raises(ValueError, match="`key_length` must be >= 0"):
        causal_mask(2, np.int64(-3))


# --- padding_mask_to_attention_mask ------------------------------------------------

PADDING = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]])


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float32"])
def test_padding_mask_dtypes(dtype):
    mask = _np(padding_mask_to_attention_mask(PADDING.astype(dtype)))
    assert mask.shape == (3, 4, 4) and mask.dtype == bool
    # [B, T, S][b, t, s] = padding[b, s] for every query t.
    np.testing.assert_array_equal(mask, np.broadcast_to(PADDING[:, None, :] != 0, (3, 4, 4)))


def test_padding_mask_query_length():
    for query_length in (1, 2, 6, tf.constant(3)):
        mask = _np(padding_mask_to_attention_mask(PADDING, query_length=query_length))
        t = int(query_length)
        assert mask.shape == (3, t, 4)
        np.testing.assert_array_equal(mask, np.broadcast_to(PADDING[:, None, :] != 0, (3, t, 4)))


def test_padding_mask_with_query_padding_mask():
    query_padding = np.array([[1, 0], [1, 1], [0, 0]], "int32")
    mask = _np(padding_mask_to_attention_mask(PADDING, query_padding_mask=query_padding))
    assert mask.shape == (3, 2, 4)
    expected = (query_padding[:, :, None] != 0) & (PADDING[:, None, :] != 0)
    np.testing.assert_array_equal(mask, expected)
    assert not mask[2].any()  # padding queries attend to nothing
    # The same query length given twice is fine.
    same = padding_mask_to_attention_mask(PADDING, query_length=2, query_padding_mask=query_padding.astype(bool))
    np.testing.assert_array_equal(_np(same), expected)


def test_padding_mask_symbolic_and_in_tf_function():
    symbolic = padding_mask_to_attention_mask(keras.Input((None,), dtype="int32"), query_length=5)
    assert tuple(symbolic.shape) == (None, 5, None)

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)])
    def in_graph(padding):
        return padding_mask_to_attention_mask(padding)

    for padding in (PADDING, PADDING[:2, :3]):
        b, s = padding.shape
        np.testing.assert_array_equal(
            in_graph(tf.constant(padding, tf.int32)).numpy(), np.broadcast_to(padding[:, None, :] != 0, (b, s, s))
        )


def test_padding_mask_bad_inputs():
    with pytest.raises(ValueError, match=r"`padding_mask` must have shape \[batch, key_length\]"):
        padding_mask_to_attention_mask(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="`padding_mask` must be a bool, int or float mask"):
        padding_mask_to_attention_mask(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"`query_padding_mask` must have shape \[batch, query_length\]"):
        padding_mask_to_attention_mask(PADDING, query_padding_mask=np.ones((3,)))
    with pytest.raises(ValueError, match="`query_padding_mask` must have the batch size"):
        padding_mask_to_attention_mask(PADDING, query_padding_mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match="`query_length`=3 disagrees with `query_padding_mask`"):
        padding_mask_to_attention_mask(PADDING, query_length=3, query_padding_mask=np.ones((3, 2)))
    with pytest.raises(TypeError, match="`query_length` must be an integer"):
        padding_mask_to_attention_mask(PADDING, query_length=2.0)
    with pytest.raises(ValueError, match="`query_length` must be >= 0"):
        padding_mask_to_attention_mask(PADDING, query_length=-1)


# --- merge_masks --------------------------------------------------------------------


def test_merge_masks_none_handling():
    assert merge_masks() is None
    assert merge_masks(None, None) is None
    single = merge_masks(None, np.array([[2, 0]]), None)  # ints become bools
    assert _np(single).dtype == bool
    np.testing.assert_array_equal(_np(single), [[True, False]])


def test_merge_masks_broadcasts_and_ands():
    causal = causal_mask(4, 4)  # [T, S]
    padding = padding_mask_to_attention_mask(PADDING)  # [B, T, S]
    merged = _np(merge_masks(causal, None, padding))
    assert merged.shape == (3, 4, 4)
    expected = _causal_reference(4, 4)[None] & (PADDING[:, None, :] != 0)
    np.testing.assert_array_equal(merged, expected)
    # Order does not matter, and a per-head [B, N, T, S] mask broadcasts too.
    np.testing.assert_array_equal(_np(merge_masks(padding, causal)), expected)
    heads = np.random.default_rng(0).random((3, 2, 4, 4)) > 0.5
    merged_heads = _np(merge_masks(causal, heads.astype("float32"), np.ones((3, 1, 1, 4), bool)))
    assert merged_heads.shape == (3, 2, 4, 4)
    np.testing.assert_array_equal(merged_heads, heads & _causal_reference(4, 4))


def test_merge_masks_bad_inputs():
    with pytest.raises(ValueError, match="`masks` shapes .* do not broadcast"):
        merge_masks(causal_mask(3, 3), np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="`masks` shapes .* do not broadcast"):
        merge_masks(np.ones((2, 3, 3), bool), None, np.ones((4, 3, 3), bool))
    with pytest.raises(TypeError, match=r"`masks\[1\]` must be a bool, int or float mask"):
        merge_masks(np.ones((3, 3), bool), np.array([["a"]]))
