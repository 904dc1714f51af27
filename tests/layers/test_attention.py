import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.layers import (
    causal_mask,
    merge_masks,
    padding_mask_to_attention_mask,
    scaled_dot_product_attention,
)
from tests.test_case import assert_allclose

rng = np.random.default_rng(0)


def _qkv(b=2, n=3, t=4, s=5, h=8, v=6):
    return (
        rng.standard_normal((b, n, t, h)).astype("float32"),
        rng.standard_normal((b, n, s, h)).astype("float32"),
        rng.standard_normal((b, n, s, v)).astype("float32"),
    )


def _reference(q, k, v, mask=None, bias=None, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("bnth,bnsh->bnts", q.astype(np.float64), k) * scale
    if bias is not None:
        logits = logits + bias
    if mask is not None:
        mask = np.broadcast_to(mask, logits.shape)
        logits = np.where(mask, logits, -np.inf)
    with np.errstate(invalid="ignore"):
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights = weights / weights.sum(-1, keepdims=True)
    weights = np.nan_to_num(weights)  # fully masked rows -> zeros
    return np.einsum("bnts,bnsv->bntv", weights, v), weights


@pytest.mark.parametrize("mask_shape", [None, (4, 5), (2, 4, 5), (2, 1, 4, 5), (2, 3, 4, 5)])
def test_matches_numpy(mask_shape):
    q, k, v = _qkv()
    mask = None if mask_shape is None else rng.random(mask_shape) > 0.4
    expand = mask
    if mask is not None and mask.ndim == 3:
        expand = mask[:, None]
    expected, expected_weights = _reference(q, k, v, expand)
    out, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, return_attention_scores=True)
    assert_allclose(out, expected, atol=1e-5)
    assert_allclose(weights, expected_weights, atol=1e-6)


def test_bias_and_scale():
    q, k, v = _qkv()
    bias = rng.standard_normal((1, 3, 4, 5)).astype("float32")
    expected, _ = _reference(q, k, v, bias=bias, scale=1.0)
    assert_allclose(scaled_dot_product_attention(q, k, v, bias=bias, scale=1.0), expected, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_fully_masked_rows_are_zero_not_nan(dtype):
    q, k, v = (keras.ops.cast(x, dtype) for x in _qkv())
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False  # query 1 of batch 0 may attend to nothing
    mask[1, :, 3:] = False
    out, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, return_attention_scores=True)
    out = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
    weights = keras.ops.convert_to_numpy(keras.ops.cast(weights, "float32"))
    assert keras.backend.standardize_dtype(
        scaled_dot_product_attention(q, k, v, attention_mask=mask).dtype
    ) == dtype
    assert np.all(np.isfinite(out))
    assert np.all(out[0, :, 1] == 0.0) and np.all(weights[0, :, 1] == 0.0)
    assert np.all(weights[1, :, :, 3:] == 0.0)
    tolerance = {"float32": 1e-5, "float16": 1e-2, "bfloat16": 6e-2}[dtype]
    expected, _ = _reference(*(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")) for x in (q, k, v)), mask[:, None])
    assert_allclose(out, expected, atol=tolerance * 10, rtol=tolerance)
    np.testing.assert_allclose(weights[1].sum(-1), 1.0, atol=tolerance)


def test_dropout_only_in_training_and_seeded():
    q, k, v = _qkv()
    plain = scaled_dot_product_attention(q, k, v, dropout=0.5, training=False)
    assert_allclose(plain, _reference(q, k, v)[0], atol=1e-5)
    _, w1 = scaled_dot_product_attention(
        q, k, v, dropout=0.5, training=True, seed=keras.random.SeedGenerator(3), return_attention_scores=True
    )
    _, w2 = scaled_dot_product_attention(
        q, k, v, dropout=0.5, training=True, seed=keras.random.SeedGenerator(3), return_attention_scores=True
    )
    w1, w2 = np.asarray(w1), np.asarray(w2)
    np.testing.assert_array_equal(w1, w2)
    reference = _reference(q, k, v)[1]
    kept = w1 != 0
    assert 0.3 < kept.mean() < 0.7
    assert_allclose(w1[kept], reference[kept] * 2.0, atol=1e-5)  # kept weights scaled by 1 / (1 - rate)


def test_bad_inputs():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="`query` must have shape"):
        scaled_dot_product_attention(q[0], k, v)
    with pytest.raises(TypeError, match="`key` must have a floating dtype"):
        scaled_dot_product_attention(q, k.astype("int32"), v)
    with pytest.raises(ValueError, match="same head size"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="same length S"):
        scaled_dot_product_attention(q, k, v[:, :, :3])
    with pytest.raises(ValueError, match="`attention_mask` shapes"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.ones((2, 4, 7), bool))
    with pytest.raises(ValueError, match="`attention_mask` must have shape"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.ones((5,), bool))
    with pytest.raises(TypeError, match="`attention_mask` must be a bool, int or float mask"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.array([["a"]]))


# --- masks ----------------------------------------------------------------------


def test_causal_mask_values_and_offset():
    np.testing.assert_array_equal(np.asarray(causal_mask(4, 4)), np.tril(np.ones((4, 4), bool)))
    # One decode step at position 3 of a cache of 6 sees keys 0..3.
    np.testing.assert_array_equal(np.asarray(causal_mask(1, 6, offset=3)), [[1, 1, 1, 1, 0, 0]])
    # Prefill of 2 tokens at offset 2.
    np.testing.assert_array_equal(
        np.asarray(causal_mask(2, 5, offset=tf.constant(2))), [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]
    )

    @tf.function
    def in_graph(offset):
        return causal_mask(1, 4, offset=offset)

    np.testing.assert_array_equal(in_graph(tf.constant(1)).numpy(), [[1, 1, 0, 0]])


def test_padding_mask_to_attention_mask():
    padding = np.array([[1, 1, 0], [1, 0, 0]], "int32")
    mask = np.asarray(padding_mask_to_attention_mask(padding))
    assert mask.shape == (2, 3, 3) and mask.dtype == bool
    np.testing.assert_array_equal(mask[1], [[1, 0, 0]] * 3)
    assert np.asarray(padding_mask_to_attention_mask(padding.astype(bool), query_length=2)).shape == (2, 2, 3)
    assert np.asarray(padding_mask_to_attention_mask(padding.astype("float32"))).dtype == bool
    both = np.asarray(padding_mask_to_attention_mask(padding, query_padding_mask=np.array([[1, 0], [1, 1]])))
    np.testing.assert_array_equal(both[0], [[1, 1, 0], [0, 0, 0]])


def test_merge_masks():
    assert merge_masks(None, None) is None
    causal = causal_mask(3, 3)
    padding = padding_mask_to_attention_mask(np.array([[1, 1, 0]]))
    merged = np.asarray(merge_masks(causal, None, padding))
    np.testing.assert_array_equal(merged[0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    with pytest.raises(ValueError, match="do not broadcast"):
        merge_masks(causal_mask(3, 3), np.ones((2, 3, 4), bool))


def test_mask_bad_inputs():
    with pytest.raises(TypeError, match="`query_length` must be an integer"):
        causal_mask(2.0, 3)
    with pytest.raises(ValueError, match="`offset` must be >= 0"):
        causal_mask(2, 3, offset=-1)
    with pytest.raises(ValueError, match="`padding_mask` must have shape"):
        padding_mask_to_attention_mask(np.ones((2, 3, 4)))
