import keras
import numpy as np
import pytest

from kerasnlp_lite.layers import MultiHeadAttention
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _x(batch=2, length=6, dim=16):
    return rng.standard_normal((batch, length, dim)).astype("float32")


@pytest.mark.parametrize(
    "extra", [{}, {"relative_max_distance": 3}, {"rotary_max_wavelength": 10000}, {"key_dim": 3, "value_dim": 5}]
)
def test_layer_basics(extra):
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": 4, "dropout": 0.1, **extra},
        input_data={"query": _x()},
        call_kwargs={"use_causal_mask": True},
        expected_output_shape=(2, 6, 16),
        expected_num_trainable_weights=8 + (1 if "relative_max_distance" in extra else 0),
    )


def test_cross_attention_basics():
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": 2, "output_dim": 8},
        input_data={"query": _x(length=3), "value": _x(length=5, dim=12)},
        expected_output_shape=(2, 3, 8),
    )


@pytest.mark.parametrize("causal", [False, True])
def test_matches_keras_multi_head_attention(causal):
    x, context = _x(), _x(length=6)
    mask = rng.random((2, 6, 6)) > 0.3
    # Keep every row attendable: for a fully masked row Keras returns a
    # uniform average of the values, this library returns zeros (by design).
    mask |= np.eye(6, dtype=bool)
    reference = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
    expected = reference(x, context, attention_mask=mask, use_causal_mask=causal)
    layer = MultiHeadAttention(num_heads=4)
    layer(x, context)
    layer.set_weights(reference.get_weights())
    actual = layer(x, context, attention_mask=mask, use_causal_mask=causal)
    assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("sizes", [{}, {"key_dim": 3, "value_dim": 5}])
def test_fused_self_attention_projection_matches_keras(sizes):
    # Self-attention without a cache projects q, k, v with one concatenated
    # matmul (and the output with a 2-D matmul + bias_add): it must equal
    # Keras' separate projections and our own separate path (x given as value).
    x = _x()
    mask = (rng.random((2, 6, 6)) > 0.3) | np.eye(6, dtype=bool)
    reference = keras.layers.MultiHeadAttention(
        num_heads=4, key_dim=sizes.get("key_dim", 4), value_dim=sizes.get("value_dim"), bias_initializer="random_normal"
    )
    expected = reference(x, x, attention_mask=mask)
    layer = MultiHeadAttention(num_heads=4, **sizes)
    layer(x)
    layer.set_weights(reference.get_weights())
    fused = layer(x, attention_mask=mask)
    assert_allclose(fused, expected, atol=1e-5)
    assert_allclose(fused, layer(x, x, attention_mask=mask), atol=1e-6)


@pytest.mark.parametrize(
    "extra", [{}, {"relative_max_distance": 2}, {"rotary_max_wavelength": 100}]
)
def test_cache_prefill_then_steps_equals_full_pass(extra):
    layer = MultiHeadAttention(num_heads=4, **extra)
    x = _x(length=7)
    full = layer(x, use_causal_mask=True)
    empty = np.zeros((2, 4, 9, 4), "float32")  # cache longer than the sequence
    cache = (empty, empty)
    out_prefill, cache = layer(x[:, :3], use_causal_mask=True, cache=cache, cache_index=0)
    steps = [out_prefill]
    for t in range(3, 7):
        out, cache = layer(x[:, t : t + 1], use_causal_mask=True, cache=cache, cache_index=t)
        steps.append(out)
    assert_allclose(np.concatenate([np.asarray(s) for s in steps], axis=1), full, atol=1e-5)


def test_static_cross_attention_cache():
    layer = MultiHeadAttention(num_heads=2)
    query, memory = _x(length=3), _x(length=5)
    expected = layer(query, memory)
    cache = layer.project_key_value(memory)
    actual, returned = layer(query, cache=cache)
    assert_allclose(actual, expected, atol=1e-6)
    assert_allclose(returned[0], cache[0], atol=0)
    assert_allclose(returned[1], cache[1], atol=0)


def test_attention_scores_returned_and_masked():
    layer = MultiHeadAttention(num_heads=2)
    mask = np.ones((2, 6), "int32")
    mask[:, 4:] = 0
    from kerasnlp_lite.layers import padding_mask_to_attention_mask

    _, scores = layer(_x(), attention_mask=padding_mask_to_attention_mask(mask), return_attention_scores=True)
    scores = np.asarray(scores)
    assert scores.shape == (2, 2, 6, 6)
    assert np.all(scores[..., 4:] == 0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        MultiHeadAttention(num_heads=5)(_x())
    with pytest.raises(ValueError, match="`query` must have shape"):
        MultiHeadAttention(num_heads=2)(np.zeros((2, 16), "float32"))
    with pytest.raises(TypeError, match="`query` must have a floating dtype"):
        MultiHeadAttention(num_heads=2)(np.zeros((2, 3, 16), "int32"))
    with pytest.raises(ValueError, match="`attention_mask`"):
        MultiHeadAttention(num_heads=2)(_x(), attention_mask=np.ones((2, 5, 3), bool))
    with pytest.raises(ValueError, match="at most one of"):
        MultiHeadAttention(num_heads=2, relative_max_distance=4, rotary_max_wavelength=10)
    with pytest.raises(ValueError, match="`cache_index` was given without"):
        MultiHeadAttention(num_heads=2)(_x(), cache_index=0)
    with pytest.raises(ValueError, match="`num_heads` must be an integer >= 1"):
        MultiHeadAttention(num_heads=0)


@pytest.mark.slow
@pytest.mark.tflite
def test_tflite_decode_step_parity():
    step = keras.Input((1, 16), batch_size=1, name="x")
    key_cache = keras.Input((4, 8, 4), batch_size=1, name="key_cache")
    value_cache = keras.Input((4, 8, 4), batch_size=1, name="value_cache")
    index = keras.Input((), batch_size=1, dtype="int32", name="index")
    layer = MultiHeadAttention(num_heads=4, rotary_max_wavelength=10000)
    out, (new_k, new_v) = layer(step, use_causal_mask=True, cache=(key_cache, value_cache), cache_index=index[0])
    model = keras.Model(
        {"x": step, "key_cache": key_cache, "value_cache": value_cache, "index": index},
        {"output": out, "key_cache": new_k, "value_cache": new_v},
    )
    data = {
        "x": _x(1, 1),
        "key_cache": rng.standard_normal((1, 4, 8, 4)).astype("float32"),
        "value_cache": rng.standard_normal((1, 4, 8, 4)).astype("float32"),
        "index": np.array([3], "int32"),
    }
    _, op_names = run_tflite_parity_test(model, data)
    assert "DYNAMIC_UPDATE_SLICE" in op_names


@pytest.mark.parametrize("use_bias", [True, False])
def test_key_padding_mask_keeps_the_fused_projection_and_equals_zeroed_keys(use_bias):
    # Self-attention with `key_padding_mask` (one fused q/k/v matmul, padded key/value rows replaced by the
    # projection of a zero input) equals attending to an explicitly zeroed key/value input, and a NaN in a
    # padding slot stays out of the real tokens.
    from kerasnlp_lite.layers.masks import zero_padded

    layer = MultiHeadAttention(num_heads=2, key_dim=4, use_bias=use_bias, bias_initializer="random_normal")
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    x[0, 3:] = np.nan
    padding = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    mask = padding[:, None, :].astype(bool)
    fused = np.asarray(layer(x, attention_mask=mask, key_padding_mask=padding))
    zeroed = zero_padded(x, padding)
    explicit = np.asarray(layer(x, zeroed, zeroed, attention_mask=mask))
    np.testing.assert_allclose(fused[0, :3], explicit[0, :3], atol=1e-6)
    np.testing.assert_allclose(fused[1], explicit[1], atol=1e-6)
    assert np.isfinite(fused[0, :3]).all() and np.isfinite(fused[1]).all()
    with pytest.raises(ValueError, match="padding_mask"):
        layer(x, key_padding_mask=padding[:, :4])
