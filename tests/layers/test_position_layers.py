import math

import keras
import numpy as np
import pytest

from kerasnlp_lite.layers import (
    MultiHeadAttention,
    PositionEmbedding,
    RelativePositionBias,
    RelativePositionEmbedding,
    RotaryEmbedding,
    SinusoidalPositionEncoding,
    relative_position_bucket,
)
from tests.test_case import assert_allclose, run_layer_test, run_tflite_parity_test

rng = np.random.default_rng(0)


def _x(*shape):
    return rng.standard_normal(shape).astype("float32")


# --- sinusoidal ---------------------------------------------------------------


def _sinusoid_reference(length, dim, start=0):
    pe = np.zeros((length, dim))
    for pos in range(length):
        for j in range(dim):
            i = j // 2
            angle = (pos + start) / 10000 ** (2 * i / dim)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize("dim,start", [(8, 0), (7, 3)])
def test_sinusoidal_matches_paper_formula(dim, start):
    out = SinusoidalPositionEncoding()(np.zeros((2, 5, dim), "float32"), start_index=start)
    assert_allclose(out[0], _sinusoid_reference(5, dim, start), atol=1e-5)
    assert_allclose(out[1], out[0], atol=0)


def test_sinusoidal_basics():
    run_layer_test(
        SinusoidalPositionEncoding,
        init_kwargs={"max_wavelength": 10000},
        input_data={"inputs": _x(2, 5, 8)},
        expected_output_shape=(2, 5, 8),
    )


# --- learned ------------------------------------------------------------------


def test_position_embedding_basics_and_start_index():
    run_layer_test(
        PositionEmbedding,
        init_kwargs={"max_sequence_length": 8},
        input_data={"inputs": _x(2, 5, 4)},
        expected_output_shape=(2, 5, 4),
        expected_num_trainable_weights=1,
    )
    layer = PositionEmbedding(8)
    out = np.asarray(layer(np.zeros((1, 3, 4), "float32"), start_index=5))
    np.testing.assert_array_equal(out[0], layer.embeddings.numpy()[5:8])


# --- Shaw et al. relative ----------------------------------------------------


def test_relative_position_embedding_indices_and_logits():
    layer = RelativePositionEmbedding(max_distance=2)
    query = _x(1, 2, 4, 3)
    logits = np.asarray(layer(query, key_length=6, query_offset=1))
    table = layer.embeddings.numpy()
    expected = np.zeros((1, 2, 4, 6))
    for i in range(4):
        for j in range(6):
            k = min(max(j - (i + 1), -2), 2) + 2
            expected[0, :, i, j] = query[0, :, i] @ table[k]
    assert_allclose(logits, expected, atol=1e-5)
    run_layer_test(
        RelativePositionEmbedding,
        init_kwargs={"max_distance": 3},
        input_data={"query": _x(2, 2, 5, 4)},
        expected_output_shape=(2, 2, 5, 5),
    )


def test_shaw_attention_matches_numpy_reference():
    layer = MultiHeadAttention(num_heads=2, relative_max_distance=2)
    x = _x(1, 5, 8)
    out = np.asarray(layer(x, use_causal_mask=True))
    wq, bq = layer.query_kernel.numpy(), layer.query_bias.numpy()
    wk, bk = layer.key_kernel.numpy(), layer.key_bias.numpy()
    wv, bv = layer.value_kernel.numpy(), layer.value_bias.numpy()
    wo, bo = layer.output_kernel.numpy(), layer.output_bias.numpy()
    a = layer.relative_embedding.embeddings.numpy()
    q = np.einsum("td,dnh->nth", x[0], wq) + bq[:, None]
    k = np.einsum("td,dnh->nth", x[0], wk) + bk[:, None]
    v = np.einsum("td,dnh->nth", x[0], wv) + bv[:, None]
    logits = np.zeros((2, 5, 5))
    for i in range(5):
        for j in range(5):
            rel = a[min(max(j - i, -2), 2) + 2]
            logits[:, i, j] = np.einsum("nh,nh->n", q[:, i], k[:, j] + rel) / math.sqrt(4)  # Shaw eq. 4
    logits = np.where(np.tril(np.ones((5, 5), bool)), logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum("nts,nsh,nhd->td", weights, v, wo) + bo
    assert_allclose(out[0], expected, atol=1e-5)


# --- rotary -------------------------------------------------------------------


def _rotary_reference(x, start=0, wavelength=10000):
    # x: [B, N, T, H], "rotate half" pairs (x[i], x[i + H/2]).
    _, _, length, dim = x.shape
    out = np.empty_like(x, dtype=np.float64)
    half = dim // 2
    for t in range(length):
        for i in range(half):
            theta = (t + start) / wavelength ** (2 * i / dim)
            a, b = x[..., t, i], x[..., t, i + half]
            out[..., t, i] = a * math.cos(theta) - b * math.sin(theta)
            out[..., t, i + half] = b * math.cos(theta) + a * math.sin(theta)
    return out


def test_rotary_matches_reference_and_keras_hub():
    import keras_hub

    x = _x(2, 3, 5, 8)
    layer = RotaryEmbedding()
    assert_allclose(layer(x, start_index=4), _rotary_reference(x, start=4), atol=1e-5)
    # [B, T, N, H] layout, as KerasHub uses.
    x_btnh = np.transpose(x, (0, 2, 1, 3))
    ours = RotaryEmbedding(sequence_axis=1)(x_btnh, start_index=2)
    theirs = keras_hub.layers.RotaryEmbedding(sequence_axis=1, feature_axis=-1)(x_btnh, start_index=2)
    assert_allclose(ours, theirs, atol=1e-5)


def test_rotary_dot_products_depend_only_on_distance():
    q, k = _x(1, 1, 1, 8), _x(1, 1, 1, 8)
    layer = RotaryEmbedding()
    scores = {}
    for m, n in [(3, 1), (10, 8), (7, 7), (20, 20)]:
        rq = np.asarray(layer(q, start_index=m))
        rk = np.asarray(layer(k, start_index=n))
        scores[(m, n)] = float(np.sum(rq * rk))
    assert abs(scores[(3, 1)] - scores[(10, 8)]) < 1e-4
    assert abs(scores[(7, 7)] - scores[(20, 20)]) < 1e-4


def test_rotary_basics():
    run_layer_test(
        RotaryEmbedding, init_kwargs={"max_wavelength": 100}, input_data={"inputs": _x(2, 2, 4, 6)},
        expected_output_shape=(2, 2, 4, 6),
    )


# --- T5 bias ------------------------------------------------------------------


def _t5_bucket_reference(relative_position, bidirectional, num_buckets, max_distance):
    # Independent port of mesh-tensorflow's _relative_position_bucket.
    ret = 0
    n = -relative_position
    if bidirectional:
        num_buckets //= 2
        ret += (n < 0) * num_buckets
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    val = max_exact + int(math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact))
    return ret + min(val, num_buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_buckets_match_reference(bidirectional):
    relative = np.arange(-300, 301)
    ours = np.asarray(relative_position_bucket(relative, bidirectional, 32, 128))
    expected = [_t5_bucket_reference(int(r), bidirectional, 32, 128) for r in relative]
    np.testing.assert_array_equal(ours, expected)


def test_t5_bias_matches_keras_hub_buckets_and_offset():
    from keras_hub.src.models.t5.t5_multi_head_attention import T5MultiHeadAttention

    relative = np.arange(-200, 201)[None]
    for bidirectional in (True, False):
        theirs = T5MultiHeadAttention._relative_position_bucket(
            keras.ops.convert_to_tensor(relative, "int32"), bidirectional=bidirectional, num_buckets=32, max_distance=128
        )
        np.testing.assert_array_equal(np.asarray(relative_position_bucket(relative, bidirectional)), theirs)
    layer = RelativePositionBias(num_heads=3, bidirectional=False)
    full = np.asarray(layer(_x(1, 6, 4)))
    assert full.shape == (1, 3, 6, 6)
    step = np.asarray(layer(_x(1, 1, 4), key_length=6, query_offset=4))
    assert_allclose(step[0, :, 0], full[0, :, 4], atol=0)


def test_t5_bias_basics():
    run_layer_test(
        RelativePositionBias,
        init_kwargs={"num_heads": 2, "num_buckets": 8, "max_distance": 16, "bidirectional": True},
        input_data={"inputs": _x(2, 5, 4)},
        expected_output_shape=(1, 2, 5, 5),
    )


# --- bad input ----------------------------------------------------------------


def test_bad_inputs():
    with pytest.raises(ValueError, match="exceed max_sequence_length=4"):
        PositionEmbedding(4)(_x(1, 3, 2), start_index=2)
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        PositionEmbedding(4)(_x(1, 3, 2), start_index=-1)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        SinusoidalPositionEncoding()(_x(3, 2))
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        SinusoidalPositionEncoding()(_x(1, 3, 2), start_index=-2)
    with pytest.raises(ValueError, match="even static size"):
        RotaryEmbedding()(_x(1, 1, 3, 5))
    with pytest.raises(ValueError, match="`max_wavelength` must be a number > 1"):
        RotaryEmbedding(max_wavelength=0)
    with pytest.raises(ValueError, match="`max_distance` must be an integer >= 1"):
        RelativePositionEmbedding(max_distance=0)
    with pytest.raises(ValueError, match="`query` must have shape"):
        RelativePositionEmbedding(max_distance=2)(_x(2, 3, 4))
    with pytest.raises(ValueError, match="`num_buckets` must be even"):
        RelativePositionBias(num_heads=2, num_buckets=7)
    with pytest.raises(ValueError, match="`query_offset` must be >= 0"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), query_offset=-1)
    with pytest.raises(ValueError, match="`max_sequence_length` must be an integer >= 1"):
        PositionEmbedding(0)


@pytest.mark.slow
@pytest.mark.tflite
def test_position_layers_tflite_parity():
    # One conversion for all five: each output is one layer's.
    x = keras.Input((6, 8), batch_size=1, name="x")
    heads = keras.Input((2, 6, 4), batch_size=1, name="heads")
    outputs = {
        "sinusoidal": SinusoidalPositionEncoding()(x, start_index=2),
        "learned": PositionEmbedding(10)(x, start_index=3),
        "shaw": RelativePositionEmbedding(max_distance=3)(heads, key_length=6),
        "rotary": RotaryEmbedding()(heads, start_index=5),
        "t5": RelativePositionBias(num_heads=2, num_buckets=8, max_distance=16)(x),
    }
    model = keras.Model({"x": x, "heads": heads}, outputs)
    run_tflite_parity_test(model, {"x": _x(1, 6, 8), "heads": _x(1, 2, 6, 4)})
