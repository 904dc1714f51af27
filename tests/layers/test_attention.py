"""scaled_dot_product_attention against a float64 numpy implementation of
softmax(Q K^T * scale + bias) V (Vaswani et al. 2017, eq. 1) with masking."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kerasnlp_lite.layers import scaled_dot_product_attention
from tests.test_case import assert_allclose

rng = np.random.default_rng(0)


def _qkv(b=2, n=3, t=4, s=5, h=8, v=6):
    return (
        rng.standard_normal((b, n, t, h)).astype("float32"),
        rng.standard_normal((b, n, s, h)).astype("float32"),
        rng.standard_normal((b, n, s, v)).astype("float32"),
    )


def _as_numpy(x):
    return keras.ops.convert_to_numpy(ops.cast(x, "float32")).astype(np.float64)


def _reference(q, k, v, mask=None, bias=None, scale=None):
    """float64 attention; `mask` is already broadcastable to [B, N, T, S].

    A query row with no allowed key has all-zero weights and output.
    """
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("bnth,bnsh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    allowed = np.ones(logits.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask) != 0, logits.shape)
    row_max = np.max(np.where(allowed, logits, -np.inf), axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(allowed, np.exp(logits - row_max), 0.0)
    total = exp.sum(-1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    return np.einsum("bnts,bnsv->bntv", weights, v), weights


def _to_4d(mask):
    """[T, S] and [B, T, S] masks as the [B, N, T, S] they mean."""
    if mask.ndim == 2:
        return mask[None, None]
    if mask.ndim == 3:
        return mask[:, None]
    return mask


SHAPES = [  # (B, N, T, S, H, V)
    (2, 3, 4, 5, 8, 6),
    (1, 1, 1, 7, 4, 4),  # one decode step
    (3, 2, 6, 6, 16, 8),  # self-attention
    (2, 4, 5, 2, 3, 5),  # T > S, odd head size
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("mask_rank", [None, "TS", "BTS", "B1TS", "BNTS"])
def test_matches_numpy(shape, mask_rank):
    b, n, t, s, h, v = shape
    q, k, val = _qkv(b, n, t, s, h, v)
    mask_shape = {None: None, "TS": (t, s), "BTS": (b, t, s), "B1TS": (b, 1, t, s), "BNTS": (b, n, t, s)}[mask_rank]
    mask = None if mask_shape is None else rng.random(mask_shape) > 0.4
    expected, expected_weights = _reference(q, k, val, None if mask is None else _to_4d(mask))
    out, weights = scaled_dot_product_attention(q, k, val, attention_mask=mask, return_attention_scores=True)
    assert tuple(out.shape) == (b, n, t, v) and tuple(weights.shape) == (b, n, t, s)
    assert_allclose(out, expected, atol=2e-5)
    assert_allclose(weights, expected_weights, atol=2e-6)


def test_int_and_float_masks_mean_nonzero():
    q, k, v = _qkv()
    mask = rng.random((2, 4, 5)) > 0.5
    expected = scaled_dot_product_attention(q, k, v, attention_mask=mask)
    for as_dtype in ("int32", "float32"):
        # Nonzero (here 3) means "may attend", not only 1.
        other = scaled_dot_product_attention(q, k, v, attention_mask=mask.astype(as_dtype) * 3)
        assert_allclose(other, expected, atol=0)


@pytest.mark.parametrize("bias_shape", [(2, 3, 4, 5), (1, 3, 4, 5), (2, 1, 1, 5), (4, 5), (5,)])
def test_bias_broadcast_with_mask_and_scale(bias_shape):
    q, k, v = _qkv()
    bias = rng.standard_normal(bias_shape).astype("float32")
    mask = rng.random((2, 1, 4, 5)) > 0.3
    expected, _ = _reference(q, k, v, mask, bias=bias, scale=0.7)
    actual = scaled_dot_product_attention(q, k, v, attention_mask=mask, bias=bias, scale=0.7)
    assert_allclose(actual, expected, atol=2e-5)


@pytest.mark.parametrize("scale", [1.0, 0.05, 3.0])
def test_custom_scale(scale):
    q, k, v = _qkv()
    expected, _ = _reference(q, k, v, scale=scale)
    assert_allclose(scaled_dot_product_attention(q, k, v, scale=scale), expected, atol=2e-5)
    # The default is 1 / sqrt(H), not the custom one.
    assert np.max(np.abs(np.asarray(scaled_dot_product_attention(q, k, v)) - expected)) > 1e-3


def test_default_scale_with_head_size_known_only_at_run_time():
    q, k, v = _qkv()
    spec = tf.TensorSpec((None, None, None, None), tf.float32)

    @tf.function(input_signature=[spec, spec, spec])
    def attend(q, k, v):
        return scaled_dot_product_attention(q, k, v)

    assert_allclose(attend(q, k, v), _reference(q, k, v)[0], atol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_fully_masked_rows_are_exact_zeros(dtype):
    q, k, v = (ops.cast(x, dtype) for x in _qkv())
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False  # query 1 of batch 0 may attend to nothing
    mask[1, 3] = False
    out, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, return_attention_scores=True)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    assert keras.backend.standardize_dtype(weights.dtype) == dtype
    out, weights = _as_numpy(out), _as_numpy(weights)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(weights))
    # Exactly zero: neither NaN nor the uniform average softmax would give.
    np.testing.assert_array_equal(out[0, :, 1], 0.0)
    np.testing.assert_array_equal(out[1, :, 3], 0.0)
    np.testing.assert_array_equal(weights[0, :, 1], 0.0)
    np.testing.assert_array_equal(weights[1, :, 3], 0.0)
    # The other rows are normal attention rows.
    assert np.all(np.abs(out[0, :, 0]) > 0)


def test_fully_masked_rows_have_finite_gradients():
    q, k, v = (tf.constant(x) for x in _qkv())
    mask = np.ones((2, 4, 5), bool)
    mask[0, 1] = False
    with tf.GradientTape() as tape:
        tape.watch([q, k, v])
        out = scaled_dot_product_attention(q, k, v, attention_mask=mask)
        loss = tf.reduce_sum(out**2)
    grads = tape.gradient(loss, [q, k, v])
    for grad in grads:
        assert np.all(np.isfinite(grad.numpy()))
    # A query that attends to nothing gets no gradient.
    np.testing.assert_array_equal(grads[0].numpy()[0, :, 1], 0.0)


# Low-precision tolerance relative to the float64 result on the same (rounded) inputs.
LOW_PRECISION_ATOL = {"float16": 5e-3, "bfloat16": 4e-2}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_partially_masked_rows_match_numpy_in_low_precision(dtype):
    q, k, v = (ops.cast(x, dtype) for x in _qkv(2, 3, 6, 7, 16, 8))
    mask = rng.random((2, 3, 6, 7)) > 0.5
    mask[..., 0] = True  # every row has at least one key
    out, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, return_attention_scores=True)
    expected, expected_weights = _reference(*(_as_numpy(x) for x in (q, k, v)), mask)
    atol = LOW_PRECISION_ATOL[dtype]
    np.testing.assert_allclose(_as_numpy(out), expected, atol=atol * max(1.0, np.abs(expected).max()))
    np.testing.assert_allclose(_as_numpy(weights), expected_weights, atol=atol)
    assert np.all(_as_numpy(weights)[~mask] == 0.0)


def test_large_negative_bias_keeps_weight_on_allowed_keys():
    # Every allowed logit far below -1e4: a fixed masked value of -1e4 would
    # take the whole softmax mass and leave an all-zero row.
    q, k, v = _qkv()
    bias = np.full((1, 1, 1, 5), -5e4, "float32")
    mask = np.array([[True, True, False, False, False]] * 4)
    expected, expected_weights = _reference(q, k, v, _to_4d(mask), bias=bias)
    out, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, bias=bias, return_attention_scores=True)
    # float32 logits near -5e4 are spaced 0.004 apart: hence the tolerance.
    assert_allclose(weights, expected_weights, atol=5e-3)
    assert_allclose(out, expected, atol=2e-2)
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-6)


def test_minus_inf_bias_on_a_fully_masked_row_gives_zeros():
    q, k, v = _qkv()
    bias = np.zeros((1, 1, 4, 5), "float32")
    bias[..., 0, :] = -np.inf
    mask = np.ones((4, 5), bool)
    mask[0] = False
    out = np.asarray(scaled_dot_product_attention(q, k, v, attention_mask=mask, bias=bias))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, :, 0], 0.0)


def test_attention_score_rows_sum_to_one_or_zero():
    q, k, v = _qkv(2, 2, 6, 6, 4, 4)
    mask = rng.random((2, 2, 6, 6)) > 0.6
    mask[0, 0, 2] = False
    mask[1, 1, 5] = False
    _, weights = scaled_dot_product_attention(q, k, v, attention_mask=mask, return_attention_scores=True)
    sums = np.asarray(weights).sum(-1)
    expected = mask.any(-1).astype("float32")
    np.testing.assert_allclose(sums, expected, atol=1e-6)
    assert np.all(np.asarray(weights)[~mask] == 0.0)


def test_dropout_only_in_training():
    q, k, v = _qkv()
    expected = _reference(q, k, v)[0]
    assert_allclose(scaled_dot_product_attention(q, k, v, dropout=0.5), expected, atol=2e-5)
    assert_allclose(scaled_dot_product_attention(q, k, v, dropout=0.5, training=False), expected, atol=2e-5)
    trained = scaled_dot_product_attention(q, k, v, dropout=0.5, training=True, seed=keras.random.SeedGenerator(1))
    assert np.max(np.abs(np.asarray(trained) - expected)) > 1e-2


def test_dropout_is_deterministic_given_a_seed_and_rescales_kept_weights():
    q, k, v = _qkv(2, 4, 8, 8, 4, 4)
    rate = 0.25

    def run(seed):
        return scaled_dot_product_attention(
            q, k, v, dropout=rate, training=True, seed=keras.random.SeedGenerator(seed), return_attention_scores=True
        )

    out_1, w_1 = run(3)
    out_2, w_2 = run(3)
    np.testing.assert_array_equal(np.asarray(w_1), np.asarray(w_2))
    np.testing.assert_array_equal(np.asarray(out_1), np.asarray(out_2))
    assert not np.array_equal(np.asarray(run(4)[1]), np.asarray(w_1))

    reference = _reference(q, k, v)[1]
    w_1 = np.asarray(w_1)
    kept = w_1 != 0
    assert abs(kept.mean() - (1 - rate)) < 0.06  # 512 weights
    np.testing.assert_allclose(w_1[kept], reference[kept] / (1 - rate), rtol=1e-5)
    # The output uses the dropped-out weights.
    np.testing.assert_allclose(np.asarray(out_1), np.einsum("bnts,bnsv->bntv", w_1, v), atol=2e-5)


def test_bad_inputs():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=r"`query` must have shape \[batch, num_heads, length, head_dim\]"):
        scaled_dot_product_attention(q[0], k, v)
    with pytest.raises(ValueError, match="`key` must have shape"):
        scaled_dot_product_attention(q, k[0], v)
    with pytest.raises(ValueError, match="`value` must have shape"):
        scaled_dot_product_attention(q, k, v[None])
    with pytest.raises(TypeError, match="`query` must have a floating dtype"):
        scaled_dot_product_attention(q.astype("int32"), k, v)
    with pytest.raises(TypeError, match="`key` must have a floating dtype"):
        scaled_dot_product_attention(q, k.astype("int32"), v)
    with pytest.raises(TypeError, match="`value` must have the dtype of `query`"):
        scaled_dot_product_attention(q, k, v.astype("float16"))
    with pytest.raises(ValueError, match="`query` and `key` must have the same head size"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="`key` and `value` must have the same length S"):
        scaled_dot_product_attention(q, k, v[:, :, :3])
    with pytest.raises(ValueError, match="`attention_mask` of shape .* does not broadcast"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.ones((2, 4, 7), bool))
    with pytest.raises(ValueError, match="`attention_mask` must have shape"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.ones((5,), bool))
    with pytest.raises(TypeError, match="`attention_mask` must be a bool, int or float mask"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.array([["a"]]))
    with pytest.raises(ValueError, match="`bias` of shape .* does not broadcast"):
        scaled_dot_product_attention(q, k, v, bias=np.zeros((3, 4, 4), "float32"))
    with pytest.raises(ValueError, match="`dropout` must be in"):
        scaled_dot_product_attention(q, k, v, dropout=1.0, training=True)


def test_mask_or_bias_may_not_enlarge_the_output():
    # A full-sequence [T, S] mask given with a single decode-step query used
    # to broadcast the output up to T query rows.
    q, k, v = _qkv(t=1)
    with pytest.raises(ValueError, match=r"`attention_mask` of shape \(4, 5\)"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.tril(np.ones((4, 5), bool)))
    with pytest.raises(ValueError, match=r"`attention_mask` of shape \(2, 3, 4, 5\)"):
        scaled_dot_product_attention(q, k, v, attention_mask=np.ones((2, 3, 4, 5), bool))
    with pytest.raises(ValueError, match="`bias` of shape"):
        scaled_dot_product_attention(q, k, v, bias=np.zeros((2, 3, 4, 5), "float32"))
    with pytest.raises(ValueError, match="`bias` of shape"):  # rank 5
        scaled_dot_product_attention(q, k, v, bias=np.zeros((6, 2, 3, 1, 5), "float32"))


@pytest.mark.parametrize("mask_rank", [None, "TS", "BNTS"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_single_query_reductions_match_numpy_and_the_matmuls(mask_rank, with_bias):
    """`single_query_reductions` (the export's decode steps): one query position as MUL + SUM, the same
    result as the batched matmuls, in eager mode and traced; more than one query position is unchanged."""
    from kerasnlp_lite.layers.attention import single_query_reductions

    b, n, s, h, v = 2, 3, 9, 8, 6
    q, k, val = _qkv(b, n, 1, s, h, v)
    mask = None if mask_rank is None else rng.random({"TS": (1, s), "BNTS": (b, n, 1, s)}[mask_rank]) > 0.4
    bias = rng.standard_normal((1, n, 1, s)).astype("float32") if with_bias else None
    expected, expected_weights = _reference(q, k, val, None if mask is None else _to_4d(mask), bias=bias)
    matmuls = scaled_dot_product_attention(q, k, val, attention_mask=mask, bias=bias)

    @tf.function
    def traced(q, k, val):
        with single_query_reductions():
            return scaled_dot_product_attention(q, k, val, attention_mask=mask, bias=bias, return_attention_scores=True)

    with single_query_reductions():
        eager = scaled_dot_product_attention(q, k, val, attention_mask=mask, bias=bias, return_attention_scores=True)
    for out, weights in (eager, traced(q, k, val)):
        assert tuple(out.shape) == (b, n, 1, v)
        assert_allclose(out, expected, atol=2e-5)
        assert_allclose(weights, expected_weights, atol=2e-6)
        assert_allclose(out, matmuls, atol=2e-6)
    # T > 1 inside the context: the matmul path, bit for bit.
    q4, k4, v4 = _qkv(b, n, 4, s, h, v)
    with single_query_reductions():
        inside = scaled_dot_product_attention(q4, k4, v4)
    assert_allclose(inside, scaled_dot_product_attention(q4, k4, v4), atol=0)
