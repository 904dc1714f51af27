"""Position layers against the papers' formulas (numpy loops), KerasHub and TFLite.

Covers PositionEmbedding (learned), SinusoidalPositionEncoding (Vaswani et
al. 2017), RelativePositionEmbedding (Shaw et al. 2018), RotaryEmbedding (Su
et al. 2021) and RelativePositionBias (T5, Raffel et al. 2020).
"""

import math
import os
import tempfile

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
from kerasnlp_lite.export.tflite import convert_in_subprocess, run_tflite, tflite_op_names
from tests.test_case import assert_allclose, run_layer_test

rng = np.random.default_rng(0)


def _x(*shape):
    return rng.standard_normal(shape).astype("float32")


def _int(value):
    return keras.ops.convert_to_tensor(value, "int32")


# --- sinusoidal (Vaswani et al. 2017, section 3.5) -----------------------------


def _sinusoid_reference(length, dim, start=0, wavelength=10000):
    pe = np.zeros((length, dim))
    for pos in range(length):
        for j in range(dim):
            i = j // 2  # PE(pos, 2i) = sin(...), PE(pos, 2i + 1) = cos(...)
            angle = (pos + start) / wavelength ** (2 * i / dim)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize("dim,start,wavelength", [(8, 0, 10000), (7, 3, 10000), (6, 40, 100)])
def test_sinusoidal_matches_paper_formula(dim, start, wavelength):
    layer = SinusoidalPositionEncoding(max_wavelength=wavelength)
    out = np.asarray(layer(np.zeros((2, 5, dim), "float32"), start_index=start))
    assert_allclose(out[0], _sinusoid_reference(5, dim, start, wavelength), atol=1e-5)
    assert_allclose(out[1], out[0], atol=0)
    # A tensor start index (the cache index when decoding) gives the same.
    assert_allclose(layer(np.zeros((2, 5, dim), "float32"), start_index=_int(start)), out, atol=0)


def test_sinusoidal_basics():
    run_layer_test(
        SinusoidalPositionEncoding,
        init_kwargs={"max_wavelength": 10000},
        input_data={"inputs": _x(2, 5, 8)},
        call_kwargs={"start_index": 3},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=0,
    )


# --- learned (BERT, GPT) ---------------------------------------------------------


def test_position_embedding_basics():
    run_layer_test(
        PositionEmbedding,
        init_kwargs={"max_sequence_length": 8},
        input_data={"inputs": _x(2, 5, 4)},
        expected_output_shape=(2, 5, 4),
        expected_num_trainable_weights=1,
    )


@pytest.mark.parametrize("start,length", [(0, 8), (5, 3), (2, 1)])
def test_position_embedding_start_index_slices_table(start, length):
    layer = PositionEmbedding(8)
    out = np.asarray(layer(np.zeros((2, length, 4), "float32"), start_index=start))
    table = layer.embeddings.numpy()
    np.testing.assert_array_equal(out[0], table[start : start + length])
    np.testing.assert_array_equal(out[1], table[start : start + length])
    tensor_out = layer(np.zeros((2, length, 4), "float32"), start_index=_int(start))
    np.testing.assert_array_equal(np.asarray(tensor_out), out)


# --- Shaw et al. 2018 relative positions -----------------------------------------


@pytest.mark.parametrize("query_length,key_length,offset,k", [(4, 4, 0, 2), (3, 7, 2, 1), (1, 9, 8, 3)])
def test_relative_indices_are_clipped_distances(query_length, key_length, offset, k):
    layer = RelativePositionEmbedding(max_distance=k)
    expected = np.array(
        [[np.clip(j - (i + offset), -k, k) + k for j in range(key_length)] for i in range(query_length)]
    )
    np.testing.assert_array_equal(np.asarray(layer.relative_indices(query_length, key_length, offset)), expected)


def test_relative_position_embedding_logits_with_offset():
    layer = RelativePositionEmbedding(max_distance=2)
    query = _x(1, 2, 4, 3)
    logits = np.asarray(layer(query, key_length=6, query_offset=1))
    table = layer.embeddings.numpy()
    expected = np.zeros((1, 2, 4, 6))
    for i in range(4):
        for j in range(6):
            expected[0, :, i, j] = query[0, :, i] @ table[min(max(j - (i + 1), -2), 2) + 2]
    assert_allclose(logits, expected, atol=1e-5)
    assert_allclose(layer(query, key_length=6, query_offset=_int(1)), logits, atol=0)


def test_relative_position_embedding_basics():
    run_layer_test(
        RelativePositionEmbedding,
        init_kwargs={"max_distance": 3},
        input_data={"query": _x(2, 2, 5, 4)},
        expected_output_shape=(2, 2, 5, 5),
        expected_num_trainable_weights=1,
    )


@pytest.mark.parametrize("causal", [True, False])
def test_shaw_attention_matches_numpy_reference(causal):
    layer = MultiHeadAttention(num_heads=2, relative_max_distance=2)
    x = _x(1, 5, 8)
    out = np.asarray(layer(x, use_causal_mask=causal))
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
            a_ij = a[min(max(j - i, -2), 2) + 2]
            # Shaw eq. 4: e_ij = q_i (k_j + a_ij)^T / sqrt(d_z), d_z = head size 4.
            logits[:, i, j] = np.einsum("nh,nh->n", q[:, i], k[:, j] + a_ij) / math.sqrt(4)
    if causal:
        logits = np.where(np.tril(np.ones((5, 5), bool)), logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum("nts,nsh,nhd->td", weights, v, wo) + bo
    assert_allclose(out[0], expected, atol=1e-5)


# --- rotary (Su et al. 2021) -------------------------------------------------------


def _rotary_reference(x, start=0, wavelength=10000):
    # x: [..., T, H]; "rotate half": pair i is (x[i], x[i + H/2]), angle (t + start) / w^(2i/H).
    length, dim = x.shape[-2:]
    out = np.empty(x.shape, dtype=np.float64)
    half = dim // 2
    for t in range(length):
        for i in range(half):
            theta = (t + start) / wavelength ** (2 * i / dim)
            a, b = x[..., t, i], x[..., t, i + half]
            out[..., t, i] = a * math.cos(theta) - b * math.sin(theta)
            out[..., t, i + half] = b * math.cos(theta) + a * math.sin(theta)
    return out


def test_rotary_matches_reference_in_each_layout():
    x = _x(2, 3, 5, 8)  # [B, N, T, H]
    expected = _rotary_reference(x, start=4)
    assert_allclose(RotaryEmbedding()(x, start_index=4), expected, atol=1e-5)
    assert_allclose(RotaryEmbedding()(x, start_index=_int(4)), expected, atol=1e-5)
    # [B, T, N, H] (sequence_axis=1).
    out = RotaryEmbedding(sequence_axis=1)(np.transpose(x, (0, 2, 1, 3)), start_index=4)
    assert_allclose(np.transpose(np.asarray(out), (0, 2, 1, 3)), expected, atol=1e-5)
    # Features before positions: [B, N, H, T] (sequence_axis=3, feature_axis=2).
    out = RotaryEmbedding(sequence_axis=3, feature_axis=2)(np.swapaxes(x, 2, 3), start_index=4)
    assert_allclose(np.swapaxes(np.asarray(out), 2, 3), expected, atol=1e-5)
    # A non-default wavelength.
    assert_allclose(RotaryEmbedding(max_wavelength=50)(x), _rotary_reference(x, wavelength=50), atol=1e-5)


def test_rotary_matches_keras_hub():
    import keras_hub

    x_btnh = _x(2, 7, 3, 8)
    ours = RotaryEmbedding(sequence_axis=1)(x_btnh, start_index=2)
    theirs = keras_hub.layers.RotaryEmbedding(max_wavelength=10000, sequence_axis=1, feature_axis=-1)(
        x_btnh, start_index=2
    )
    assert_allclose(ours, theirs, atol=1e-5)


def test_rotary_dot_products_depend_only_on_distance():
    q, k = _x(1, 1, 1, 16), _x(1, 1, 1, 16)
    layer = RotaryEmbedding()

    def score(m, n):
        return float(np.sum(np.asarray(layer(q, start_index=m)) * np.asarray(layer(k, start_index=n))))

    for distance in (-5, 0, 2, 9):
        scores = [score(n + distance, n) for n in (max(0, -distance), 13, 40)]
        np.testing.assert_allclose(scores, scores[0], atol=1e-4)
    # ... and does depend on it (the property is not vacuous).
    assert abs(score(3, 0) - score(0, 0)) > 1e-3


def test_rotary_basics():
    run_layer_test(
        RotaryEmbedding,
        init_kwargs={"max_wavelength": 100, "sequence_axis": 2, "feature_axis": -1},
        input_data={"inputs": _x(2, 2, 4, 6)},
        call_kwargs={"start_index": 1},
        expected_output_shape=(2, 2, 4, 6),
        expected_num_trainable_weights=0,
    )


# --- T5 bucketed bias (Raffel et al. 2020) --------------------------------------


def _t5_bucket_reference(relative_position, bidirectional, num_buckets, max_distance):
    # Independent scalar port of mesh-tensorflow's _relative_position_bucket
    # (relative_position = key - query), in float64.
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
@pytest.mark.parametrize("num_buckets,max_distance", [(32, 128), (8, 16), (64, 512), (4, 7)])
def test_t5_buckets_match_reference(bidirectional, num_buckets, max_distance):
    relative = np.arange(-3 * max_distance, 3 * max_distance + 1)
    ours = np.asarray(relative_position_bucket(relative, bidirectional, num_buckets, max_distance))
    expected = [_t5_bucket_reference(int(r), bidirectional, num_buckets, max_distance) for r in relative]
    np.testing.assert_array_equal(ours, expected)
    assert ours.min() == 0 and ours.max() == num_buckets - 1  # every bucket id in range, the last one reached
    layer = RelativePositionBias(
        num_heads=1, num_buckets=num_buckets, max_distance=max_distance, bidirectional=bidirectional
    )
    np.testing.assert_array_equal(np.asarray(layer.relative_position_bucket(relative)), ours)


def test_t5_bucket_layout():
    # Spot checks of T5's defaults, read off the formula by hand.
    def bucket(r, bidirectional):
        return int(relative_position_bucket(np.array([r]), bidirectional)[0])

    assert [bucket(r, True) for r in (0, -1, -7, 1, 7)] == [0, 1, 7, 17, 23]  # 8 exact buckets per side
    assert bucket(-128, True) == 15 and bucket(-10**6, True) == 15  # far past keys: last past bucket
    assert bucket(128, True) == 31 and bucket(10**6, True) == 31  # far future keys: last future bucket
    assert [bucket(r, False) for r in (0, -1, -15, 1, 50)] == [0, 1, 15, 0, 0]  # causal: future -> bucket 0
    assert bucket(-127, False) == 31 and bucket(-10**6, False) == 31


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bias_values_are_table_lookups(bidirectional):
    layer = RelativePositionBias(num_heads=3, num_buckets=8, max_distance=12, bidirectional=bidirectional)
    bias = np.asarray(layer(_x(2, 4, 5), key_length=20, query_offset=3))
    table = layer.embeddings.numpy()
    assert bias.shape == (1, 3, 4, 20)
    for i in range(4):
        for j in range(20):
            expected = table[_t5_bucket_reference(j - (i + 3), bidirectional, 8, 12)]
            np.testing.assert_array_equal(bias[0, :, i, j], expected)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bias_single_query_at_offset_is_a_row_of_the_full_bias(bidirectional):
    layer = RelativePositionBias(num_heads=3, bidirectional=bidirectional)
    full = np.asarray(layer(_x(1, 9, 4)))
    assert full.shape == (1, 3, 9, 9)
    for p in (0, 4, 8):
        step = np.asarray(layer(_x(1, 1, 4), key_length=9, query_offset=p))
        np.testing.assert_array_equal(step[0, :, 0], full[0, :, p])
        tensor_step = np.asarray(layer(_x(1, 1, 4), key_length=9, query_offset=_int(p)))
        np.testing.assert_array_equal(tensor_step, step)


@pytest.mark.parametrize("is_decoder", [False, True])
def test_t5_bias_matches_keras_hub(is_decoder):
    from keras_hub.src.models.t5.t5_multi_head_attention import T5MultiHeadAttention

    relative = np.arange(-300, 301)[None]
    theirs = T5MultiHeadAttention._relative_position_bucket(
        _int(relative), bidirectional=not is_decoder, num_buckets=32, max_distance=128
    )
    np.testing.assert_array_equal(np.asarray(relative_position_bucket(relative, not is_decoder)), np.asarray(theirs))

    reference = T5MultiHeadAttention(
        is_decoder=is_decoder, hidden_dim=8, key_value_dim=4, num_heads=2, dropout=0.0, use_relative_attention_bias=True
    )
    layer = RelativePositionBias(num_heads=2, bidirectional=not is_decoder)
    layer.build()
    layer.embeddings.assign(reference.relative_attention_bias.numpy())
    for query_length, key_length, offset in [(6, 6, 0), (1, 150, 140), (3, 200, 10)]:
        expected = reference.compute_bias(query_length, key_length, query_start_index=offset)
        actual = layer(_x(1, query_length, 8), key_length=key_length, query_offset=offset)
        assert_allclose(actual, expected, atol=0)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bias_basics(bidirectional):
    run_layer_test(
        RelativePositionBias,
        init_kwargs={
            "num_heads": 2,
            "num_buckets": 8,
            "max_distance": 16,
            "bidirectional": bidirectional,
            "embeddings_initializer": "glorot_uniform",
        },
        input_data={"inputs": _x(2, 5, 4)},
        expected_output_shape=(1, 2, 5, 5),
        expected_num_trainable_weights=1,
    )


# --- bad input ----------------------------------------------------------------------


def test_bad_inputs_sinusoidal():
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        SinusoidalPositionEncoding()(_x(3, 2))
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        SinusoidalPositionEncoding()(_x(1, 3, 2), start_index=-2)
    with pytest.raises(TypeError, match="`start_index` must be an integer"):
        SinusoidalPositionEncoding()(_x(1, 3, 2), start_index=1.0)
    with pytest.raises(ValueError, match="`max_wavelength` must be a number > 1"):
        SinusoidalPositionEncoding(max_wavelength=1)


def test_bad_inputs_learned():
    with pytest.raises(ValueError, match="exceed max_sequence_length=4"):
        PositionEmbedding(4)(_x(1, 3, 2), start_index=2)
    with pytest.raises(ValueError, match="exceed max_sequence_length=4"):
        PositionEmbedding(4)(_x(1, 5, 2))
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        PositionEmbedding(4)(_x(1, 3, 2), start_index=-1)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        PositionEmbedding(4)(_x(1, 3))
    with pytest.raises(ValueError, match="`max_sequence_length` must be an integer >= 1"):
        PositionEmbedding(0)
    with pytest.raises(TypeError, match="`max_sequence_length` must be an integer"):
        PositionEmbedding(4.0)


def test_bad_inputs_shaw():
    with pytest.raises(ValueError, match="`max_distance` must be an integer >= 1"):
        RelativePositionEmbedding(max_distance=0)
    with pytest.raises(ValueError, match="`query` must have shape"):
        RelativePositionEmbedding(max_distance=2)(_x(2, 3, 4))
    with pytest.raises(ValueError, match="`query_offset` must be >= 0"):
        RelativePositionEmbedding(max_distance=2)(_x(1, 2, 3, 4), query_offset=-1)
    with pytest.raises(TypeError, match="`query_offset` must be an integer"):
        RelativePositionEmbedding(max_distance=2)(_x(1, 2, 3, 4), query_offset=0.5)


def test_bad_inputs_rotary():
    with pytest.raises(ValueError, match="even static size"):
        RotaryEmbedding()(_x(1, 1, 3, 5))
    with pytest.raises(ValueError, match="`max_wavelength` must be a number > 1"):
        RotaryEmbedding(max_wavelength=0)
    with pytest.raises(ValueError, match="`start_index` must be >= 0"):
        RotaryEmbedding()(_x(1, 1, 3, 4), start_index=-1)
    with pytest.raises(TypeError, match="`start_index` must be an integer"):
        RotaryEmbedding()(_x(1, 1, 3, 4), start_index=2.0)
    with pytest.raises(TypeError, match="`inputs` must have a floating dtype"):
        RotaryEmbedding()(np.zeros((1, 1, 3, 4), "int32"))
    # Rank too small for sequence_axis=2: must not silently wrap to axis 0.
    with pytest.raises(ValueError, match="`inputs` must have an axis `sequence_axis`=2"):
        RotaryEmbedding()(_x(3, 4))
    with pytest.raises(ValueError, match="`sequence_axis` and `feature_axis` must differ"):
        RotaryEmbedding(sequence_axis=1, feature_axis=1)
    with pytest.raises(ValueError, match="name the same axis"):
        RotaryEmbedding(sequence_axis=2, feature_axis=-1)(_x(2, 3, 4))
    with pytest.raises(TypeError, match="`feature_axis` must be an int"):
        RotaryEmbedding(feature_axis=None)


def test_bad_inputs_t5_bias():
    with pytest.raises(ValueError, match="`num_buckets` must be even"):
        RelativePositionBias(num_heads=2, num_buckets=7)
    with pytest.raises(ValueError, match="`num_buckets` must be an integer >= 4"):
        RelativePositionBias(num_heads=2, num_buckets=2)  # no exact bucket per direction
    with pytest.raises(ValueError, match="`num_buckets` must be an integer >= 2"):
        RelativePositionBias(num_heads=2, num_buckets=1, bidirectional=False)
    with pytest.raises(ValueError, match="`max_distance` must exceed the exact-bucket range 8"):
        RelativePositionBias(num_heads=2, num_buckets=32, max_distance=8)
    with pytest.raises(ValueError, match="`max_distance` must be an integer >= 1"):
        RelativePositionBias(num_heads=2, max_distance=0)
    with pytest.raises(ValueError, match="`num_heads` must be an integer >= 1"):
        RelativePositionBias(num_heads=0)
    with pytest.raises(TypeError, match="`bidirectional` must be a bool"):
        RelativePositionBias(num_heads=2, bidirectional="yes")
    with pytest.raises(ValueError, match="`query_offset` must be >= 0"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), query_offset=-1)
    with pytest.raises(TypeError, match="`query_offset` must be an integer"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), query_offset=1.0)
    with pytest.raises(TypeError, match="`query_offset` must be an integer"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), query_offset=keras.ops.ones(()))
    with pytest.raises(ValueError, match="`query_offset` must be a scalar"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), query_offset=_int([1, 2]))
    with pytest.raises(ValueError, match="`key_length` must be an integer >= 1"):
        RelativePositionBias(num_heads=2)(_x(1, 2, 4), key_length=0)
    with pytest.raises(ValueError, match="`inputs` must have shape"):
        RelativePositionBias(num_heads=2)(_x(2, 4))
    with pytest.raises(ValueError, match="`num_buckets` must be even"):
        relative_position_bucket(np.arange(3), bidirectional=True, num_buckets=9)


# --- TFLite: one conversion for all five layers, positions fed as a tensor (decode style) ---

TFLITE_LAYERS = ["sinusoidal", "learned", "shaw", "rotary", "t5"]


def _tflite_model():
    """(model, inputs): one functional model with an output per layer (keyed by the names of
    TFLITE_LAYERS), so a single conversion covers all five; `index` is the cache index of decoding."""
    index = keras.Input((), batch_size=1, dtype="int32", name="index")
    offset = index[0]
    x = keras.Input((2, 7), batch_size=1, name="x")
    heads = keras.Input((2, 3, 4), batch_size=1, name="heads")  # [B, N, T, H]
    data = {"index": np.array([3], "int32"), "x": _x(1, 2, 7), "heads": _x(1, 2, 3, 4)}
    outputs = {
        # Odd width: the last cosine is dropped.
        "sinusoidal": SinusoidalPositionEncoding()(x, start_index=offset),
        "learned": PositionEmbedding(10)(x, start_index=offset),
        "shaw": RelativePositionEmbedding(max_distance=2)(heads, key_length=8, query_offset=offset),
        "rotary": RotaryEmbedding()(heads, start_index=offset),
        "t5": RelativePositionBias(num_heads=2, num_buckets=8, max_distance=16, bidirectional=False)(
            x, key_length=9, query_offset=offset
        ),
    }
    return keras.Model({"x": x, "heads": heads, "index": index}, outputs), data


@pytest.fixture(scope="module")
def tflite_result():
    """The one conversion (in a child process): op names, TFLite outputs and Keras outputs by layer."""
    model, data = _tflite_model()
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = os.path.join(tmp, "model.keras")
        tflite_path = os.path.join(tmp, "model.tflite")
        model.save(keras_path)
        convert_in_subprocess(keras_path, tflite_path)
        with open(tflite_path, "rb") as f:
            content = f.read()
    op_names = sorted(set(tflite_op_names(content)))
    lite = run_tflite(content, data)
    expected = {name: np.asarray(value) for name, value in model(data).items()}
    return op_names, lite, expected


@pytest.mark.slow
@pytest.mark.tflite
@pytest.mark.parametrize("name", TFLITE_LAYERS)
def test_tflite_parity(tflite_result, name):
    # As `run_tflite_parity_test`: builtin ops only (no Flex, no custom), same shape, max abs diff <= 1e-5.
    op_names, lite, expected = tflite_result
    flex = [op for op in op_names if op.startswith("Flex")]
    assert not flex, f"Flex ops present: {flex}"
    custom = [op for op in op_names if not op.isupper()]
    assert not custom, f"custom (non-builtin) ops present: {custom}"
    assert sorted(lite) == sorted(TFLITE_LAYERS), f"TFLite outputs {sorted(lite)}"
    ref = expected[name].astype(np.float64)
    assert lite[name].shape == ref.shape, f"TFLite shape {lite[name].shape} != Keras shape {ref.shape}"
    worst = float(np.max(np.abs(lite[name].astype(np.float64) - ref)))
    assert worst <= 1e-5, f"{name}: TFLite differs from Keras by {worst} > 1e-5"
